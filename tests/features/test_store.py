"""Where the store is: resolved from the environment at call time, never from MLflow's own state."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from features.store import tracking_uri, use_store


def test_default_is_an_absolute_sqlite_path_under_redflag_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("REDFLAG_HOME", str(tmp_path))
    monkeypatch.chdir("/")
    assert tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"


def test_an_explicit_tracking_uri_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri() == "http://127.0.0.1:5000"


def test_using_a_store_does_not_export_it_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("REDFLAG_HOME", str(tmp_path / "a"))
    first = tracking_uri()
    use_store(first)
    assert mlflow.get_tracking_uri() == first
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    monkeypatch.setenv("REDFLAG_HOME", str(tmp_path / "b"))
    assert tracking_uri() != first  # REDFLAG_HOME still decides


def test_sqlite_stores_keep_artifacts_beside_the_database(tmp_path: Path) -> None:
    from features.store import local_artifact_root

    assert (
        local_artifact_root(f"sqlite:///{tmp_path}/team/mlflow.db") == tmp_path / "team/artifacts"
    )
    assert local_artifact_root("http://127.0.0.1:5000") is None
