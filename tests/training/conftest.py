"""Shared by the training tests: simulated cohorts, a store with the four models trained once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from mlflow import MlflowClient

from training.cohort.simulate import simulate_with_latents
from training.defaults import ModelKind
from training.run import TrainOptions, TrainResult, train

Cohort = tuple[pd.DataFrame, dict[str, npt.NDArray[np.generic]]]

PRIMARY_CARE_SIZE = 200_000
OTHER_SETTING_SIZE = 100_000


@pytest.fixture(scope="session")
def primary_care() -> Cohort:
    """The acceptance cohort: 200,000 primary-care cases."""
    return simulate_with_latents(PRIMARY_CARE_SIZE, seed=11, setting="primary_care")


@pytest.fixture(scope="session")
def emergency() -> Cohort:
    return simulate_with_latents(OTHER_SETTING_SIZE, seed=12, setting="emergency")


@pytest.fixture(scope="session")
def oncology() -> Cohort:
    return simulate_with_latents(OTHER_SETTING_SIZE, seed=13, setting="oncology")


@pytest.fixture(scope="session")
def balanced() -> Cohort:
    """Primary-care causes at prevalence 0.5: enough malignant cases for tight checks."""
    return simulate_with_latents(200_000, seed=14, setting="primary_care", prevalence=0.5)


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
        # No test of this package reads the evidence interval (tests/conftest.py's champion and
        # the serving store carry one): its eight member fits were most of each run's time.
        "interval_members": 0,
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
        from training.tracking import connect

        options = {model: options_for(model) for model in list(ModelKind)}
        runs = {model: train(options[model]) for model in list(ModelKind)}
        yield TrainedStore(home, connect(), runs, options)
