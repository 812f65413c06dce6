"""Settings: read from REDFLAG_* when an app is built, validated, never at import."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.app import create_app
from serving.config import Settings
from tests.serving.conftest import Store


@pytest.mark.parametrize("text", ["0.02,0.2", "[0.02, 0.2]", " 0.02 , 0.2 "])
def test_risk_thresholds_from_the_environment(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("REDFLAG_RISK_THRESHOLDS", text)
    assert Settings().risk_thresholds == (0.02, 0.2)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDFLAG_RISK_THRESHOLDS", "0.2,0.02"),
        ("REDFLAG_RISK_THRESHOLDS", "0.1"),
        ("REDFLAG_RISK_THRESHOLDS", "0,0.5"),
        ("REDFLAG_MAX_BATCH", "0"),
        ("REDFLAG_RELOAD_INTERVAL_S", "-1"),
        ("REDFLAG_MAX_BODY_BYTES", "10"),
        ("REDFLAG_LOG_LEVEL", "LOUD"),
    ],
)
def test_unsafe_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_settings_are_read_when_the_app_is_built(
    store: Store, monkeypatch: pytest.MonkeyPatch, case: dict[str, Any]
) -> None:
    monkeypatch.setenv("REDFLAG_MAX_BATCH", "2")
    monkeypatch.setenv("REDFLAG_RISK_THRESHOLDS", "0.001,0.002")
    with TestClient(create_app()) as client:
        info = client.get("/v1/model").json()
        assert info["limits"]["max_batch"] == 2
        assert client.post("/v1/predict/batch", json={"cases": [case] * 3}).status_code == 413
        assert client.post("/v1/predict", json=case).json()["risk_band"] == "high"


@pytest.mark.parametrize("threads", [1, 2])
def test_scoring_threads_cap_the_booster(store: Store, threads: int) -> None:
    import json

    app = create_app(Settings(scoring_threads=threads))
    with TestClient(app):
        booster = app.state.slot.current.pipeline[-1].booster_
        config = json.loads(booster.save_config())
    assert config["learner"]["generic_param"]["nthread"] == str(threads)
