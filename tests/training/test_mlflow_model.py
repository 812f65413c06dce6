"""The logged model through MLflow's own tools, and the registry aliases."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.record import CaseRecord
from features.store import MODEL_NAME, use_store
from serving.responses import explain_cases
from tests.conftest import ChampionStore
from training.fit import TrainingError
from training.run import TrainOptions, train
from training.tracking import version_by_alias


def test_first_model_is_champion(champion_store: ChampionStore) -> None:
    assert champion_store.result.alias == "champion"
    assert champion_store.model.identity.version == champion_store.result.version
    assert champion_store.model.identity.run_id == champion_store.result.run_id


def test_pyfunc_gives_the_api_probability(
    champion_store: ChampionStore, fresh_cases: pd.DataFrame
) -> None:
    use_store(champion_store.tracking_uri)  # earlier tests may have moved MLflow elsewhere
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    sample = fresh_cases.head(300).drop(columns=["spinal_malignancy", "diagnosis"])
    # As a data scientist would build it: plain Python values, unrecorded fields left out.
    rows = [{k: v for k, v in r.items() if not pd.isna(v)} for r in sample.to_dict("records")]
    from_pyfunc = np.asarray(pyfunc.predict(pd.DataFrame(rows)))[:, 1]
    cases = [CaseRecord(**r) for r in rows]
    from_api = [r["probability"] for r in explain_cases(champion_store.model, cases, (0.01, 0.05))]
    np.testing.assert_allclose(from_pyfunc, from_api, rtol=1e-9, atol=1e-12)


def test_run_records_what_it_was_trained_on(champion_store: ChampionStore) -> None:
    run = MlflowClient(champion_store.tracking_uri).get_run(champion_store.result.run_id)
    assert run.data.params["seed"] == "7"
    assert run.data.params["n_cases"] == "30000"
    assert run.data.params["setting"] == "emergency"
    assert len(run.data.tags["data_digest"]) >= 8
    for name in ("test_auroc", "test_auprc", "test_brier", "test_log_loss"):
        assert name in run.data.metrics
    assert 0.5 < run.data.metrics["test_auroc"] <= 1.0


def test_signature_leaves_clinical_fields_optional(champion_store: ChampionStore) -> None:
    use_store(champion_store.tracking_uri)
    info = mlflow.models.get_model_info(champion_store.result.model_uri)
    required = {c.name for c in info.signature.inputs.inputs if c.required}
    assert required == {"age"}


def test_second_model_is_challenger(
    champion_store: ChampionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDFLAG_HOME", str(champion_store.home))
    # Without the evidence interval: its members (10,000 cases each) are not what is tested here.
    result = train(TrainOptions(n_cases=5_000, seed=8, setting="oncology", interval_members=0))
    client = MlflowClient(champion_store.tracking_uri)
    assert result.alias == "challenger"
    champion = version_by_alias(client, "champion")
    assert champion is not None and str(champion.version) == champion_store.result.version


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (TrainOptions(n_cases=10), "--n-cases"),
        (TrainOptions(setting="moon"), "--setting"),
        (TrainOptions(seed=-1), "--seed"),
        (TrainOptions(experiment=" "), "--experiment"),
    ],
)
def test_bad_options_fail_before_touching_the_store(
    options: TrainOptions, message: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDFLAG_HOME", str(tmp_path))
    with pytest.raises(TrainingError, match=message):
        train(options)
    assert not (tmp_path / "mlruns").exists()  # type: ignore[operator]


def test_a_sqlite_store_elsewhere_keeps_its_artifacts_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, workdir = tmp_path / "team-store", tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}/mlflow.db")
    result = train(TrainOptions(n_cases=2_000, seed=3, setting="oncology", interval_members=0))
    assert result.version == "1"
    assert (store / "artifacts").is_dir()
    assert list(workdir.iterdir()) == []  # nothing in the working directory's ./mlruns
