"""`redflag promote`: the gate both ways, what it records, and every bad input refused cleanly."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from features.loader import load_model
from features.store import MODEL_NAME
from serving.responses import explain_cases
from training.cli import app
from training.evaluation.compare import PairComparison, RunModel
from training.promote import gate

from .conftest import TrainedStore

runner = CliRunner()
GATE = ["--n-cases", "20000"]


def _champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)


def _tags(client: MlflowClient, version: str) -> dict[str, str]:
    return dict(client.get_model_version(MODEL_NAME, version).tags)


@pytest.fixture
def xgboost_champion(trained_store: TrainedStore) -> Iterator[TrainedStore]:
    """Each test starts with the XGBoost model as champion and leaves it so."""
    client = trained_store.client
    version = trained_store.runs["xgboost"].version
    client.set_registered_model_alias(MODEL_NAME, "champion", version)
    yield trained_store
    client.set_registered_model_alias(MODEL_NAME, "champion", version)


def test_a_worse_candidate_is_refused_and_nothing_is_written(
    xgboost_champion: TrainedStore,
) -> None:
    client = xgboost_champion.client
    deyo = xgboost_champion.runs["deyo-rule"]
    before = _tags(client, deyo.version)
    result = runner.invoke(app, ["promote", "--run", deyo.run_id, *GATE])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0] and "AUROC" in lines[0]
    assert _champion(client) == xgboost_champion.runs["xgboost"].version
    assert _tags(client, deyo.version) == before


def test_force_promotes_and_records_why(xgboost_champion: TrainedStore) -> None:
    client = xgboost_champion.client
    deyo, xgb = xgboost_champion.runs["deyo-rule"], xgboost_champion.runs["xgboost"]
    args = ["promote", "--version", deyo.version, "--force", "--reason", "audit baseline", *GATE]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _champion(client) == deyo.version
    tags = _tags(client, deyo.version)
    assert tags["previous_champion"] == xgb.version
    assert tags["promotion_reason"] == "audit baseline"
    assert tags["promotion_forced"] == "true" and tags["promotion_gate"] == "refused, forced"
    comparison = json.loads(tags["promotion_comparison"])
    assert comparison["champion_version"] == xgb.version
    auroc = next(m for m in comparison["metrics"] if m["metric"] == "auroc")
    assert auroc["difference_b_minus_a"] < 0 and comparison["refusal_reasons"]


def test_a_better_candidate_passes_the_gate(xgboost_champion: TrainedStore) -> None:
    client = xgboost_champion.client
    deyo, xgb = xgboost_champion.runs["deyo-rule"], xgboost_champion.runs["xgboost"]
    client.set_registered_model_alias(MODEL_NAME, "champion", deyo.version)
    # Calibration tolerance wide: this checks the AUROC side; `gate` is tested on both below.
    args = ["promote", "--run", xgb.run_id, "--calibration-tolerance", "1", *GATE]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _champion(client) == xgb.version
    tags = _tags(client, xgb.version)
    assert tags["promotion_gate"] == "passed" and tags["promotion_forced"] == "false"
    assert tags["previous_champion"] == deyo.version


def test_without_a_champion_the_candidate_is_promoted_ungated(
    xgboost_champion: TrainedStore,
) -> None:
    client = xgboost_champion.client
    client.delete_registered_model_alias(MODEL_NAME, "champion")
    logistic = xgboost_champion.runs["logistic"]
    result = runner.invoke(app, ["promote", "--version", logistic.version, "--reason", "first"])
    assert result.exit_code == 0, result.output
    assert "previous champion: none" in result.output
    assert _champion(client) == logistic.version
    tags = _tags(client, logistic.version)
    assert tags["promotion_gate"] == "none (no champion)" and tags["previous_champion"] == "none"
    assert "promotion_comparison" not in tags


def _comparison(a: dict[str, float], b: dict[str, float]) -> PairComparison:
    base = {"brier": 0.01, "ece": 0.01, "n_positive": 100.0}
    run = RunModel("r", "xgboost", "primary_care", 1, None)  # type: ignore[arg-type]
    return PairComparison(run, run, "primary_care", 1000, 3, base | a, base | b, [])


@pytest.mark.parametrize(
    ("candidate", "refused_on"),
    [
        ({"auroc": 0.895, "calibration_slope": 1.0, "calibration_intercept": 0.0}, None),
        ({"auroc": 0.88, "calibration_slope": 1.0, "calibration_intercept": 0.0}, "AUROC"),
        ({"auroc": 0.95, "calibration_slope": 0.8, "calibration_intercept": 0.0}, "slope"),
        ({"auroc": 0.95, "calibration_slope": 1.0, "calibration_intercept": -0.3}, "intercept"),
        ({"auroc": 0.95, "calibration_slope": float("nan"), "calibration_intercept": 0}, "slope"),
    ],
)
def test_gate_on_discrimination_and_calibration(
    candidate: dict[str, float], refused_on: str | None
) -> None:
    champion = {"auroc": 0.90, "calibration_slope": 0.95, "calibration_intercept": 0.05}
    reasons = gate(_comparison(champion, candidate), 0.01, 0.1)
    if refused_on is None:
        assert reasons == []
    else:
        assert len(reasons) == 1 and refused_on in reasons[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --run and --version"),
        (["--run", "x", "--version", "1"], "exactly one of --run and --version"),
        (["--run", "no-such-run"], "unknown run 'no-such-run'"),
        (["--version", "999"], "no version '999'"),
    ],
)
def test_bad_input_is_one_clear_line_and_changes_nothing(
    xgboost_champion: TrainedStore, args: list[str], message: str
) -> None:
    client = xgboost_champion.client
    before = _champion(client)
    result = runner.invoke(app, ["promote", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert _champion(client) == before


def test_a_run_without_a_registered_model_is_refused(xgboost_champion: TrainedStore) -> None:
    client = xgboost_champion.client
    experiment = client.get_experiment_by_name("redflag-tests")
    assert experiment is not None
    bare = client.create_run(experiment.experiment_id)
    client.set_terminated(bare.info.run_id)
    result = runner.invoke(app, ["promote", "--run", bare.info.run_id])
    assert result.exit_code == 2 and "no registered model version" in result.output


def test_promoting_the_champion_again_is_refused(xgboost_champion: TrainedStore) -> None:
    result = runner.invoke(app, ["promote", "--run", xgboost_champion.runs["xgboost"].run_id])
    assert result.exit_code == 2 and "already the champion" in result.output


@pytest.mark.parametrize("model", ["logistic", "deyo-rule", "red-flag-count"])
def test_each_baseline_is_served_and_explained_by_serving(
    trained_store: TrainedStore, model: str
) -> None:
    from features.record import CaseRecord

    version = trained_store.runs[model].version
    loaded = load_model(f"models:/{MODEL_NAME}/{version}", trained_store.client.tracking_uri)
    case = CaseRecord(age=72, history_of_cancer=True, cancer_type="lung", limb_weakness=True)
    [result] = explain_cases(loaded, [case], (0.01, 0.05), setting="primary_care")
    explanation = result["explanation"]
    total = explanation["base_value"] + sum(c["contribution"] for c in explanation["contributions"])
    assert 1 / (1 + math.exp(-total)) == pytest.approx(result["probability"], abs=1e-12)
