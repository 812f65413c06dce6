"""Drift statistics and the profile comparison on real engineered matrices (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from features.catalogue import FEATURE_NAMES
from features.drift import (
    benjamini_hochberg,
    bin_labels,
    compare_with_profile,
    population_stability_index,
    reference_profile,
    reference_shares,
    two_proportion_test,
    value_counts,
)
from features.transform import derive_flags
from training.cohort.simulate import simulate_cohort

COUNT = FEATURE_NAMES.index("red_flag_count")


def matrix_of(n: int, seed: int, setting: str) -> np.ndarray:
    return derive_flags(simulate_cohort(n, seed, setting))


@pytest.fixture(scope="module")
def primary_care_profile() -> dict:
    matrix = matrix_of(50_000, 1, "primary_care")
    # Any per-case score will do for the comparison; the red-flag count stands in for log-odds.
    return reference_profile(matrix, matrix[:, COUNT])


def compare(profile: dict, matrix: np.ndarray) -> dict:
    return compare_with_profile(profile, matrix, matrix[:, COUNT])


def test_benjamini_hochberg_matches_the_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted: 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.0533, 0.0533, 0.2
    assert benjamini_hochberg(p) == pytest.approx([0.04, 0.05333333, 0.05333333, 0.2])


def test_two_proportion_test_agrees_with_the_chi_square_test() -> None:
    z, p, h = two_proportion_test(30, 1000, 60, 1000)
    chi2 = stats.chi2_contingency([[30, 970], [60, 940]], correction=False)
    assert p == pytest.approx(chi2.pvalue) and z**2 == pytest.approx(chi2.statistic)
    assert h > 0.1
    assert two_proportion_test(0, 100, 0, 50)[1] == 1.0


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift() -> None:
    shares = np.array([0.2, 0.3, 0.5])
    assert population_stability_index(shares, shares) == 0
    assert population_stability_index(shares, np.array([0.3, 0.3, 0.4])) > 0.03


def test_counts_and_reference_shares_cover_every_value(primary_care_profile: dict) -> None:
    age = primary_care_profile["features"][FEATURE_NAMES.index("age")]
    assert len(bin_labels(age)) == len(age["bin_counts"])
    assert sum(reference_shares(age).values()) == pytest.approx(1)
    counts = value_counts(age, np.array([np.nan, 20.0, 95.0]))
    assert counts["not_recorded"] == 1 and sum(counts.values()) == 3
    night = primary_care_profile["features"][FEATURE_NAMES.index("night_pain")]
    assert set(value_counts(night, np.array([1.0, 0.0, np.nan]))) == {
        "present",
        "absent",
        "not_recorded",
    }


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_a_fresh_cohort_of_the_same_setting_flags_at_most_5_percent(
    primary_care_profile: dict, seed: int
) -> None:
    report = compare(primary_care_profile, matrix_of(10_000, seed, "primary_care"))
    assert report["status"] == "ok"
    assert len(report["drifting"]) <= 0.05 * len(report["features"])


@pytest.mark.parametrize("setting", ["emergency", "oncology"])
def test_another_setting_drifts(primary_care_profile: dict, setting: str) -> None:
    report = compare(primary_care_profile, matrix_of(10_000, 5, setting))
    assert report["drift"] and len(report["drifting"]) >= 5


def test_a_field_that_stops_being_recorded_drifts(primary_care_profile: dict) -> None:
    cases = simulate_cohort(10_000, 6, "primary_care")
    cases["esr_mm_per_h"] = np.nan
    report = compare(primary_care_profile, derive_flags(cases))
    assert {"esr_mm_per_h", "esr_20_or_more"} <= set(report["drifting"])
    assert len(report["drifting"]) <= 4
    esr = next(f for f in report["features"] if f["feature"] == "esr_mm_per_h")
    missing = next(t for t in esr["tests"] if t["quantity"] == "not_recorded")
    assert missing["current"] == 1.0 and missing["p_adjusted"] < 1e-6


def test_too_few_cases_is_insufficient_data(primary_care_profile: dict) -> None:
    report = compare(primary_care_profile, matrix_of(100, 7, "oncology"))
    assert report["status"] == "insufficient_data" and report["window"] == 100
    assert not report["drift"] and report["features"] == []
