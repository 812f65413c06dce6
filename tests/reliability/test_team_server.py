"""A team's set-up, for real: an ``mlflow server`` on PostgreSQL with proxied artifacts, and the
whole lifecycle through ``MLFLOW_TRACKING_URI=http://127.0.0.1:…``: train, compare, promote,
serve with alias polling, score. PostgreSQL restarts while the service runs: answers go on,
and the next alias poll recovers.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx2 as httpx
import pandas as pd
import pytest

from tests.reliability.conftest import record
from tests.reliability.postgres import mlflow_server, postgres
from tests.reliability.processes import ServeFn, clean_env, redflag, wait_for
from tests.serving.conftest import metric

CASE = {"age": 64, "history_of_cancer": True, "night_pain": True, "unexplained_weight_loss_kg": 6}


def _trained(env: dict[str, str], seed: str) -> tuple[str, str]:
    """(run id, version) of a small ``redflag train``."""
    done = redflag("train", "--n-cases", "2000", "--seed", seed, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    run = re.search(r"run id:\s+(\S+)", done.stdout)
    version = re.search(r"version:\s+(\S+)", done.stdout)
    assert run and version, done.stdout
    return run[1], version[1]


def _version(url: str) -> str:
    answer = httpx.post(url + "/v1/predict", json=CASE, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["model"]["version"])


@pytest.mark.reliability
def test_tracking_server_on_postgresql(tmp_path: Path, serve: ServeFn) -> None:
    with postgres() as cluster, mlflow_server(cluster.url("mlflow"), tmp_path / "artifacts") as uri:
        env = clean_env(MLFLOW_TRACKING_URI=uri, REDFLAG_HOME=str(tmp_path / "home"))
        first_run, first = _trained(env, "41")
        second_run, second = _trained(env, "42")
        compared = redflag("compare", first_run, second_run, "--n-cases", "2000", env=env)
        assert compared.returncode == 0, compared.stderr[-2000:]
        served = serve({**env, "REDFLAG_RELOAD_INTERVAL_S": "1"})
        assert _version(served.url) == first
        promoted = redflag("promote", "--version", second, "--force", "--reason", "test", env=env)
        assert promoted.returncode == 0, promoted.stderr[-2000:]
        assert wait_for(lambda: _version(served.url) == second, 60)

        cluster.stop()  # the database goes away under the tracking server
        answers = [_version(served.url) for _ in range(20)]
        assert answers == [second] * 20  # answered from the loaded model
        metrics = httpx.get(served.url + "/metrics", timeout=10).text
        assert wait_for(
            lambda: (
                metric(
                    httpx.get(served.url + "/metrics", timeout=10).text,
                    "redflag_model_reload_failures_total",
                )
                >= 1
            ),
            60,
        )
        cluster.start()
        back = redflag("promote", "--version", first, "--force", "--reason", "back", env=env)
        assert back.returncode == 0, back.stderr[-2000:]
        assert wait_for(lambda: _version(served.url) == first, 60)  # the next poll recovers

        cases = tmp_path / "cases.csv"
        pd.DataFrame([CASE] * 50).to_csv(cases, index=False)
        scored = redflag("score", "--input", str(cases), "--output", str(tmp_path / "s.parquet"),
                         env=env)  # fmt: skip
        assert scored.returncode == 0, scored.stderr[-2000:]
        assert len(pd.read_parquet(tmp_path / "s.parquet")) == 50
        assert "Traceback" not in served.log_text()
        assert metrics
    record("team server", postgresql="restarted under load, answers went on, poll recovered")
