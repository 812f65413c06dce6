"""Faults the service and the store must survive, each against real processes.

Each test is one fault; the summary counts those survived of those tried.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import pytest

from features.store import MODEL_NAME
from tests.reliability.processes import (
    Served,
    ServeFn,
    Store,
    pointed_at,
    set_alias,
    train_into,
    wait_for,
)
from tests.serving.conftest import cohort_records, free_port, metric

SENDERS = 4
CASE = {"age": 71, "history_of_cancer": True, "limb_weakness": True, "night_pain": True}


@pytest.fixture(scope="module")
def fault_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store of this module's own: its artifacts get broken and mended, its versions deleted."""
    return train_into(tmp_path_factory.mktemp("fault-home"), seed=21, n_cases=2_000)


def _model_dir(store: Store) -> Path:
    """The folder of the champion's logged model (the one holding ``MLmodel``)."""
    (found,) = [path.parent for path in store.home.rglob("MLmodel")]
    return found


def _predicts(served: Served) -> int:
    return httpx.post(served.url + "/v1/predict", json=CASE, timeout=30).status_code


def _readyz(served: Served) -> dict[str, str]:
    return dict(httpx.get(served.url + "/readyz", timeout=10).json())


def _metric(served: Served, name: str) -> float:
    return metric(httpx.get(served.url + "/metrics", timeout=10).text, name)


def _unready_then_mended(served: Served, mend: Callable[[], object]) -> None:
    """Not ready with a reason and no crash; ready on its own once ``mend()`` has run."""
    assert served.status("/healthz") == 200
    ready = _readyz(served)
    assert ready["status"] == "not ready" and MODEL_NAME in ready["detail"]
    assert _predicts(served) == 503
    mend()
    assert wait_for(lambda: served.status("/readyz") == 200, 30, served.process)
    assert _predicts(served) == 200
    assert "Traceback" not in served.log_text()


def test_model_artifact_missing_at_start(fault_store: Store, serve: ServeFn) -> None:
    model = _model_dir(fault_store)
    aside = model.with_name(model.name + ".aside")
    model.rename(aside)
    try:
        served = serve(fault_store.env(REDFLAG_LOAD_RETRY_MAX_S="1"), ready=False)
        _unready_then_mended(served, lambda: aside.rename(model))
    finally:
        if aside.exists():
            aside.rename(model)


