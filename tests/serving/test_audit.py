"""The prediction audit log: what it records, and that it never stops a prediction."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.record import CaseRecord
from tests.serving.conftest import SECRET_DURATION, SECRET_ESR, AppFactory, Store, metric

KEY = "audit-key-0123456789abcdef"


def canonical_sha256(case: dict[str, Any]) -> str:
    """Independent of the service's code: every field, sorted keys, compact separators."""
    full = CaseRecord.model_validate(case).model_dump(mode="json")
    return hashlib.sha256(
        json.dumps(full, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def test_audit_records_each_case_without_its_values(
    make_app: AppFactory, store: Store, tmp_path: Path, case: dict[str, Any]
) -> None:
    path = tmp_path / "audit.jsonl"
    marked = {**case, "pain_duration_weeks": SECRET_DURATION, "esr_mm_per_h": SECRET_ESR}
    with TestClient(make_app(audit_log=path, api_keys=f"intake:{KEY}")) as client:
        headers = {"X-API-Key": KEY}
        one = client.post("/v1/predict", json=marked, headers=headers).json()
        batch = client.post(
            "/v1/predict/batch",
            params={"setting": "primary_care"},
            json={"cases": [marked, {"age": 44}]},
            headers=headers,
        ).json()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert first["request_id"] == one["request_id"]
    assert first["key_id"] == "intake"
    assert first["model_version"] == store.version
    assert first["setting"] is None
    assert first["probability"] == one["probability"]
    assert first["risk_band"] == one["risk_band"]
    assert first["urgent"] == one["urgent"]["flag"]
    assert first["case_sha256"] == canonical_sha256(marked)
    assert first["timestamp"].endswith("+00:00")
    assert [line["request_id"] for line in lines[1:]] == [batch["request_id"]] * 2
    assert [line["index"] for line in lines[1:]] == [0, 1]
    assert lines[1]["setting"] == "primary_care"
    assert lines[2]["case_sha256"] == canonical_sha256({"age": 44})
    # The same case hashes the same whichever request carried it; its values are never written.
    assert lines[1]["case_sha256"] == first["case_sha256"]
    text = path.read_text()
    assert str(SECRET_DURATION) not in text and str(SECRET_ESR) not in text
    assert KEY not in text


def test_unwritable_audit_log_never_stops_predictions(
    make_app: AppFactory, tmp_path: Path, case: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    unwritable = tmp_path / "no-such-dir" / "audit.jsonl"
    with caplog.at_level(logging.ERROR, logger="redflag"):
        with TestClient(make_app(audit_log=unwritable)) as client:
            assert client.post("/v1/predict", json=case).status_code == 200
            batch = client.post("/v1/predict/batch", json={"cases": [case, case]})
            assert batch.status_code == 200
            text = client.get("/metrics").text
    assert metric(text, "redflag_audit_write_failures_total") == 3
    assert any("audit log" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert not unwritable.exists()
