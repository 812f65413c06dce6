"""What every site command starts from: the model taken to the site, and the site's cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.loader import LoadedModel, load_model
from features.store import MODEL_NAME, default_model_uri, tracking_uri
from training.atomic import written_atomically


class SiteError(ValueError):
    """A site command that cannot go on; the message says why and what to change."""


def load_site_model(uri: str | None) -> LoadedModel:
    """The registered model named by ``uri`` (default: the champion)."""
    return load_model(uri or default_model_uri(), tracking_uri())


def model_name(model: LoadedModel) -> str:
    """The registered name of ``model`` (the project's model name for a run URI)."""
    return model.identity.name or MODEL_NAME


def data_digest(cases: pd.DataFrame, name: str) -> str:
    """MLflow's digest of the cases: the same one ``redflag train --data`` tags its run with."""
    from training.tracking import training_dataset

    return str(training_dataset(cases, name).digest)


def labels_of(cases: pd.DataFrame, label: str) -> np.ndarray[Any, Any]:
    """The 0/1 outcome column of validated cases."""
    return cases[label].to_numpy(dtype=np.int64)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` all or nothing, refusing a folder that does not exist."""
    if not path.parent.is_dir():
        raise SiteError(f"{path}: folder {path.parent} does not exist")
    with written_atomically(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: Path, payload: Any) -> None:
    """``payload`` as indented JSON (no NaN: JSON has none), all or nothing."""
    write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
