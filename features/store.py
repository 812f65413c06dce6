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


def is_embedded(uri: str) -> bool:
    """True for the default sqlite store under ``mlruns/``, whose artifacts we place ourselves."""
    return uri == f"sqlite:///{default_store_dir() / 'mlflow.db'}"


def default_model_uri() -> str:
    """The registry URI that serving loads unless told otherwise."""
    return f"models:/{MODEL_NAME}@{CHAMPION}"
