"""The online drift window, GET /v1/monitoring/drift, its counters, and ?setting=site."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from tests.serving.conftest import AppFactory, assert_additive, cohort_records, metric


def test_a_real_server_reports_drift_of_its_window_and_exports_counters(
    serve_process: Any,
) -> None:
    url = serve_process(REDFLAG_DRIFT_WINDOW="400", REDFLAG_DRIFT_MIN_CASES="300")
    early = httpx.get(url + "/v1/monitoring/drift", timeout=30).json()
    assert early["status"] == "insufficient_data" and early["window"] == 0
    records = cohort_records(600, seed=31)  # the model's own setting: emergency
    for start in range(0, 600, 200):
        batch = {"cases": records[start : start + 200]}
        assert httpx.post(url + "/v1/predict/batch", json=batch, timeout=60).status_code == 200
    report = httpx.get(url + "/v1/monitoring/drift", timeout=30).json()
    assert report["status"] == "ok" and report["window"] == 400 and report["capacity"] == 400
    assert len(report["drifting"]) <= 0.05 * len(report["features"])
    age = next(f for f in report["features"] if f["feature"] == "age")
    assert {t["test"] for t in age["tests"]} == {"two_proportion", "kolmogorov_smirnov"}
    assert age["psi"] is not None and all(0 <= t["p_adjusted"] <= 1 for t in age["tests"])
    text = httpx.get(url + "/metrics", timeout=30).text
    counted = metric(text, "redflag_feature_values_total", feature="night_pain", value="present")
    absent = metric(text, "redflag_feature_values_total", feature="night_pain", value="absent")
    missing = metric(text, "redflag_feature_values_total", feature="night_pain",
                     value="not_recorded")  # fmt: skip
    assert counted + absent + missing == 600
    assert metric(text, "redflag_feature_reference_share", feature="night_pain", value="present")


def test_a_field_that_stops_being_recorded_is_found(make_app: AppFactory) -> None:
    records = cohort_records(700, seed=32)
    for record in records:
        record.pop("esr_mm_per_h", None)
    with TestClient(make_app(drift_min_cases=500)) as client:
        assert client.post("/v1/predict/batch", json={"cases": records}).status_code == 200
        report = client.get("/v1/monitoring/drift").json()
    assert "esr_mm_per_h" in report["drifting"]


def test_site_setting_serves_at_the_site_prevalence(make_app: AppFactory, case: dict) -> None:
    with TestClient(make_app(site_prevalence=0.05)) as client:
        site = client.post("/v1/predict?setting=site", json=case).json()
        plain = client.post("/v1/predict", json=case).json()
    assert site["setting"] == "site" and site["prevalence"] == 0.05
    assert site["probability"] > plain["probability"]  # 5% is above the emergency 1.5%
    assert_additive(site)


def test_site_setting_without_a_site_prevalence_is_422(client: TestClient, case: dict) -> None:
    response = client.post("/v1/predict?setting=site", json=case)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "query.setting" and "REDFLAG_SITE_PREVALENCE" in error["reason"]


def test_a_model_without_a_reference_profile_says_so(make_app: AppFactory, store: Any) -> None:
    import mlflow
    import pandas as pd

    from features.loader import load_model
    from features.store import MODEL_NAME
    from training.tracking import log_model

    model = load_model(f"models:/{MODEL_NAME}@champion", store.tracking_uri)
    from training.tracking import connect, ensure_experiment

    # Logged the way models were before reference profiles (in a store experiment, not ./mlruns).
    with mlflow.start_run(experiment_id=ensure_experiment(connect(), "before-profiles")):
        info = log_model(model.pipeline, pd.DataFrame(cohort_records(5, seed=33)))
    uri = f"models:/{MODEL_NAME}/{info.registered_model_version}"
    with TestClient(make_app(model_uri=uri)) as client:
        response = client.get("/v1/monitoring/drift")
    assert response.status_code == 200 and response.json()["status"] == "no_reference"


def test_the_drift_example_has_the_shape_the_endpoint_answers() -> None:
    from serving.routes.monitoring import DRIFT_EXAMPLE

    assert {"status", "window", "capacity", "drift", "drifting", "features", "model"} <= set(
        DRIFT_EXAMPLE
    )
    (feature,) = DRIFT_EXAMPLE["features"]
    assert feature["drift"] and feature["feature"] in DRIFT_EXAMPLE["drifting"]
