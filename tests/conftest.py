"""Fixtures shared across the suite: one small model trained into a temporary MLflow store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from features.loader import LoadedModel, load_model
from features.store import tracking_uri
from training.cohort.simulate import simulate_cohort
from training.run import TrainOptions, TrainResult, train


@dataclass(frozen=True)
class ChampionStore:
    home: Path
    tracking_uri: str
    result: TrainResult
    model: LoadedModel


@pytest.fixture(scope="session")
def champion_store(tmp_path_factory: pytest.TempPathFactory) -> ChampionStore:
    # The environment points at the store only while training: a session-long change would
    # leak into every later test (and into other fixtures' stores).
    home = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REDFLAG_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = train(TrainOptions(n_cases=30_000, seed=7, setting="emergency"))
        uri = tracking_uri()
    model = load_model("models:/redflag-spinal-malignancy@champion", uri)
    return ChampionStore(home, uri, result, model)


@pytest.fixture(scope="session")
def fresh_cases() -> pd.DataFrame:
    """Cases the model has not seen (another seed)."""
    return simulate_cohort(3_000, seed=1234, setting="emergency")
