"""The drift reference logged with every trained model, and ``redflag drift`` on a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.drift import (
    DEFAULT_MIN_CASES,
    PROFILE_ARTIFACT,
    PROFILE_MAX_CASES,
    compare_with_profile,
    load_profile,
    reference_profile,
)
from features.model import RiskPipeline
from features.scoring import score_cases
from features.store import tracking_uri
from training.site.inputs import SiteError, load_site_model


def profile_of(pipeline: RiskPipeline, cases: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """The reference profile of ``cases`` (a seeded sample of at most 200,000) under
    ``pipeline``: engineered values through the scoring core, log-odds at its own prevalence."""
    if len(cases) > PROFILE_MAX_CASES:
        cases = cases.sample(PROFILE_MAX_CASES, random_state=seed)
    matrix = score_cases(pipeline, cases).values
    return reference_profile(matrix, pipeline.classifier.decision_function(matrix))


def log_reference_profile(pipeline: RiskPipeline, cases: pd.DataFrame, seed: int = 0) -> None:
    """Log the profile of ``cases`` as the active run's ``drift_reference.json``."""
    import mlflow

    mlflow.log_dict(profile_of(pipeline, cases, seed), PROFILE_ARTIFACT)


def drift_of_file(path: Path, model_uri: str | None, min_cases: int = DEFAULT_MIN_CASES) -> Any:
    """The cases of ``path`` (labels allowed, not needed) against the model's reference."""
    from training.data import load_unlabelled_cases

    model = load_site_model(model_uri)
    cases, _ = load_unlabelled_cases(path)
    profile = load_profile(model.identity.run_id, tracking_uri())
    if profile is None:
        raise SiteError(
            f"{model.identity.uri} has no drift reference (models trained before reference "
            "profiles were logged have none); retrain it to get one"
        )
    matrix = score_cases(model.pipeline, cases).values
    log_odds = model.pipeline.classifier.decision_function(matrix)
    report = compare_with_profile(profile, matrix, log_odds, min_cases=min_cases)
    report["model"] = model.identity.as_response()
    report["file"] = Path(path).name
    return report


def format_drift(report: dict[str, Any]) -> str:
    """A table of ``report``: one line per feature, drifting ones marked."""
    lines = [
        f"{report['file']}: {report['window']} cases against the reference of "
        f"{report['reference_cases']} (model version {report['model']['version']})"
    ]
    if report["status"] != "ok":
        return lines[0] + f"\ninsufficient data: fewer than {report['min_cases']} cases\n"
    lines.append(
        f"{'feature':32s} {'test':18s} {'reference':>9s} {'current':>9s} "
        f"{'p (BH)':>9s} {'PSI':>6s}  drift"
    )
    for feature in report["features"]:
        for test in feature["tests"]:
            label = f"{test['quantity']}" if test["test"] == "two_proportion" else "KS distance"
            ref = "" if test["reference"] is None else f"{test['reference']:.4f}"
            cur = (
                f"{test['statistic']:.4f}" if test["current"] is None else f"{test['current']:.4f}"
            )
            psi = (
                ""
                if feature["psi"] is None or test["test"] == "two_proportion"
                else (f"{feature['psi']:.3f}")
            )
            mark = "DRIFT" if feature["drift"] and test["p_adjusted"] < report["alpha"] else ""
            lines.append(
                f"{feature['feature']:32s} {label:18s} {ref:>9s} {cur:>9s} "
                f"{test['p_adjusted']:9.2g} {psi:>6s}  {mark}"
            )
    drifting = ", ".join(report["drifting"]) or "none"
    lines.append(f"drifting ({len(report['drifting'])}): {drifting}")
    return "\n".join(lines) + "\n"


def drift_json(report: dict[str, Any]) -> str:
    """``report`` as JSON."""
    return json.dumps(report, indent=2, allow_nan=False, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
