"""The site commands end to end through the real ``redflag`` CLI against a real MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.loader import load_model
from features.log_odds import sigmoid
from features.store import MODEL_NAME
from tests.training.site.conftest import SiteStore, site_file
from training.cli import app

runner = CliRunner()
VALIDATION = f"{MODEL_NAME}-validation"


def run(*args: str) -> object:
    return runner.invoke(app, list(args))


def test_validate_writes_every_figure_a_report_and_a_run(site_store: SiteStore) -> None:
    data = site_file(site_store.files, "site.parquet", 8_000, 21, "emergency", 0.05)
    report, figures = site_store.files / "report.html", site_store.files / "figures.json"
    result = run("validate", "--data", str(data), "--report", str(report), "--json",
                 str(figures))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "AUROC:" in result.output and "Deyo rule positive" in result.output
    payload = json.loads(figures.read_text())
    m = payload["metrics"]
    assert m["auroc_ci_low"] < m["auroc"] < m["auroc_ci_high"]
    assert m["auprc_ci_low"] < m["auprc"] < m["auprc_ci_high"]
    assert m["calibration_slope_ci_low"] < m["calibration_slope"] < m["calibration_slope_ci_high"]
    assert all(r["ci_low"] <= r["observed"] <= r["ci_high"] for r in payload["calibration_curve"])
    rules = [r["rule"] for r in payload["classification"]]
    assert len(rules) == 4 and "urgent rules fired" in rules
    assert {r["score"] for r in payload["comparators"]} == {"Deyo rule", "red-flag count"}
    variables = {r["variable"] for r in payload["subgroups"]}
    assert variables == {"sex", "age_band", "history_of_cancer"}
    assert all(r["withheld"] or r["n_positive"] >= 10 for r in payload["subgroups"])
    html = report.read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")
    experiment = site_store.client.get_experiment_by_name(VALIDATION)
    (logged,) = site_store.client.search_runs([experiment.experiment_id])
    assert logged.data.tags["model_version"] == "1"
    assert logged.data.tags["data_digest"] == payload["data"]["digest"]
    names = {a.path for a in site_store.client.list_artifacts(logged.info.run_id)}
    assert names == {"validation.json", "validation_report.html"}  # figures, never the cases


def test_a_missed_gate_exits_1_after_writing_the_figures(site_store: SiteStore) -> None:
    data = site_file(site_store.files, "gate.csv", 3_000, 22, "emergency", 0.05)
    figures = site_store.files / "gate.json"
    result = run("validate", "--data", str(data), "--json", str(figures),
                 "--fail-under", "auroc=0.999,slope_low=0.8")  # fmt: skip
    assert result.exit_code == 1
    assert "FAILED: auroc" in result.output and figures.exists()
    assert run("validate", "--data", str(data), "--fail-under", "auroc0.8").exit_code == 2


def test_a_bad_file_is_one_line_naming_column_and_row_and_nothing_logged(
    tmp_path: Path, site_store: SiteStore
) -> None:
    before = site_store.client.search_experiments()
    cases, _ = __import__("training.cohort.simulate", fromlist=["x"]).simulate_with_latents(
        500, 3, "emergency", prevalence=0.2
    )
    cases["age"] = cases["age"].astype(object)
    cases.loc[4, "age"] = "old"
    path = tmp_path / "bad.csv"
    cases.to_csv(path, index=False)
    result = run("validate", "--data", str(path))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "'age'" in result.output and "row 5" in result.output
    assert len(site_store.client.search_experiments()) == len(before)


def test_recalibrate_registers_a_challenger_that_explains_exactly(site_store: SiteStore) -> None:
    data = site_file(site_store.files, "recal.parquet", 10_000, 23, "emergency", 0.05)
    result = run("recalibrate", "--data", str(data))
    assert result.exit_code == 0, result.output
    version = result.output.split()[1]
    client = site_store.client
    assert str(client.get_model_version_by_alias(MODEL_NAME, "challenger").version) == version
    tags = client.get_model_version(MODEL_NAME, version).tags
    assert tags["recalibrated_from_version"] == "1"
    figures = json.loads(tags["recalibration"])
    assert abs(figures["after"]["calibration_intercept"]) < abs(
        figures["before"]["calibration_intercept"]
    )
    assert figures["after"]["auroc"] == pytest.approx(figures["before"]["auroc"])
    model = load_model(f"models:/{MODEL_NAME}/{version}", client.tracking_uri)
    cases = pd.read_parquet(data).head(200)
    _, base, contributions = model.pipeline.explain(cases)
    assert np.allclose(
        sigmoid(base + contributions.sum(axis=1)), model.pipeline.predict_risk(cases)
    )
    promoted = run("promote", "--version", version, "--force", "--reason", "site recalibration",
                   "--n-cases", "20000")  # fmt: skip
    assert promoted.exit_code == 0, promoted.output
    assert f"champion: version {version}" in promoted.output


def test_recalibration_is_refused_with_too_few_events(site_store: SiteStore) -> None:
    few = site_file(site_store.files, "few.csv", 1_500, 24, "emergency", 0.02)
    result = run("recalibrate", "--data", str(few))
    assert result.exit_code == 2 and "at least 20 are needed" in result.output
    some = site_file(site_store.files, "some.csv", 3_000, 25, "emergency", 0.05)
    result = run("recalibrate", "--data", str(some), "--method", "logistic")
    assert result.exit_code == 2 and "needs at least 100 events" in result.output


@pytest.mark.parametrize("prevalence", [0.007, 0.05, 0.25])
def test_prevalence_is_estimated_within_20_percent(
    site_store: SiteStore, prevalence: float
) -> None:
    """A model trained at the emergency department's prevalence (1.5%); cohorts at primary
    care's (0.7%), 5% and oncology's (25%), the emergency mix of causes kept."""
    name = f"prevalence-{prevalence}.parquet"
    data = site_file(site_store.files, name, 30_000, 26, "emergency", prevalence)
    truth = float(pd.read_parquet(data)["spinal_malignancy"].mean())
    model_uri = f"runs:/{site_store.result.run_id}/model"
    result = run("prevalence", "--data", str(data), "--model-uri", model_uri)
    assert result.exit_code == 0, result.output
    line = next(li for li in result.output.splitlines() if li.startswith("estimated prevalence"))
    estimate = float(line.split()[2])
    assert abs(estimate - truth) <= 0.2 * truth, (estimate, truth)
    assert "REDFLAG_SITE_PREVALENCE=" in result.output


def test_drift_of_files(site_store: SiteStore) -> None:
    uri = f"runs:/{site_store.result.run_id}/model"
    fresh = site_file(site_store.files, "fresh.parquet", 10_000, 27, "emergency", 0.015)
    report = json.loads(run("drift", "--data", str(fresh), "--model-uri", uri, "--json").output)
    assert report["status"] == "ok" and len(report["drifting"]) <= 0.05 * len(report["features"])
    other = site_file(site_store.files, "oncology.parquet", 10_000, 28, "oncology", 0.25)
    table = run("drift", "--data", str(other), "--model-uri", uri)
    assert table.exit_code == 0 and "DRIFT" in table.output


def test_a_model_without_a_reference_says_so(site_store: SiteStore, tmp_path: Path) -> None:
    from training.tracking import log_model

    model = load_model(f"runs:/{site_store.result.run_id}/model", site_store.client.tracking_uri)
    cases = pd.read_parquet(site_file(tmp_path, "c.parquet", 600, 29, "emergency", 0.05))
    from training.tracking import connect, ensure_experiment

    # Logged the way models were before reference profiles (in a store experiment, not ./mlruns).
    with mlflow.start_run(experiment_id=ensure_experiment(connect(), "before-profiles")):
        info = log_model(model.pipeline, cases)
    uri = f"models:/{MODEL_NAME}/{info.registered_model_version}"
    result = run("drift", "--data", str(tmp_path / "c.parquet"), "--model-uri", uri)
    assert result.exit_code == 2 and "no drift reference" in result.output
