"""Hot reload: a new version swapped in under load, polling, and broken versions refused."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from features.store import MODEL_NAME
from tests.serving.conftest import (
    AppFactory,
    LiveServer,
    Store,
    metric,
    set_alias,
    train_version,
)

# Reload tests move an alias of their own, so the champion other tests serve never moves.
ALIAS = "reloadtest"
URI = f"models:/{MODEL_NAME}@{ALIAS}"


@pytest.fixture(scope="module")
def second_version(store: Store) -> str:
    """A second model version trained into the session store."""
    return train_version(seed=7)


def test_reload_under_concurrent_requests_fails_none(
    store: Store,
    second_version: str,
    make_app: AppFactory,
    live_server: Callable[[FastAPI], LiveServer],
    case: dict[str, Any],
) -> None:
    set_alias(ALIAS, store.version)
    server = live_server(make_app(model_uri=URI))
    stop = threading.Event()
    seen: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                response = http.post("/v1/predict", json=case)
                version = response.json()["model"]["version"] if response.is_success else None
                with lock:
                    seen.append((response.status_code, version))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        set_alias(ALIAS, second_version)
        with httpx.Client(base_url=server.url, timeout=60) as http:
            reload = http.post("/v1/admin/reload")
            assert reload.status_code == 200
            assert reload.json() == {
                "outcome": "reloaded",
                "previous_version": store.version,
                "version": second_version,
                "error": None,
            }
            after_swap = len(seen)
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    statuses = Counter(status for status, _ in seen)
    assert statuses == {200: len(seen)}, statuses
    versions = [version for _, version in seen]
    assert store.version in versions[:after_swap]
    assert second_version in versions[after_swap:]
    # Once swapped, nothing old is answered again: every later request saw the new reference.
    assert set(versions[after_swap + 8 :]) == {second_version}
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/v1/model").json()["version"] == second_version
        text = http.get("/metrics").text
        unchanged = http.post("/v1/admin/reload").json()
    assert metric(text, "redflag_model_reloads_total") == 1
    assert metric(text, "redflag_model_info", version=second_version) == 1
    with pytest.raises(KeyError):
        metric(text, "redflag_model_info", version=store.version)
    assert unchanged["outcome"] == "unchanged" and unchanged["version"] == second_version


def test_polling_follows_a_moved_alias(
    store: Store, second_version: str, make_app: AppFactory, case: dict[str, Any]
) -> None:
    set_alias(ALIAS, store.version)
    with TestClient(make_app(model_uri=URI, reload_interval_s=0.2)) as client:
        assert client.post("/v1/predict", json=case).json()["model"]["version"] == store.version
        set_alias(ALIAS, second_version)
        deadline = time.monotonic() + 20
        version = store.version
        while version != second_version and time.monotonic() < deadline:
            time.sleep(0.1)
            response = client.post("/v1/predict", json=case)
            assert response.status_code == 200
            version = response.json()["model"]["version"]
        assert version == second_version


def _register_foreign_model() -> str:
    """A registered version whose artifact is a plain scikit-learn model, not a redflag one."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from training.tracking import connect, ensure_experiment

    # An experiment of the session store, so its artifacts land under the temporary REDFLAG_HOME
    # (MLflow's default experiment would put them in ./mlruns of the working directory).
    experiment_id = ensure_experiment(connect(), "reload-tests")
    foreign = LogisticRegression().fit(np.array([[0.0], [1.0]]), np.array([0, 1]))
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            foreign,
            name="model",
            serialization_format="cloudpickle",
            pip_requirements=["scikit-learn"],
            registered_model_name=MODEL_NAME,
        )
    return str(info.registered_model_version)


def _register_vanished_model(store: Store) -> str:
    """A registered version whose artifacts were deleted after registration."""
    from training.tracking import connect

    client = connect()
    source = client.get_model_version(MODEL_NAME, store.version)
    local = mlflow_local_path(source.source)
    copy = tempfile.mkdtemp(prefix="vanishing-model-")
    shutil.copytree(local, copy, dirs_exist_ok=True)
    version = client.create_model_version(MODEL_NAME, source=copy, run_id=source.run_id)
    shutil.rmtree(copy)
    return str(version.version)


def mlflow_local_path(source: str) -> str:
    """The local directory of a model version's artifacts."""
    from mlflow.artifacts import download_artifacts

    return download_artifacts(artifact_uri=source)


@pytest.mark.parametrize("broken", ["foreign", "vanished"])
def test_broken_version_leaves_the_old_one_serving(
    store: Store,
    make_app: AppFactory,
    case: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    broken: str,
) -> None:
    set_alias(ALIAS, store.version)
    bad = _register_foreign_model() if broken == "foreign" else _register_vanished_model(store)
    with TestClient(make_app(model_uri=URI)) as client:
        set_alias(ALIAS, bad)
        with caplog.at_level(logging.ERROR, logger="redflag"):
            response = client.post("/v1/admin/reload")
        assert response.status_code == 502
        body = response.json()
        assert body["outcome"] == "failed" and body["version"] == store.version
        assert body["error"]
        assert any(
            "reload" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records
        )
        prediction = client.post("/v1/predict", json=case)
        assert prediction.status_code == 200
        assert prediction.json()["model"]["version"] == store.version
        assert client.get("/readyz").status_code == 200
        text = client.get("/metrics").text
        assert metric(text, "redflag_model_reload_failures_total") == 1
        assert metric(text, "redflag_model_info", version=store.version) == 1
    set_alias(ALIAS, store.version)


def test_a_model_registered_after_start_up_is_picked_up(
    store: Store, make_app: AppFactory, case: dict[str, Any]
) -> None:
    late = f"models:/{MODEL_NAME}@latecomer"
    with TestClient(make_app(model_uri=late)) as client:
        assert client.get("/readyz").status_code == 503
        assert client.post("/v1/predict", json=case).status_code == 503
        set_alias("latecomer", store.version)
        reload = client.post("/v1/admin/reload")
        assert reload.status_code == 200 and reload.json()["version"] == store.version
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/predict", json=case).json()["model"]["version"] == store.version
