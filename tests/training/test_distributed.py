"""Training on a (local, in-process) Dask cluster through xgboost.dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalogue import FEATURE_NAMES
from training.distributed import (
    DaskEngineError,
    dask_client,
    fit_boosted_on_dask,
    simulated_partitions,
)
from training.evaluation.metrics import core_metrics


@pytest.fixture(scope="module")
def dask_model() -> tuple[object, pd.DataFrame]:
    with dask_client(None) as client:
        cases = simulated_partitions(60_000, seed=5, setting="emergency")
        pipeline, test, sizes = fit_boosted_on_dask(client, cases, seed=5, tracker_host="127.0.0.1")
        assert sum(sizes.values()) == 60_000 and len(test) == sizes["test"]
        return pipeline, test


def test_partitions_are_generated_deterministically() -> None:
    first = simulated_partitions(30_000, seed=9, setting="emergency").compute()
    again = simulated_partitions(30_000, seed=9, setting="emergency").compute()
    other = simulated_partitions(30_000, seed=10, setting="emergency").compute()
    assert len(first) == 30_000
    pd.testing.assert_frame_equal(first, again)
    assert not first["age"].equals(other["age"])
    shares = first["_split"].value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(shares.to_numpy(), [0.6, 0.2, 0.2], atol=0.02)


def test_dask_model_is_calibrated_and_discriminates(
    dask_model: tuple[object, pd.DataFrame],
) -> None:
    pipeline, test = dask_model
    y = test["spinal_malignancy"].to_numpy()
    p = pipeline.predict_risk(test)  # type: ignore[attr-defined]
    metrics = core_metrics(y, p)
    assert metrics["auroc"] > 0.8
    assert 0.7 < metrics["calibration_slope"] < 1.3
    assert abs(p.mean() - y.mean()) < 0.01


def test_dask_model_explains_like_a_local_one(dask_model: tuple[object, pd.DataFrame]) -> None:
    pipeline, _ = dask_model
    cases = pd.DataFrame([{"age": 72, "history_of_cancer": True}, {"age": 30}])
    matrix, base, contributions = pipeline.explain(cases)  # type: ignore[attr-defined]
    assert matrix.shape == (2, len(FEATURE_NAMES))
    from_parts = 1 / (1 + np.exp(-(base + contributions.sum(axis=1))))
    np.testing.assert_allclose(from_parts, pipeline.predict_risk(cases), atol=1e-6)  # type: ignore[attr-defined]
    assert from_parts[0] > from_parts[1]


def test_one_class_split_is_refused() -> None:
    with dask_client(None) as client:
        cases = simulated_partitions(1_000, seed=1, setting="primary_care")
        cases = cases.assign(spinal_malignancy=0)
        with pytest.raises(DaskEngineError, match="only one class"):
            fit_boosted_on_dask(client, cases, seed=1, tracker_host="127.0.0.1")


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(DaskEngineError, match="cannot reach the Dask scheduler"):
        with dask_client("tcp://127.0.0.1:9"):
            pass


def test_train_on_dask_registers_an_evaluated_model(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    from features.store import tracking_uri
    from training.run import TrainOptions, train

    monkeypatch.setenv("REDFLAG_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # No evidence interval: its members are fitted locally, not on the cluster under test.
    options = TrainOptions(
        n_cases=40_000, seed=4, setting="emergency", engine="dask", interval_members=0
    )
    result = train(options)
    run = MlflowClient(tracking_uri()).get_run(result.run_id)
    assert run.data.params["engine"] == "dask" and run.data.params["n_cases"] == "40000"
    assert result.metrics["auroc"] > 0.8 and result.alias == "champion"
    assert abs(result.metrics["n_cases"] - 8_000) < 600  # the held-out fifth, evaluated whole


@pytest.mark.parametrize(
    "changes",
    [{"model": "logistic"}, {"tune_trials": 3}, {"scheduler": "tcp://127.0.0.1:8786"}],
    ids=["baseline", "tuning", "scheduler-without-dask"],
)
def test_what_the_dask_engine_cannot_do_is_refused(changes: dict[str, object]) -> None:
    from training.fit import TrainingError
    from training.run import TrainOptions

    engine = "local" if "scheduler" in changes else "dask"
    with pytest.raises(TrainingError, match="--engine"):
        TrainOptions(engine=engine, **changes).validate()  # type: ignore[arg-type]
