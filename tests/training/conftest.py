"""A temporary MLflow store with the four models trained once for the training tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from training.fit import MODELS, TrainOptions, TrainResult, train

# Emergency-department prevalence (1.5%) gives ~60 positive test cases in 20k: enough for every
# metric, small enough to train four models in seconds.
N_CASES = 20_000
SEED = 7
SETTING = "emergency"
EXPERIMENT = "redflag-tests"


@dataclass(frozen=True)
class TrainedStore:
    """The session's store: its directory, client and one training result per model."""

    home: Path
    client: MlflowClient
    runs: dict[str, TrainResult]
    options: dict[str, TrainOptions]


def options_for(model: str, **changes: object) -> TrainOptions:
    """The options the session store was trained with, for ``model``."""
    fields: dict[str, object] = {
        "n_cases": N_CASES,
        "seed": SEED,
        "setting": SETTING,
        "experiment": EXPERIMENT,
        "model": model,
        "n_bootstrap": 200,
        # A faster learning rate stops early in a third of the rounds: the session trains quicker.
        "params": {"learning_rate": 0.15} if model == "xgboost" else {},
    }
    fields.update(changes)
    return TrainOptions(**fields)  # type: ignore[arg-type]


# Package scope: the store and its environment are gone before other test packages run.
@pytest.fixture(scope="package")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedStore]:
    """xgboost first (so it is champion), then the three baselines (challengers)."""
    home = tmp_path_factory.mktemp("redflag-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("REDFLAG_HOME", str(home))
        from training.registry import connect

        options = {model: options_for(model) for model in MODELS}
        runs = {model: train(options[model]) for model in MODELS}
        yield TrainedStore(home, connect(), runs, options)
