"""Write ``prediction.json`` and ``model_info.json`` again, from a registered model.

``python -m serving.examples [--model-uri URI] [--out DIR]`` scores ``metastasis_suspected.json``
the way ``POST /v1/predict`` does and describes the model the way ``GET /v1/model`` does, with the
service's default settings (not this shell's ``REDFLAG_*`` variables).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from features.loader import LoadedModel, ModelUnavailableError, load_model
from features.record import CaseRecord
from features.risk import DEFAULT_RISK_THRESHOLDS
from features.store import default_model_uri, tracking_uri
from serving.config import Settings
from serving.examples import METASTASIS_SUSPECTED
from serving.responses import explain_cases
from serving.routes.model import describe_model

PACKAGE_DIR = Path(__file__).resolve().parent
# A fixed request id: regenerating from the same model writes the same prediction.json.
REQUEST_ID = "3f2c9a7e5b1d4c08a6e2f0b9d8c7a615"
# model_info.json keeps a few of the run's params and metrics and the first features, so that the
# OpenAPI document stays readable; GET /v1/model answers them all.
EXAMPLE_PARAMS = ("model", "n_cases", "seed", "setting")
EXAMPLE_METRICS = (
    "test_auroc",
    "test_auprc",
    "test_brier",
    "test_log_loss",
    "test_calibration_slope",
    "test_calibration_intercept",
    "test_n_cases",
    "test_n_positive",
)
EXAMPLE_FEATURES = 2


def prediction_example(model: LoadedModel) -> dict[str, Any]:
    """What ``POST /v1/predict`` answers for ``METASTASIS_SUSPECTED`` (default thresholds)."""
    case = CaseRecord.model_validate(METASTASIS_SUSPECTED)
    (result,) = explain_cases(model, [case], DEFAULT_RISK_THRESHOLDS)
    return {"request_id": REQUEST_ID, **result}


def model_info_example(model: LoadedModel) -> dict[str, Any]:
    """What ``GET /v1/model`` answers under the default settings, cut to a few entries."""
    # model_construct: the declared defaults, without reading REDFLAG_* from the environment.
    info = describe_model(model, Settings.model_construct())
    params, metrics = info["training"]["params"], info["metrics"]
    info["training"]["params"] = {key: params[key] for key in EXAMPLE_PARAMS if key in params}
    info["metrics"] = {key: metrics[key] for key in EXAMPLE_METRICS if key in metrics}
    info["features"] = info["features"][:EXAMPLE_FEATURES]
    return info


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON with a trailing newline; readers never see half a file."""
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def regenerate(model_uri: str, out: Path, store_uri: str | None = None) -> list[Path]:
    """Load ``model_uri`` from ``store_uri`` (default: the configured store); write both files."""
    model = load_model(model_uri, store_uri or tracking_uri())
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, payload in (
        ("prediction.json", prediction_example(model)),
        ("model_info.json", model_info_example(model)),
    ):
        write_json(out / name, payload)
        written.append(out / name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``python -m serving.examples``."""
    parser = argparse.ArgumentParser(
        prog="python -m serving.examples",
        description="Regenerate the response examples (prediction.json, model_info.json) "
        "from a registered model.",
    )
    parser.add_argument(
        "--model-uri",
        default=default_model_uri(),
        help="models:/name@alias, models:/name/version or runs:/id/model (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PACKAGE_DIR,
        help="directory to write into (default: the serving.examples package)",
    )
    args = parser.parse_args(argv)
    try:
        written = regenerate(args.model_uri, args.out)
    except ModelUnavailableError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    return 0
