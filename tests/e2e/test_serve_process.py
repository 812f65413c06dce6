"""End to end: the real `redflag serve` process on 127.0.0.1, called over HTTP."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import ChampionStore

REDFLAG = Path(sys.executable).parent / "redflag"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    assert REDFLAG.exists(), f"{REDFLAG} missing: install the project (make install)"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "REDFLAG_"))}
    env["REDFLAG_HOME"] = str(home)
    process = subprocess.Popen(
        [str(REDFLAG), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,  # a different directory: the store must be found through REDFLAG_HOME
        env=env,
        stdout=(tmp_path / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((tmp_path / "server.log").read_text())
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not start within 90 s")


@pytest.fixture
def server(champion_store: ChampionStore, tmp_path: Path) -> Iterator[str]:
    process, base = start_server(champion_store.home, tmp_path)
    try:
        yield base
    finally:
        process.terminate()  # only the process this test started, by its PID
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_predict_over_http(server: str, champion_store: ChampionStore) -> None:
    ready = httpx.get(f"{server}/readyz", timeout=10)
    assert ready.status_code == 200
    case = {
        "age": 68, "sex": "male", "history_of_cancer": True, "cancer_type": "prostate",
        "limb_weakness": True, "pain_region": "thoracic", "night_pain": True,
    }  # fmt: skip
    response = httpx.post(f"{server}/v1/predict", json=case, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0.0 < body["probability"] < 1.0
    assert body["risk_band"] in {"low", "moderate", "high"}
    assert body["urgent"]["flag"] is True
    assert body["model"]["version"] == champion_store.result.version
    assert body["model"]["alias"] == "champion"
    explanation = body["explanation"]
    total = explanation["base_value"] + sum(c["contribution"] for c in explanation["contributions"])
    assert 1 / (1 + math.exp(-total)) == pytest.approx(body["probability"], abs=1e-6)

    invalid = httpx.post(f"{server}/v1/predict", json={"age": 12}, timeout=10)
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "age"

    model = httpx.get(f"{server}/v1/model", timeout=10).json()
    assert model["version"] == champion_store.result.version
    assert "not a medical device" in model["not_a_medical_device"].lower()
    assert model["training"]["simulated_data"] is True


def test_without_a_model_the_service_says_how_to_train_one(tmp_path: Path) -> None:
    process, base = start_server(tmp_path / "empty", tmp_path)
    try:
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 503
        response = httpx.post(f"{base}/v1/predict", json={"age": 60}, timeout=10)
        assert response.status_code == 503
        assert "redflag train" in response.json()["detail"]
    finally:
        process.terminate()
        process.wait(timeout=15)
