"""Each metric against a small example worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.evaluation.metrics import (
    _WeightedAuc,
    auroc_interval,
    calibration_in_the_large,
    calibration_slope_intercept,
    core_metrics,
    decision_curve,
    evaluate,
    expected_calibration_error,
    net_benefit,
    paired_bootstrap,
    subgroup_metrics,
    threshold_metrics,
)


def test_auroc_counts_pairs_and_half_ties() -> None:
    y = np.array([0, 0, 1, 1])
    # Positive 0.5 beats 0.1 and ties 0.5 (1.5 of 2); positive 0.8 beats both: 3.5 / 4.
    p = np.array([0.1, 0.5, 0.5, 0.8])
    assert core_metrics(y, p)["auroc"] == pytest.approx(0.875)
    assert _WeightedAuc(y, p)(np.ones(4)) == pytest.approx(0.875)


def test_weighted_auroc_equals_auroc_of_repeated_cases() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.5, 0.5, 0.8])
    # Negative 0.1 counted twice: negatives {.1, .1, .5}; (2 + 0.5 + 3) / 6.
    assert _WeightedAuc(y, p)(np.array([2.0, 1, 1, 1])) == pytest.approx(5.5 / 6)


def test_brier_and_log_loss() -> None:
    y = np.array([1, 0])
    p = np.array([0.8, 0.4])
    metrics = core_metrics(y, p)
    assert metrics["brier"] == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert metrics["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)


def test_calibration_in_the_large_is_the_log_odds_shift_to_the_observed_rate() -> None:
    y = np.array([1, 0] * 50)
    p = np.full(100, 0.2)
    assert calibration_in_the_large(y, p) == pytest.approx(math.log(4), abs=1e-9)


def test_calibration_slope_of_grouped_data() -> None:
    # Log-odds +1 with 3 of 4 positive, -1 with 1 of 4: the fit reproduces both rates, so
    # slope = logit(3/4) = ln 3 and intercept 0.
    lo = np.array([1.0] * 4 + [-1.0] * 4)
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    slope, intercept = calibration_slope_intercept(y, 1 / (1 + np.exp(-lo)))
    assert slope == pytest.approx(math.log(3), abs=1e-3)
    assert intercept == pytest.approx(0.0, abs=1e-3)


def test_calibration_slope_undefined_for_constant_predictions() -> None:
    slope, intercept = calibration_slope_intercept(np.array([0, 1, 0]), np.full(3, 0.3))
    assert math.isnan(slope) and math.isnan(intercept)


def test_expected_calibration_error() -> None:
    # Two bins: {0.1, 0.1} observed 1/2 -> 0.4; {0.9, 0.9} observed 1 -> 0.1; mean 0.25.
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.9])
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.25)


def test_threshold_metrics() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.02, 0.06, 0.01, 0.03])  # at 0.05: TP 1, FN 1, FP 1, TN 2
    m = threshold_metrics(y, p, 0.05)
    assert m["sensitivity"] == pytest.approx(0.5)
    assert m["specificity"] == pytest.approx(2 / 3)
    assert m["ppv"] == pytest.approx(0.5)
    assert m["npv"] == pytest.approx(2 / 3)


def test_ppv_undefined_when_nobody_is_flagged() -> None:
    assert math.isnan(threshold_metrics(np.array([1, 0]), np.array([0.01, 0.02]), 0.5)["ppv"])


def test_net_benefit_and_decision_curve() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.02, 0.06, 0.01, 0.03])
    # TP/n - FP/n * pt/(1 - pt) = 1/5 - 1/5 * 0.05/0.95
    assert net_benefit(y, p, 0.05) == pytest.approx(0.2 - 0.2 * 0.05 / 0.95)
    row = decision_curve(y, p, [0.05])[0]
    assert row["treat_all"] == pytest.approx(0.4 - 0.6 * 0.05 / 0.95)
    assert row["treat_none"] == 0.0
    assert row["model"] == pytest.approx(net_benefit(y, p, 0.05))


def test_auroc_interval_is_reproducible_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.1
    p = np.clip(0.1 + 0.3 * (y - 0.1) + rng.normal(0, 0.1, 2000), 0.001, 0.999)
    low, high = auroc_interval(y, p, n_boot=300, seed=3)
    assert (low, high) == auroc_interval(y, p, n_boot=300, seed=3)
    assert low < core_metrics(y, p)["auroc"] < high
    assert 0.0 < high - low < 0.2


def test_paired_bootstrap_of_identical_models_is_exactly_zero() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.2).astype(float)
    p = rng.random(500)
    for diff in paired_bootstrap(y, p, p, n_boot=100):
        assert diff.difference == 0.0 and diff.ci_low == 0.0 and diff.ci_high == 0.0


def test_paired_bootstrap_sees_a_better_model() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.2).astype(float)
    noise = rng.random(3000)
    weak, strong = 0.2 * y + 0.8 * noise, 0.6 * y + 0.4 * noise
    auroc, brier = paired_bootstrap(y, weak, strong, n_boot=200)
    assert auroc.metric == "auroc" and auroc.ci_low > 0
    assert auroc.difference == pytest.approx(auroc.b - auroc.a)
    assert brier.metric == "brier" and brier.ci_low <= brier.difference <= brier.ci_high


def test_subgroup_with_one_class_is_skipped_with_the_reason() -> None:
    y = np.array([0, 1, 0, 1, 0, 0])
    p = np.array([0.1, 0.7, 0.2, 0.6, 0.3, 0.4])
    groups = {"sex": np.array(["female"] * 4 + ["male"] * 2, dtype=object)}
    rows = {row["group"]: row for row in subgroup_metrics(y, p, groups)}
    assert rows["female"]["auroc"] == pytest.approx(1.0) and rows["female"]["skipped"] is None
    assert rows["male"]["auroc"] is None and "one class" in rows["male"]["skipped"]


def test_evaluate_rejects_a_threshold_outside_zero_and_one() -> None:
    with pytest.raises(ValueError, match="threshold"):
        evaluate(np.array([0, 1]), np.array([0.2, 0.8]), threshold=1.0)


def test_evaluation_json_has_no_nan() -> None:
    y = np.array([0, 1, 0, 0])
    p = np.array([0.01, 0.02, 0.03, 0.04])  # nobody flagged at 0.05: PPV undefined
    table = evaluate(y, p, n_boot=20).as_json()
    assert table["metrics"]["ppv_at_threshold"] is None
    assert table["operating_threshold"] == 0.05
