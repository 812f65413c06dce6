"""`redflag compare`: the run listing in every format, and two runs on one fresh cohort."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from tests.training.conftest import EXPERIMENT, SEED, TrainedStore
from training.cli import app
from training.defaults import FRESH_COHORT_SEED, ModelKind
from training.evaluation.compare import compare_pair, experiment_runs, sort_runs

runner = CliRunner()


def _compare(*args: str) -> str:
    result = runner.invoke(app, ["compare", "--experiment", EXPERIMENT, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_table_lists_every_run_with_intervals_and_registry(trained_store: TrainedStore) -> None:
    lines = _compare().splitlines()
    assert lines[0].split()[:7] == [
        "run_id",
        "model",
        "setting",
        "n_cases",
        "version",
        "alias",
        "auroc",
    ]
    body = lines[2:]
    assert len(body) == len(list(ModelKind))
    for model, result in trained_store.runs.items():
        row = next(line for line in body if line.startswith(result.run_id))
        assert f" {model} " in row and f" {result.version} " in row
        m = result.metrics
        assert f"{m['auroc_ci_low']:.3f}-{m['auroc_ci_high']:.3f}" in row


def test_csv_is_sorted_best_auroc_first(trained_store: TrainedStore) -> None:
    rows = list(csv.DictReader(io.StringIO(_compare("--format", "csv", "--sort", "auroc"))))
    assert {row["run_id"] for row in rows} == {r.run_id for r in trained_store.runs.values()}
    aurocs = [float(row["auroc"]) for row in rows]
    assert aurocs == sorted(aurocs, reverse=True)
    assert rows[-1]["model"] == "deyo-rule"
    assert sum(row["alias"] == "champion" for row in rows) <= 1


def test_json_carries_numbers_and_aliases(trained_store: TrainedStore) -> None:
    records = json.loads(_compare("--format", "json", "--sort", "brier"))
    briers = [r["brier"] for r in records]
    assert briers == sorted(briers)
    by_run = {r["run_id"]: r for r in records}
    xgb = trained_store.runs["xgboost"]
    assert by_run[xgb.run_id]["auroc"] == pytest.approx(xgb.metrics["auroc"])
    champion = trained_store.client.get_model_version_by_alias(
        "redflag-spinal-malignancy", "champion"
    )
    assert [r["version"] for r in records if r["alias"] and "champion" in r["alias"]] == [
        str(champion.version)
    ]


def test_markdown_is_a_table(trained_store: TrainedStore) -> None:
    lines = _compare("--format", "markdown").splitlines()
    assert lines[1].startswith("|---|")
    assert len(lines) == 2 + len(list(ModelKind))
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[2:])


def test_sort_by_calibration_slope_puts_the_nearest_to_one_first(
    trained_store: TrainedStore,
) -> None:
    rows = sort_runs(experiment_runs(trained_store.client, EXPERIMENT), "calibration_slope")
    gaps = [abs(r.calibration_slope - 1) for r in rows]
    assert gaps == sorted(gaps)


def test_two_runs_on_a_fresh_cohort(trained_store: TrainedStore) -> None:
    a, b = trained_store.runs["deyo-rule"].run_id, trained_store.runs["xgboost"].run_id
    comparison = compare_pair(trained_store.client, a, b, n_cases=20_000, n_boot=200)
    assert comparison.seed == FRESH_COHORT_SEED != SEED
    auroc, brier = comparison.differences
    assert auroc.ci_low <= auroc.difference <= auroc.ci_high
    assert auroc.ci_low > 0  # XGBoost is better than the Deyo rule on fresh cases
    assert brier.difference == pytest.approx(brier.b - brier.a)
    assert auroc.a == pytest.approx(comparison.metrics_a["auroc"])


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_two_run_output_in_each_format(trained_store: TrainedStore, fmt: str) -> None:
    a, b = trained_store.runs["logistic"].run_id, trained_store.runs["red-flag-count"].run_id
    out = _compare(a, b, "--n-cases", "5000", "--format", fmt)
    if fmt == "json":
        payload = json.loads(out)
        assert payload["run_a"] == a and payload["cohort"]["seed"] == FRESH_COHORT_SEED
        metrics = {m["metric"]: m for m in payload["metrics"]}
        assert metrics["auroc"]["ci_low"] <= metrics["auroc"]["difference_b_minus_a"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [r["metric"] for r in rows][:2] == ["auroc", "brier"]
    else:
        assert a in out.splitlines()[0] and "5,000 cases" in out
        assert ("| auroc |" in out) == (fmt == "markdown")


def test_a_training_seed_is_refused_for_the_fresh_cohort(trained_store: TrainedStore) -> None:
    a, b = trained_store.runs["logistic"].run_id, trained_store.runs["xgboost"].run_id
    result = runner.invoke(app, ["compare", a, b, "--seed", str(SEED)])
    assert result.exit_code == 2
    assert "training seed" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["only-one"], "give two run ids"),
        (["nope-a", "nope-b"], "unknown run 'nope-a'"),
        (["--format", "yaml"], "--format"),
        (["--sort", "vibes"], "--sort"),
        (["--experiment", "missing"], "no experiment named 'missing'"),
    ],
)
def test_bad_input_is_one_clear_line(
    trained_store: TrainedStore, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["compare", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