def test_model_artifact_corrupt_at_start(fault_store: Store, serve: ServeFn) -> None:
    (pickled,) = _model_dir(fault_store).glob("model.pkl")
    good = pickled.read_bytes()
    pickled.write_bytes(good[: len(good) // 3])  # a copy cut short
    try:
        served = serve(fault_store.env(REDFLAG_LOAD_RETRY_MAX_S="1"), ready=False)
        _unready_then_mended(served, lambda: pickled.write_bytes(good))
    finally:
        pickled.write_bytes(good)


def test_alias_pointing_at_a_deleted_version(fault_store: Store, serve: ServeFn) -> None:
    from training.tracking import connect

    env = fault_store.env()
    doomed = train_into(fault_store.home, seed=22, n_cases=1_000)
    set_alias(env, "doomed", doomed.version)
    uri = f"models:/{MODEL_NAME}@doomed"
    served = serve({**env, "REDFLAG_MODEL_URI": uri})
    with pointed_at(env):
        connect().delete_model_version(MODEL_NAME, doomed.version)
    # The loaded model keeps answering; a reload says why it cannot follow the alias.
    reload = httpx.post(served.url + "/v1/admin/reload", timeout=60)
    assert reload.status_code == 502 and reload.json()["outcome"] == "failed"
    assert "doomed" in reload.json()["error"]
    assert _predicts(served) == 200
    assert _metric(served, "redflag_model_reload_failures_total") >= 1
    # A service started now is not ready, and says why.
    fresh = serve({**env, "REDFLAG_MODEL_URI": uri}, ready=False)
    ready = _readyz(fresh)
    assert ready["status"] == "not ready" and "doomed" in ready["detail"]
    assert "Traceback" not in served.log_text() + fresh.log_text()


@pytest.mark.reliability
def test_tracking_store_unreachable_at_start(fault_store: Store, serve: ServeFn) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    served = serve(
        fault_store.env(MLFLOW_TRACKING_URI=nowhere, REDFLAG_LOAD_RETRY_MAX_S="1"), ready=False
    )
    assert served.status("/healthz") == 200
    # It keeps trying (with MLflow's own retries bounded), stays up and says why it is not ready.
    assert wait_for(
        lambda: _metric(served, "redflag_model_reload_failures_total") >= 3, 60, served.process
    )
    ready = _readyz(served)
    assert ready["status"] == "not ready" and ready["detail"]
    assert served.process.poll() is None
    assert "Traceback" not in served.log_text()


def test_audit_log_disk_full(fault_store: Store, serve: ServeFn) -> None:
    # /dev/full fails every write with ENOSPC, as a full disk does (root ignores permissions).
    served = serve(fault_store.env(REDFLAG_AUDIT_LOG="/dev/full"))
    answers = [_predicts(served) for _ in range(5)]
    assert answers == [200] * 5
    assert _metric(served, "redflag_audit_write_failures_total") == 5
    log = served.log_text()
    assert "cannot be written" in log and "Traceback" not in log


def test_sigterm_during_requests_finishes_them_and_exits_0(
    fault_store: Store, serve: ServeFn
) -> None:
    served = serve(fault_store.env(REDFLAG_LOG_LEVEL="WARNING"))
    batch = {"cases": cohort_records(1_000, seed=4)}
    statuses: list[int | str] = []

    def post() -> None:
        try:
            answer = httpx.post(served.url + "/v1/predict/batch", json=batch, timeout=60)
            statuses.append(answer.status_code)
        except httpx.HTTPError as error:
            statuses.append(type(error).__name__)

    senders = [threading.Thread(target=post) for _ in range(SENDERS)]
    for sender in senders:
        sender.start()

    def all_started() -> bool:
        text = httpx.get(served.url + "/metrics", timeout=30).text
        in_flight = metric(text, "redflag_http_requests_in_flight") - 1  # less this one
        try:
            done = metric(text, "redflag_http_requests_total", route="/v1/predict/batch")
        except KeyError:
            done = 0
        return in_flight >= 1 and in_flight + done >= SENDERS

    # uvicorn finishes the requests it has begun; a connection whose request it has not read
    # yet is closed, and a client retries it elsewhere. So: signal once all have begun.
    assert wait_for(all_started, 60, served.process)
    code = served.stop(signal.SIGTERM)
    for sender in senders:
        sender.join(timeout=60)
    assert statuses == [200] * SENDERS
    assert code == 0
    assert "Traceback" not in served.log_text()


def _runs(env: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    from training.tracking import connect

    with pointed_at(env):
        client = connect()
        experiment = client.get_experiment_by_name("redflag")
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return [(run.info.run_id, run.info.status, dict(run.data.tags)) for run in runs]


def _aliases(env: dict[str, str]) -> dict[str, str]:
    from training.tracking import connect

    with pointed_at(env):
        return dict(connect().get_registered_model(MODEL_NAME).aliases)


@pytest.mark.reliability
def test_training_killed_midway(fault_store: Store) -> None:
    env = fault_store.env()
    aliases = _aliases(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "training.cli", "train", "--n-cases", "30000", "--seed", "23"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid = str(process.pid)
    started = wait_for(
        lambda: any(tags.get("redflag.pid") == pid for _, _, tags in _runs(env)), 120, process
    )
    process.kill()  # SIGKILL: nothing in the process can tidy up
    process.wait(timeout=30)
    assert started, "the training run never started"
    assert _aliases(env) == aliases  # no alias moved
    # The store still opens, and the next training marks the orphan FAILED.
    train_into(fault_store.home, seed=24, n_cases=2_000)
    (killed,) = [status for _, status, tags in _runs(env) if tags.get("redflag.pid") == pid]
    assert killed == "FAILED"
    assert _aliases(env)["champion"] == aliases["champion"]


@pytest.mark.reliability
def test_two_trainings_into_one_store_at_once(fault_store: Store) -> None:
    env = fault_store.env()
    before = {run_id for run_id, _, _ in _runs(env)}
    champion = _aliases(env)["champion"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "training.cli", "train", "--n-cases", "2000", "--seed", seed],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("31", "32")
    ]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    for code, _, err in outcomes:
        # Both succeed, or one fails cleanly: one line, exit 2, no traceback.
        assert code == 0 or (code == 2 and err.strip().startswith("error: ")), err[-2000:]
        assert "Traceback" not in err
    assert any(code == 0 for code, _, _ in outcomes)
    new = [(status, tags) for run_id, status, tags in _runs(env) if run_id not in before]
    assert all(status in ("FINISHED", "FAILED") for status, _ in new), new
    assert _aliases(env)["champion"] == champion  # new versions are challengers
    assert json.dumps(new)  # the store reads back whole
