"""GET /metrics: what was asked and answered, counted per app."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from tests.serving.conftest import AppFactory, Store, metric


def test_metrics_reflect_the_requests_made(
    make_app: AppFactory, store: Store, cohort: list[dict[str, Any]], case: dict[str, Any]
) -> None:
    singles = cohort[:15]
    with TestClient(make_app()) as client:
        answers = [client.post("/v1/predict", json=c).json() for c in singles]
        batch = client.post(
            "/v1/predict/batch", params={"setting": "oncology"}, json={"cases": cohort[15:40]}
        ).json()["results"]
        for _ in range(3):
            assert client.post("/v1/predict", json={"age": 3}).status_code == 422
        text = client.get("/metrics").text
        # A second app in the same process has counters of its own.
        with TestClient(make_app()) as other:
            other_text = other.get("/metrics").text

    assert metric(text, "redflag_http_requests_total", route="/v1/predict", status="200") == 15
    assert metric(text, "redflag_http_requests_total", route="/v1/predict", status="422") == 3
    assert metric(text, "redflag_http_requests_total", route="/v1/predict/batch") == 1
    assert (
        metric(
            text, "redflag_http_request_duration_seconds_count", route="/v1/predict", status="200"
        )
        == 15
    )
    bands = Counter(a["risk_band"] for a in answers)
    for band, count in bands.items():
        assert metric(text, "redflag_predictions_total", risk_band=band, setting="none") == count
    batch_bands = Counter(r["risk_band"] for r in batch)
    for band, count in batch_bands.items():
        assert (
            metric(text, "redflag_predictions_total", risk_band=band, setting="oncology") == count
        )
    urgent = sum(a["urgent"]["flag"] for a in answers + batch)
    assert metric(text, "redflag_urgent_flags_total") == urgent
    assert metric(text, "redflag_batch_cases_count") == 1
    assert metric(text, "redflag_batch_cases_sum") == 25
    assert metric(text, "redflag_model_info", version=store.version, alias="champion") == 1
    assert metric(text, "redflag_model_loaded") == 1
    assert metric(text, "redflag_audit_write_failures_total") == 0
    try:
        leaked = metric(other_text, "redflag_http_requests_total", route="/v1/predict")
    except KeyError:
        leaked = 0
    assert leaked == 0
