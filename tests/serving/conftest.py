"""One small model trained once per session into a temporary MLflow store, and apps over it."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pandas as pd
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from features import FIELDS
from features.store import MODEL_NAME
from serving.app import create_app
from serving.config import Settings
from serving.examples import MECHANICAL_PAIN, METASTASIS_SUSPECTED

# Distinctive values that no log line may ever contain (tests search for them).
SECRET_DURATION = 123.456
SECRET_ESR = 187.654


@dataclass(frozen=True)
class Store:
    """The temporary store and the model version trained into it."""

    home: Path
    tracking_uri: str
    version: str
    run_id: str
    metrics: dict[str, float]


REPO_MLRUNS = Path(__file__).resolve().parents[2] / "mlruns"


@pytest.fixture(scope="session", autouse=True)
def repository_store_untouched() -> Iterator[None]:
    """Fail the session if any test wrote into the repository's own mlruns/."""

    def listing() -> list[str]:
        return sorted(str(p) for p in REPO_MLRUNS.rglob("*")) if REPO_MLRUNS.exists() else []

    before = listing()
    yield
    assert listing() == before, "a test wrote into the repository's mlruns/"


# Package scope: the environment is restored before other test packages run.
@pytest.fixture(scope="package")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A fresh sqlite store under a temporary REDFLAG_HOME, with one model as champion."""
    home = tmp_path_factory.mktemp("redflag-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("REDFLAG_") or name == "MLFLOW_TRACKING_URI":
                mp.delenv(name)
        mp.setenv("REDFLAG_HOME", str(home))
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from features.store import tracking_uri
        from training.run import TrainOptions, train

        result = train(TrainOptions(n_cases=20_000, setting="emergency"))
        yield Store(home, tracking_uri(), result.version, result.run_id, result.metrics)


def train_version(seed: int) -> str:
    """Train and register another (smaller) version into the session store; its number."""
    from training.run import TrainOptions, train

    return train(TrainOptions(n_cases=5_000, seed=seed, setting="emergency")).version


def set_alias(alias: str, version: str) -> None:
    """Point ``alias`` of the registered model at ``version``."""
    from training.tracking import connect

    connect().set_registered_model_alias(MODEL_NAME, alias, version)


@pytest.fixture(scope="package")
def client(store: Store) -> Iterator[TestClient]:
    """A client of an app with default settings, serving the champion."""
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(store: Store) -> AppFactory:
    """Build an app over the session store with some settings changed."""

    def build(**overrides: Any) -> FastAPI:
        return create_app(Settings(**overrides))

    return build


@pytest.fixture
def case() -> dict[str, Any]:
    """A complete case with a malignancy (simulated)."""
    return dict(METASTASIS_SUSPECTED)


@pytest.fixture
def mechanical_case() -> dict[str, Any]:
    """A case without one (simulated)."""
    return dict(MECHANICAL_PAIN)


def cohort_records(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` simulated cases as API records: NaN fields left out, labels dropped."""
    from training.cohort.simulate import simulate_cohort

    cohort: pd.DataFrame = simulate_cohort(n, seed, "emergency")
    records = []
    for row in cohort[[name for name in FIELDS if name in cohort]].to_dict("records"):
        record = {}
        for name, value in row.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if value is pd.NA:
                continue
            record[str(name)] = value.item() if hasattr(value, "item") else value
        records.append(record)
    return records


@pytest.fixture(scope="package")
def cohort(store: Store) -> list[dict[str, Any]]:
    """200 simulated cases of all kinds."""
    return cohort_records(200, seed=11)


def logit(p: float) -> float:
    """Log-odds."""
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    """Logistic function."""
    return 1 / (1 + math.exp(-x))


def assert_additive(result: dict[str, Any]) -> None:
    """sigmoid(base_value + sum of contributions) == probability, to 1e-6."""
    explanation = result["explanation"]
    total = explanation["base_value"] + sum(c["contribution"] for c in explanation["contributions"])
    assert abs(sigmoid(total) - result["probability"]) < 1e-6


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real uvicorn server in a thread of this process, on 127.0.0.1."""

    app: FastAPI
    port: int

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def live_server() -> Iterator[Callable[[FastAPI], LiveServer]]:
    """Start apps under real uvicorn servers; each is stopped when the test ends."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI) -> LiveServer:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        started.append((server, thread))
        return LiveServer(app, port)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=10)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise KeyError(name)


@pytest.fixture
def serve_process(store: Store) -> Iterator[Callable[..., str]]:
    """Start the real ``redflag serve`` in a process of its own; its base URL. Ended by its PID."""
    started: list[subprocess.Popen[bytes]] = []

    def start(log: Path | None = None, **env: str) -> str:
        port = free_port()
        output = log.open("wb") if log else subprocess.DEVNULL
        process = subprocess.Popen(
            [sys.executable, "-m", "training.cli", "serve", "--port", str(port)],
            env={**os.environ, "REDFLAG_LOG_LEVEL": "WARNING", **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"redflag serve exited with {process.returncode}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("redflag serve was not ready in 90 s")

    yield start
    for process in started:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process a test started, by its PID: politely, then for sure."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
