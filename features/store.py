"""Where models live: the MLflow store and registered name shared by training and serving."""

from __future__ import annotations

import os
from pathlib import Path

MODEL_NAME = "redflag-spinal-malignancy"
CHAMPION = "champion"
CHALLENGER = "challenger"
DEFAULT_EXPERIMENT = "redflag"


def default_store_dir() -> Path:
    """The embedded store: ``mlruns/`` under ``REDFLAG_HOME`` or the working directory, absolute."""
    return (Path(os.environ.get("REDFLAG_HOME", ".")) / "mlruns").resolve()


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else the embedded sqlite store as an absolute path.

    Resolved when a command or app starts, never at import: a relative sqlite path would silently
    open another, empty store in whatever directory a process happens to run.
    """
    configured = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if configured:
        return configured
    return f"sqlite:///{default_store_dir() / 'mlflow.db'}"


def sqlite_database(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` store, or None for any other kind of store."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]).resolve() if uri.startswith(prefix) else None


def local_artifact_root(uri: str) -> Path | None:
    """Where a sqlite store's artifacts go: ``artifacts/`` beside its database file.

    Without it MLflow puts them in ``./mlruns`` of whatever directory the process runs in. A
    tracking server decides for itself (None).
    """
    database = sqlite_database(uri)
    return database.parent / "artifacts" if database is not None else None


def default_model_uri() -> str:
    """The registry URI that serving loads unless told otherwise."""
    return f"models:/{MODEL_NAME}@{CHAMPION}"


def use_store(uri: str) -> None:
    """Point MLflow's module-level API at ``uri`` without changing this process's environment.

    ``mlflow.set_tracking_uri`` (and ``set_registry_uri``) also export the URI as
    ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``; ``tracking_uri()`` would then read MLflow's
    own choice back as the user's, and ``REDFLAG_HOME`` would silently stop working for the rest
    of a long-lived process (a notebook, a test session).
    """
    import mlflow

    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
