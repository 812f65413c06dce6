"""The OpenAPI examples are data: each validates against the models it documents."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.intended_use import INTENDED_USE, NOT_A_MEDICAL_DEVICE, SIMULATED_DATA_WARNING
from features.record import CaseRecord
from features.store import MODEL_NAME
from serving.examples import (
    BATCH_EXAMPLES,
    CASE_EXAMPLES,
    MECHANICAL_PAIN,
    METASTASIS_SUSPECTED,
    MINIMAL,
    MODEL_INFO_EXAMPLE,
    PREDICTION_EXAMPLE,
    READY_EXAMPLE,
    RELOAD_FAILED_EXAMPLE,
    RELOADED_EXAMPLE,
)
from serving.examples.regenerate import REQUEST_ID, regenerate
from serving.schemas import BatchPrediction, BatchRequest, Prediction, ReloadResult
from tests.serving.conftest import Store, assert_additive

EXAMPLES_DIR = files("serving.examples")
# `python -m` runs from here, so the command lines below import this checkout's serving.
REPOSITORY = Path(__file__).resolve().parents[2]


def structure(value: Any) -> Any:
    """The keys of ``value``, nested, without its values: what two examples must share.

    A dict becomes its keys with the structure under each; a list the set of its items'
    structures (contributions differ in their ``inputs``, and their order depends on the model);
    anything else None.
    """
    if isinstance(value, dict):
        return frozenset((key, structure(item)) for key, item in value.items())
    if isinstance(value, list):
        return frozenset(structure(item) for item in value)
    return None


def committed(name: str) -> Any:
    return json.loads(EXAMPLES_DIR.joinpath(name).read_text(encoding="utf-8"))


def check_prediction(prediction: dict[str, Any]) -> None:
    """A valid response of POST /v1/predict whose explanation adds up, feature by feature."""
    Prediction.model_validate(prediction)
    assert_additive(prediction)
    contributions = prediction["explanation"]["contributions"]
    assert sorted(c["feature"] for c in contributions) == sorted(FEATURE_NAMES)
    labels = {flag.name: flag.label for flag in RED_FLAGS}
    for c in contributions:  # a flag none of whose inputs was given is named as not recorded
        expected = labels[c["feature"]] if c["recorded"] else "not recorded"
        assert expected in c["label"] and (c["value"] is None or c["recorded"])


def trim_like(live: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """``live`` (GET /v1/model) cut to the params, metrics and features the example keeps."""
    trimmed = copy.deepcopy(live)
    for path in (("training", "params"), ("metrics",)):
        kept, full = example, trimmed
        for key in path[:-1]:
            kept, full = kept[key], full[key]
        missing = set(kept[path[-1]]) - set(full[path[-1]])
        assert not missing, f"the example has {path} the model does not: {sorted(missing)}"
        full[path[-1]] = {key: full[path[-1]][key] for key in kept[path[-1]]}
    trimmed["features"] = trimmed["features"][: len(example["features"])]
    return trimmed


def test_the_named_examples_are_the_json_files() -> None:
    assert METASTASIS_SUSPECTED == committed("metastasis_suspected.json")
    assert MECHANICAL_PAIN == committed("mechanical_pain.json")
    assert MINIMAL == committed("minimal.json")
    assert PREDICTION_EXAMPLE == committed("prediction.json")
    assert MODEL_INFO_EXAMPLE == committed("model_info.json")
    names = {entry.name for entry in EXAMPLES_DIR.iterdir() if entry.name.endswith(".json")}
    assert names == {
        "metastasis_suspected.json",
        "mechanical_pain.json",
        "minimal.json",
        "prediction.json",
        "model_info.json",
        "ready.json",
        "reload_reloaded.json",
        "reload_failed.json",
        "fhir_bundle.json",
        "risk_assessment.json",
        "cds_cards.json",
        "drift.json",
    }


@pytest.mark.parametrize("name", sorted(CASE_EXAMPLES))
def test_each_case_example_is_a_valid_case(name: str) -> None:
    example = CASE_EXAMPLES[name]
    assert example["summary"]
    CaseRecord.model_validate(example["value"])


def test_batch_examples_are_valid_requests_and_responses() -> None:
    for example in BATCH_EXAMPLES.values():
        BatchRequest.model_validate(example["value"])
    for request in BatchRequest.model_json_schema()["examples"]:
        BatchRequest.model_validate(request)
    for response in BatchPrediction.model_json_schema()["examples"]:
        BatchPrediction.model_validate(response)
        assert response["count"] == len(response["results"])


def test_the_prediction_example_is_valid_and_adds_up() -> None:
    check_prediction(PREDICTION_EXAMPLE)
    assert Prediction.model_json_schema()["examples"] == [PREDICTION_EXAMPLE]
    assert PREDICTION_EXAMPLE["request_id"] == REQUEST_ID


def test_the_prediction_example_has_the_structure_of_an_answer(client: TestClient) -> None:
    response = client.post("/v1/predict", json=METASTASIS_SUSPECTED)
    assert response.status_code == 200
    assert structure(PREDICTION_EXAMPLE) == structure(response.json())


def test_the_model_info_example_has_the_structure_of_get_model(client: TestClient) -> None:
    live = client.get("/v1/model").json()
    assert set(MODEL_INFO_EXAMPLE) == set(live)
    assert structure(MODEL_INFO_EXAMPLE) == structure(trim_like(live, MODEL_INFO_EXAMPLE))


def test_the_model_info_example_says_what_the_service_says(client: TestClient) -> None:
    """Everything in it that does not depend on the model is what GET /v1/model answers now."""
    live = trim_like(client.get("/v1/model").json(), MODEL_INFO_EXAMPLE)
    for key in ("risk_bands", "settings", "limits", "features", "intended_use"):
        assert MODEL_INFO_EXAMPLE[key] == live[key], key
    assert MODEL_INFO_EXAMPLE["intended_use"] == INTENDED_USE
    assert MODEL_INFO_EXAMPLE["simulated_data_warning"] == SIMULATED_DATA_WARNING
    assert MODEL_INFO_EXAMPLE["not_a_medical_device"] == NOT_A_MEDICAL_DEVICE


def test_the_ready_and_reload_examples_are_valid(client: TestClient) -> None:
    assert structure(READY_EXAMPLE) == structure(client.get("/readyz").json())
    assert ReloadResult.model_validate(RELOADED_EXAMPLE).outcome == "reloaded"
    assert ReloadResult.model_validate(RELOAD_FAILED_EXAMPLE).outcome == "failed"


def test_regenerating_from_a_model_writes_valid_examples(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The examples document the defaults, not the settings of whoever regenerates them.
    monkeypatch.setenv("REDFLAG_MAX_BATCH", "7")
    out = tmp_path / "examples"
    written = regenerate(f"models:/{MODEL_NAME}@champion", out, store.tracking_uri)
    assert sorted(path.name for path in written) == ["model_info.json", "prediction.json"]
    assert sorted(path.name for path in out.iterdir()) == ["model_info.json", "prediction.json"]

    texts = {path.name: path.read_text(encoding="utf-8") for path in written}
    for name, text in texts.items():
        assert text.endswith("}\n") and text.startswith("{\n  "), name
    prediction = json.loads(texts["prediction.json"])
    info = json.loads(texts["model_info.json"])

    check_prediction(prediction)
    assert prediction["request_id"] == REQUEST_ID
    assert prediction["model"]["run_id"] == store.run_id
    assert structure(prediction) == structure(PREDICTION_EXAMPLE)
    assert structure(info) == structure(MODEL_INFO_EXAMPLE)
    assert info["run_id"] == store.run_id and info["limits"]["max_batch"] == 1000


def test_regenerating_twice_writes_the_same_prediction(store: Store, tmp_path: Path) -> None:
    uri = f"models:/{MODEL_NAME}@champion"
    first, second = tmp_path / "first", tmp_path / "second"
    regenerate(uri, first, store.tracking_uri)
    regenerate(uri, second, store.tracking_uri)
    name = "prediction.json"
    assert (first / name).read_bytes() == (second / name).read_bytes()


def test_the_command_line_writes_into_out(store: Store, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "serving.examples", "--out", str(tmp_path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "model_info.json",
        "prediction.json",
    ]
    check_prediction(json.loads((tmp_path / "prediction.json").read_text(encoding="utf-8")))


def test_the_command_line_says_when_there_is_no_model(store: Store, tmp_path: Path) -> None:
    uri = f"models:/{MODEL_NAME}@nope"
    result = subprocess.run(
        [sys.executable, "-m", "serving.examples", "--model-uri", uri, "--out", str(tmp_path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "nope" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())
