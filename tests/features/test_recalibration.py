"""``with_calibration``: a new final Platt step on every classifier, the explanation still exact."""

from __future__ import annotations

import numpy as np
import pytest

from features.log_odds import sigmoid
from features.model import RiskPipeline
from training.cohort.simulate import simulate_cohort
from training.defaults import ModelKind
from training.fit import fit_model, split_cases


@pytest.fixture(scope="module")
def cases():  # type: ignore[no-untyped-def]
    return simulate_cohort(8_000, 3, "emergency")


@pytest.mark.parametrize("kind", list(ModelKind))
def test_with_calibration_maps_log_odds_and_keeps_the_explanation_additive(
    cases, kind: str
) -> None:  # type: ignore[no-untyped-def]
    pipeline: RiskPipeline = fit_model(split_cases(cases, 3), kind, 3, {"n_estimators": 50}
                                       if kind == "xgboost" else {})  # fmt: skip
    moved = pipeline.with_calibration(1.3, -0.7, 0.05)
    before, after = pipeline.decision_function(cases), moved.decision_function(cases)
    assert np.allclose(after, -0.7 + 1.3 * before)
    assert moved.classifier.train_prevalence_ == 0.05
    assert pipeline.classifier.train_prevalence_ != 0.05  # the source is left as it was
    _, base, contributions = moved.explain(cases)
    assert np.allclose(sigmoid(base + contributions.sum(axis=1)), moved.predict_risk(cases))


@pytest.mark.parametrize("slope", [0.0, -1.0, float("nan")])
def test_a_slope_that_is_not_positive_and_finite_is_refused(cases, slope: float) -> None:  # type: ignore[no-untyped-def]
    pipeline = fit_model(split_cases(cases, 3), "deyo-rule", 3)
    with pytest.raises(ValueError, match="slope"):
        pipeline.with_calibration(slope, 0.0, 0.1)
