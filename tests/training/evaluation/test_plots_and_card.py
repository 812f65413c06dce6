"""Each run carries its plots, evaluation table and model card as artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from PIL import Image

from features.intended_use import INTENDED_USE, NOT_A_MEDICAL_DEVICE
from tests.training.conftest import TrainedStore
from training.defaults import ModelKind
from training.evaluation.plots import EXTERNAL_PLOT, PLOT_NAMES


@pytest.mark.parametrize("model", list(ModelKind))
def test_plots_exist_and_are_images(
    trained_store: TrainedStore, model: str, tmp_path: Path
) -> None:
    run_id = trained_store.runs[model].run_id
    local = Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{run_id}/plots",
            dst_path=tmp_path,
            tracking_uri=trained_store.client.tracking_uri,
        )
    )
    assert sorted(p.name for p in local.iterdir()) == sorted([*PLOT_NAMES, EXTERNAL_PLOT])
    for name in [*PLOT_NAMES, EXTERNAL_PLOT]:
        with Image.open(local / name) as image:
            assert image.size[0] > 300 and image.size[1] > 300


def test_model_card_reports_use_data_metrics_subgroups_and_limits(
    trained_store: TrainedStore, tmp_path: Path
) -> None:
    result = trained_store.runs["xgboost"]
    path = mlflow.artifacts.download_artifacts(
        f"runs:/{result.run_id}/model_card.md",
        dst_path=tmp_path,
        tracking_uri=trained_store.client.tracking_uri,
    )
    card = Path(path).read_text()
    m = result.metrics
    assert INTENDED_USE in card and NOT_A_MEDICAL_DEVICE in card
    assert "simulated" in card and result.run_id in card
    assert f"{m['auroc']:.3f} ({m['auroc_ci_low']:.3f}-{m['auroc_ci_high']:.3f})" in card
    for heading in ("## Training data", "## Subgroups", "## Limitations"):
        assert heading in card
    assert "| sex | female |" in card and "| age_band | 80+ |" in card


def test_evaluation_table_matches_the_logged_metrics(
    trained_store: TrainedStore, tmp_path: Path
) -> None:
    result = trained_store.runs["logistic"]
    path = mlflow.artifacts.download_artifacts(
        f"runs:/{result.run_id}/evaluation.json",
        dst_path=tmp_path,
        tracking_uri=trained_store.client.tracking_uri,
    )
    table = json.loads(Path(path).read_text())
    logged = trained_store.client.get_run(result.run_id).data.metrics
    assert table["metrics"]["auroc"] == pytest.approx(logged["test_auroc"])
    assert len(table["decision_curve"]) > 50
    assert {row["variable"] for row in table["subgroups"]} == {"setting", "sex", "age_band"}
    assert sum(row["n"] for row in table["calibration_curve"]) == table["metrics"]["n_cases"]


def test_each_run_logs_the_cohort_report(trained_store: TrainedStore, tmp_path: Path) -> None:
    from training.cohort.targets import TARGETS

    result = trained_store.runs["xgboost"]
    uri = trained_store.client.tracking_uri
    report = Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{result.run_id}/cohort_report.txt", dst_path=tmp_path, tracking_uri=uri
        )
    ).read_text()
    card = Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{result.run_id}/model_card.md", dst_path=tmp_path, tracking_uri=uri
        )
    ).read_text()
    assert "Prevalence" in report and "Diagnosis mix" in report
    for target in TARGETS:
        assert target.name in report
    assert report.splitlines()[3] in card  # the card carries the same table
