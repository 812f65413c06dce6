"""External validity: a real trained model on the external cohort, logged, carded and compared."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from features.store import DEFAULT_EXPERIMENT
from tests.conftest import ChampionStore
from tests.training.site.conftest import site_file
from training.cli import app
from training.defaults import EXTERNAL_COHORT_SEED, MIN_EXTERNAL_CASES
from training.evaluation.compare import experiment_runs, format_runs
from training.evaluation.external import (
    ExternalValidity,
    ExternalValidityError,
    ceiling_auroc,
    check_external_cases,
    default_external_cases,
    external_validity,
)
from training.evaluation.model_card import external_section
from training.fit import TrainingError
from training.run import TrainOptions
from training.site.inputs import SiteError
from training.site.validate import ValidationOptions

SMALL = 5_000
METRICS = {
    "external_auroc",
    "external_ceiling_auroc",
    "external_share_retained",
    "external_calibration_slope",
    "external_calibration_intercept",
}


def test_a_trained_model_against_the_cohorts_own_ceiling(champion_store: ChampionStore) -> None:
    validity = external_validity(champion_store.model.pipeline, SMALL)
    assert 0.75 < validity.auroc < 1 and 0.75 < validity.ceiling_auroc < 1
    assert validity.share_retained == pytest.approx(validity.auroc / validity.ceiling_auroc)
    assert 0.3 < validity.calibration_slope < 2 and abs(validity.calibration_intercept) < 1.5
    assert validity.n_positive == round(SMALL * 0.007) and validity.seed == EXTERNAL_COHORT_SEED
    assert sum(row["n"] for row in validity.calibration) == SMALL
    assert set(validity.metrics()) >= METRICS
    # The ceiling is fitted once per (size, seed): a second model reuses it.
    hits = ceiling_auroc.cache_info().hits
    again = external_validity(champion_store.model.pipeline, SMALL)
    assert ceiling_auroc.cache_info().hits == hits + 1 and again == validity


def test_train_logs_the_external_figures_the_plot_and_the_card(
    champion_store: ChampionStore, tmp_path: Path
) -> None:
    client = MlflowClient(champion_store.tracking_uri)
    run_id = champion_store.result.run_id
    logged = client.get_run(run_id).data.metrics
    assert METRICS <= set(logged)
    assert logged["external_share_retained"] == pytest.approx(
        logged["external_auroc"] / logged["external_ceiling_auroc"]
    )
    assert logged["external_n_cases"] == default_external_cases(30_000)
    assert champion_store.result.metrics["external_auroc"] == logged["external_auroc"]
    card = Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{run_id}/model_card.md", dst_path=tmp_path, tracking_uri=client.tracking_uri
        )
    ).read_text()
    assert "## External validity" in card and "neither figure is performance on patients" in card
    assert f"| share of the ceiling retained | {logged['external_share_retained']:.1%} |" in card
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert "plots/external_calibration.png" in plots


def test_compare_lists_the_external_figures(
    champion_store: ChampionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = MlflowClient(champion_store.tracking_uri)
    (row,) = experiment_runs(client, DEFAULT_EXPERIMENT)
    logged = client.get_run(row.run_id).data.metrics
    assert row.external_share_retained == logged["external_share_retained"]
    table = format_runs([row], "table")
    assert "ext_share" in table and f"{row.external_share_retained:.1%}" in table
    monkeypatch.setenv("REDFLAG_HOME", str(champion_store.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = CliRunner().invoke(app, ["compare", "--sort", "external_share_retained"])
    assert result.exit_code == 0, result.output
    assert f"{row.external_auroc:.3f}" in result.output


def test_validate_logs_the_external_figures(
    champion_store: ChampionStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDFLAG_HOME", str(champion_store.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = site_file(tmp_path, "site.parquet", 3_000, 31, "emergency", 0.05)
    args = ["validate", "--data", str(data), "--external-cases", str(SMALL)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = external_validity(champion_store.model.pipeline, SMALL)
    assert f"external:     AUROC {expected.auroc:.3f}" in result.output
    client = MlflowClient(champion_store.tracking_uri)
    experiment = client.get_experiment_by_name("redflag-spinal-malignancy-validation")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["external_auroc"] == pytest.approx(expected.auroc)


def test_a_card_without_the_check_says_so() -> None:
    assert "Not measured" in "\n".join(external_section(None))
    validity = ExternalValidity(0.9, 0.95, 0.9 / 0.95, math.nan, 0.1, 5_000, 35, 1)
    assert "external_calibration_slope" not in validity.metrics()  # undefined: not logged
    assert "94.7%" in "\n".join(external_section(validity))


@pytest.mark.parametrize("n_cases", [-1, 1, MIN_EXTERNAL_CASES - 1])
def test_bad_sizes_are_refused_by_option(n_cases: int, tmp_path: Path) -> None:
    with pytest.raises(ExternalValidityError, match="--external-cases must be 0"):
        check_external_cases(n_cases)
    with pytest.raises(TrainingError, match="--external-cases"):
        TrainOptions(external_cases=n_cases).validate()
    options = ValidationOptions(data=tmp_path / "x.csv", external_cases=n_cases)
    with pytest.raises(SiteError, match="--external-cases"):
        options.validate()
    result = CliRunner().invoke(app, ["train", "--external-cases", str(n_cases)])
    assert result.exit_code == 2 and "error: --external-cases" in result.output


def test_sizes_follow_the_run_and_zero_switches_the_check_off() -> None:
    assert default_external_cases(1_000_000) == 50_000
    assert default_external_cases(30_000) == 30_000
    assert default_external_cases(500) == MIN_EXTERNAL_CASES
    options = dataclasses.replace(TrainOptions(), external_cases=0)
    options.validate()
    assert options.external_cases_for(1_000_000) == 0
