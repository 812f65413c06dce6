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
    score_test_sample,
    simulated_partitions,
)
from training.evaluate import core_metrics


@pytest.fixture(scope="module")
def dask_model() -> tuple[object, pd.DataFrame]:
    with dask_client(None) as client:
        cases = simulated_partitions(60_000, seed=5, setting="emergency")
        return fit_boosted_on_dask(client, cases, seed=5, tracker_host="127.0.0.1")


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
    y, p = score_test_sample(pipeline, test)  # type: ignore[arg-type]
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
