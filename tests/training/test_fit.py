"""Training each model into the store: options, logged metrics, tags, tuning and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from features.store import MODEL_NAME
from training.cli import app
from training.defaults import ModelKind
from training.fit import TrainingError
from training.run import TrainOptions, train

from .conftest import EXPERIMENT, TrainedStore, options_for


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "forest"}, "--model"),
        ({"model": "deyo-rule", "tune_trials": 3}, "--tune"),
        ({"tune_trials": -1}, "--tune"),
        ({"threshold": 0.0}, "--threshold"),
        ({"threshold": 1.5}, "--threshold"),
    ],
)
def test_options_that_cannot_work_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        TrainOptions(**changes).validate()  # type: ignore[arg-type]


def test_every_model_is_logged_evaluated_and_registered(trained_store: TrainedStore) -> None:
    client = trained_store.client
    for model in list(ModelKind):
        result = trained_store.runs[model]
        run = client.get_run(result.run_id)
        metrics, tags, params = run.data.metrics, run.data.tags, run.data.params
        assert tags["model"] == params["model"] == model
        low, auroc, high = (metrics[f"test_auroc{s}"] for s in ("_ci_low", "", "_ci_high"))
        assert 0.5 < low <= auroc <= high <= 1.0
        for name in ("brier", "log_loss", "calibration_slope", "calibration_intercept", "ece"):
            assert f"test_{name}" in metrics
        for name in ("sensitivity", "specificity", "npv", "net_benefit"):
            assert f"test_{name}_at_threshold" in metrics
        # XGBoost computes margins and TreeSHAP in float32; the linear baselines are exact.
        limit = 1e-5 if model == "xgboost" else 1e-12
        assert metrics["test_explanation_additivity_error"] < limit
        assert any(key.startswith("test_auroc__sex_") for key in metrics)
        assert any(key.startswith("test_auroc__age_band_") for key in metrics)
        version = client.get_model_version(MODEL_NAME, result.version)
        assert version.run_id == result.run_id


def test_runs_record_commit_packages_and_data(trained_store: TrainedStore) -> None:
    tags = trained_store.client.get_run(trained_store.runs["xgboost"].run_id).data.tags
    assert tags["git_commit"] and tags["data_digest"]
    versions = json.loads(tags["package_versions"])
    assert {"python", "numpy", "scikit-learn", "mlflow", "shap"} <= set(versions)


def test_the_first_model_is_champion_and_the_baselines_challengers(
    trained_store: TrainedStore,
) -> None:
    assert trained_store.runs["xgboost"].alias == "champion"
    assert {trained_store.runs[m].alias for m in list(ModelKind)[1:]} == {"challenger"}


def test_xgboost_discriminates_better_than_the_deyo_rule(trained_store: TrainedStore) -> None:
    xgb, deyo = trained_store.runs["xgboost"].metrics, trained_store.runs["deyo-rule"].metrics
    assert xgb["auroc"] > deyo["auroc"]
    assert xgb["auroc_ci_low"] > deyo["auroc"]


def test_tuning_logs_each_trial_as_a_nested_run(trained_store: TrainedStore) -> None:
    result = train(options_for("logistic", experiment="redflag-tuning", tune_trials=3))
    client = trained_store.client
    experiment = client.get_experiment_by_name("redflag-tuning")
    assert experiment is not None
    children = client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    assert len(children) == 3
    assert all("validation_log_loss" in child.data.metrics for child in children)
    best = min(children, key=lambda child: child.data.metrics["validation_log_loss"])
    parent = client.get_run(result.run_id)
    assert parent.data.metrics["tuning_best_validation_log_loss"] == pytest.approx(
        best.data.metrics["validation_log_loss"]
    )
    assert parent.data.params["C"] == best.data.params["C"]  # the final model is the best trial
    assert len({child.data.params["C"] for child in children}) == 3
    assert parent.data.tags["tuned"] == "true"


def test_cli_trains_a_baseline(trained_store: TrainedStore) -> None:
    runner = CliRunner()
    args = ["train", "--model", "red-flag-count", "--n-cases", "5000", "--setting", "oncology"]
    result = runner.invoke(app, [*args, "--experiment", "redflag-cli"])
    assert result.exit_code == 0, result.output
    assert "model:    red-flag-count" in result.output
    assert "auroc_ci_low" in result.output


def test_cli_refuses_an_unknown_model_in_one_line(trained_store: TrainedStore) -> None:
    result = CliRunner().invoke(app, ["train", "--model", "forest", "--experiment", EXPERIMENT])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --model must be one of xgboost, logistic, deyo-rule, red-flag-count, got 'forest'"
    ]
