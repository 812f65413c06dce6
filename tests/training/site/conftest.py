"""A store with one emergency-department model, and site files simulated around it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from training.cohort.simulate import simulate_with_latents
from training.run import TrainOptions, TrainResult, train


@dataclass(frozen=True)
class SiteStore:
    home: Path
    client: MlflowClient
    result: TrainResult
    files: Path


def site_file(folder: Path, name: str, n: int, seed: int, setting: str, prevalence: float) -> Path:
    """Simulated cases of ``setting`` at ``prevalence`` (its mix of causes kept), as a file."""
    cases, _ = simulate_with_latents(n, seed, setting, prevalence=prevalence)
    path = folder / name
    if path.suffix == ".csv":
        cases.to_csv(path, index=False)
    else:
        cases.to_parquet(path)
    return path


# Package scope: the environment is restored before other test packages run.
@pytest.fixture(scope="package")
def site_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteStore]:
    """100,000 emergency cases: enough events (~900 in training) for calibrated probabilities,
    which the prevalence estimate needs; a fast learning rate keeps it to seconds."""
    home = tmp_path_factory.mktemp("site-home")
    files = tmp_path_factory.mktemp("site-files")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("REDFLAG_HOME", str(home))
        from training.tracking import connect

        # No evidence interval: the site commands never read it, and its eight members (a
        # 100,000-case cohort each) took longer than the model itself.
        options = TrainOptions(
            n_cases=100_000, seed=7, setting="emergency", n_bootstrap=100,
            params={"learning_rate": 0.15}, interval_members=0,
        )  # fmt: skip
        yield SiteStore(home, connect(), train(options), files)
