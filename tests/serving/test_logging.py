"""The access log: one JSON line per request, naming the route and never a field of the case."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import SECRET_DURATION, SECRET_ESR, AppFactory, Store


def test_one_json_line_per_request_and_no_case_values(
    make_app: AppFactory, store: Store, case: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    marked = {**case, "pain_duration_weeks": SECRET_DURATION, "esr_mm_per_h": SECRET_ESR}
    with caplog.at_level(logging.DEBUG), TestClient(make_app()) as client:
        ok = client.post("/v1/predict", json=marked, headers={"X-Request-ID": "trace-1"})
        batch = client.post("/v1/predict/batch", json={"cases": [marked, marked]})
        bad = client.post("/v1/predict", json={**marked, "age": 3})
        bad_batch = client.post("/v1/predict/batch", json={"cases": [marked, {**marked, "sex": 9}]})
        client.get("/healthz")
    assert (ok.status_code, batch.status_code, bad.status_code, bad_batch.status_code) == (
        200,
        200,
        422,
        422,
    )
    access = [json.loads(r.getMessage()) for r in caplog.records if r.name == "redflag.access"]
    assert [(a["route"], a["status"]) for a in access] == [
        ("/v1/predict", 200),
        ("/v1/predict/batch", 200),
        ("/v1/predict", 422),
        ("/v1/predict/batch", 422),
        ("/healthz", 200),
    ]
    first = access[0]
    assert first["request_id"] == "trace-1" == ok.headers["x-request-id"]
    assert first["method"] == "POST"
    assert first["model_version"] == store.version
    assert first["latency_ms"] > 0
    assert access[1]["cases"] == 2 and access[1]["request_id"] == batch.json()["request_id"]
    assert set(first) == {
        "ts",
        "request_id",
        "method",
        "route",
        "status",
        "latency_ms",
        "model_version",
        "key_id",
        "cases",
    }
    # Nothing anyone logged (ours, MLflow's, uvicorn's) contains a value of the case.
    for secret in (str(SECRET_DURATION), str(SECRET_ESR)):
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()
    # Nor do error responses echo it.
    assert str(SECRET_DURATION) not in bad.text and str(SECRET_DURATION) not in bad_batch.text


def test_the_real_server_logs_no_case_values(
    serve_process: Callable[..., str], tmp_path: Path, case: dict[str, Any]
) -> None:
    log = tmp_path / "serve.log"
    url = serve_process(log=log, REDFLAG_LOG_LEVEL="DEBUG")
    marked = {**case, "pain_duration_weeks": SECRET_DURATION, "esr_mm_per_h": SECRET_ESR}
    with httpx.Client(base_url=url) as http:
        assert http.post("/v1/predict", json=marked).status_code == 200
        assert http.post("/v1/predict/batch", json={"cases": [marked]}).status_code == 200
        assert http.post("/v1/predict", json={**marked, "age": 2}).status_code == 422
        assert http.post("/v1/predict", content=b'{"esr_mm_per_h": 187.654,').status_code == 422
    time.sleep(0.2)  # let the last lines reach the file
    text = log.read_text()
    routes = [json.loads(line)["route"] for line in text.splitlines() if line.startswith("{")]
    assert routes.count("/v1/predict") == 3 and routes.count("/v1/predict/batch") == 1
    assert str(SECRET_DURATION) not in text and str(SECRET_ESR) not in text
