"""Calibration of the simulator against the targets table, and the cohort report."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from features.record import DIAGNOSES, FIELDS, LABEL
from tests.training.conftest import Cohort
from training.cohort import simulate
from training.cohort.files import report_text
from training.cohort.report import (
    REPORT_COLUMNS,
    cohort_report,
    diagnosis_mix,
    format_report,
    prevalence,
    prevalence_within_tolerance,
    share_report,
)
from training.cohort.targets import (
    SHARE_TARGETS,
    SHARE_TARGETS_BY_FLAG,
    TARGETS,
    TARGETS_BY_NAME,
    TOLERANCE,
)

PUBLISHED = {
    "age_50_or_over", "history_of_cancer", "unexplained_weight_loss",
    "failed_conservative_treatment", "no_relief_with_rest", "duration_over_4_weeks", "deyo_rule",
    "esr_20_or_more",
}  # fmt: skip
# The intercepts are solved on a finite reference sample: their own error is about 0.002.
CALIBRATION_SLACK = 0.005


def _tolerance(p: float, n: int, floor: float) -> float:
    """Three standard errors of a share `p` among `n` cases, never tighter than `floor`."""
    return max(floor, 3 * math.sqrt(p * (1 - p) / max(n, 1)))


def test_table_has_every_flag_of_the_references_once() -> None:
    names = [t.name for t in TARGETS]
    assert len(names) == len(set(names)) == 17
    assert {t.name for t in TARGETS if t.status == "published"} == PUBLISHED
    assert {t.status for t in TARGETS} == {"published", "assumed"}
    for target in TARGETS:
        assert 0 < target.sensitivity < 1 and 0 < target.specificity < 1, target.name
        assert target.definition and target.source, target.name
    assert [t.name for t in TARGETS if t.sensitivity_is_floor] == ["deyo_rule"]
    assert TARGETS_BY_NAME["history_of_cancer"].lr_positive == pytest.approx(15.5)


def test_every_target_but_the_deyo_rule_is_solved_by_the_simulator() -> None:
    solved = simulate._intercepts()
    assert set(solved) == {t.name for t in TARGETS} - {"deyo_rule"}
    assert all(math.isfinite(b) for offsets in solved.values() for b in offsets)
    # Only flags with a published share in a subgroup of the cancers get a third intercept.
    distinct = {name for name, (_, malignant, subgroup) in solved.items() if malignant != subgroup}
    assert distinct == {t.flag for t in SHARE_TARGETS}


def test_share_targets_are_published_and_name_a_solved_flag() -> None:
    assert [t.name for t in SHARE_TARGETS] == [
        "cord_compression_with_known_cancer",
        "cord_compression_thoracic",
    ]
    for target in SHARE_TARGETS:
        assert target.flag in TARGETS_BY_NAME and target.status == "published", target.name
        assert "NICE CG75" in target.source and 0 < target.share < 1
    assert SHARE_TARGETS_BY_FLAG["history_of_cancer"].share == 0.77


@pytest.mark.parametrize("name", [t.name for t in SHARE_TARGETS])
def test_cohorts_reproduce_each_published_share(name: str, balanced: Cohort) -> None:
    """At prevalence 0.5 the subgroup holds ~20,000 cancers: within 3 SE of the target."""
    frame, latent = balanced
    row = share_report(frame).set_index("share_target").loc[name]
    target = next(t for t in SHARE_TARGETS if t.name == name)
    assert row["n_subgroup"] > 15_000
    tolerance = _tolerance(target.share, row["n_subgroup"], 0) + CALIBRATION_SLACK
    assert abs(row["share"] - target.share) <= tolerance
    assert row["within_tolerance"]
    # The record's view (a recorded deficit in a cancer) is the latent cord compression.
    cord = latent["cord_compression"].astype(bool)
    among, _ = target.evaluate(frame)
    assert not (among & ~cord).any()


def test_known_cancer_means_more_with_a_neurological_deficit(primary_care: Cohort) -> None:
    """The NICE share makes previous cancer and a deficit interact: their odds ratios do not
    multiply, which an additive (logistic) model cannot represent."""
    frame, latent = primary_care
    malignant = frame[LABEL].to_numpy() == 1
    history = frame["history_of_cancer"].fillna(False).to_numpy(dtype=bool)
    deficit = latent["neuro_deficit"].astype(bool)

    def odds(mask: np.ndarray) -> float:
        rate = malignant[mask].mean()
        return float(rate / (1 - rate))

    interaction = (odds(history & deficit) * odds(~history & ~deficit)) / (
        odds(history & ~deficit) * odds(~history & deficit)
    )
    assert interaction > 4


def test_share_report_flags_a_frame_that_breaks_a_share(primary_care: Cohort) -> None:
    frame, _ = primary_care
    broken = frame.copy()
    deficit = broken[["limb_weakness", "sensory_loss", "gait_difficulty"]].fillna(False).any(axis=1)
    broken["history_of_cancer"] = broken["history_of_cancer"].mask(deficit, False)
    report = share_report(broken).set_index("share_target")
    assert report.loc["cord_compression_with_known_cancer", "share"] == 0.0
    assert not report.loc["cord_compression_with_known_cancer", "within_tolerance"]
    assert report.loc["cord_compression_thoracic", "within_tolerance"]
    assert "cord_compression_with_known_cancer" in format_report(broken)


@pytest.mark.parametrize("name", [t.name for t in TARGETS])
def test_primary_care_cohort_reproduces_each_flag(name: str, primary_care: Cohort) -> None:
    frame, _ = primary_care
    target = TARGETS_BY_NAME[name]
    row = cohort_report(frame).set_index("flag").loc[name]
    specificity_tol = _tolerance(target.specificity, row["n_other"], TOLERANCE)
    assert abs(row["specificity"] - target.specificity) <= specificity_tol
    if target.sensitivity_is_floor:
        assert row["sensitivity"] >= target.sensitivity
    else:
        sensitivity_tol = _tolerance(target.sensitivity, row["n_malignant"], TOLERANCE)
        assert abs(row["sensitivity"] - target.sensitivity) <= sensitivity_tol


@pytest.mark.parametrize("name", [t.name for t in TARGETS if not t.sensitivity_is_floor])
def test_calibration_is_tight_with_many_malignant_cases(name: str, balanced: Cohort) -> None:
    """At prevalence 0.5 (same causes per side) each rate is within 3 SE of its target."""
    frame, _ = balanced
    target = TARGETS_BY_NAME[name]
    row = cohort_report(frame).set_index("flag").loc[name]
    sens_tol = _tolerance(target.sensitivity, row["n_malignant"], 0) + CALIBRATION_SLACK
    spec_tol = _tolerance(target.specificity, row["n_other"], 0) + CALIBRATION_SLACK
    assert sens_tol < TOLERANCE and spec_tol < TOLERANCE
    assert abs(row["sensitivity"] - target.sensitivity) <= sens_tol
    assert abs(row["specificity"] - target.specificity) <= spec_tol


def test_deyo_rule_misses_almost_no_malignancy(balanced: Cohort) -> None:
    frame, _ = balanced
    row = cohort_report(frame).set_index("flag").loc["deyo_rule"]
    assert row["n_malignant"] > 50_000
    assert row["sensitivity"] >= 0.97
    assert abs(row["specificity"] - 0.60) <= TOLERANCE


def test_revising_a_target_moves_the_simulated_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    fever = TARGETS_BY_NAME["fever"]
    revised = dataclasses.replace(fever, sensitivity=0.30, specificity=0.90)
    monkeypatch.setitem(TARGETS_BY_NAME, "fever", revised)
    simulate._intercepts.cache_clear()
    try:
        frame, _ = simulate.simulate_with_latents(40_000, seed=3, prevalence=0.5)
    finally:
        simulate._intercepts.cache_clear()
    report = cohort_report(frame, (revised,)).iloc[0]
    assert abs(report["sensitivity"] - 0.30) < 0.02
    assert abs(report["specificity"] - 0.90) < 0.02


def test_report_has_one_row_per_target_with_consistent_ratios(primary_care: Cohort) -> None:
    frame, _ = primary_care
    report = cohort_report(frame)
    assert list(report.columns) == REPORT_COLUMNS
    assert list(report["flag"]) == [t.name for t in TARGETS]
    expected_lr = report["sensitivity"] / (1 - report["specificity"])
    np.testing.assert_allclose(report["lr_positive"], expected_lr)
    assert report["within_tolerance"].all()
    assert (report["n_malignant"] > 0).all() and (report["n_other"] > report["n_malignant"]).all()


def test_report_flags_a_miscalibrated_frame(primary_care: Cohort) -> None:
    frame, _ = primary_care
    broken = frame.copy()
    broken["history_of_cancer"] = pd.array([True] * len(frame), dtype="boolean")
    broken["night_pain"] = broken["night_pain"].where(broken[LABEL] == 0, False)
    report = cohort_report(broken).set_index("flag")
    assert not report.loc["history_of_cancer", "within_tolerance"]
    assert not report.loc["night_pain", "within_tolerance"]
    assert report.loc["fever", "within_tolerance"]


def test_flags_count_only_recorded_cases() -> None:
    frame = pd.DataFrame(
        {
            "fever": pd.array([True, None, False, None, True, False], dtype="boolean"),
            LABEL: [1, 1, 1, 0, 0, 0],
        }
    )
    row = cohort_report(frame, (TARGETS_BY_NAME["fever"],)).iloc[0]
    assert (row["n_malignant"], row["n_other"]) == (2, 2)
    assert row["sensitivity"] == 0.5 and row["specificity"] == 0.5


def test_composite_flag_needs_all_parts_recorded() -> None:
    frame = pd.DataFrame(
        {
            "constant_pain": pd.array([True, None, False, False], dtype="boolean"),
            "pain_trajectory": pd.array([None, "worsening", "stable", "worsening"], dtype="string"),
        }
    )
    positive, recorded = TARGETS_BY_NAME["progressive_pain"].evaluate(frame)
    assert recorded.tolist() == [False, False, True, True]
    assert positive.tolist() == [False, False, False, True]


def test_prevalence_and_mix(primary_care: Cohort) -> None:
    frame, _ = primary_care
    assert prevalence(frame) == pytest.approx(frame[LABEL].mean())
    assert prevalence_within_tolerance(frame, "primary_care")
    assert not prevalence_within_tolerance(frame, "oncology")
    mix = diagnosis_mix(frame)
    assert list(mix.index) == list(DIAGNOSES)
    assert mix.sum() == pytest.approx(1.0)
    assert mix.idxmax() == "nonspecific"
    with pytest.raises(ValueError, match="diagnosis"):
        diagnosis_mix(frame[list(FIELDS) + [LABEL]])


def test_format_report_lists_every_flag_prevalence_and_mix(primary_care: Cohort) -> None:
    frame, _ = primary_care
    text = format_report(frame, "primary_care")
    lines = text.splitlines()
    for target in TARGETS:
        (line,) = [ln for ln in lines if ln.startswith(target.name + " ")]
        assert line.rstrip().endswith("yes"), line
    assert "Prevalence: 0.00" in text and "target 0.0070" in text
    mix_start = lines.index("Diagnosis mix:")
    for name in DIAGNOSES:
        assert any(ln.strip().startswith(name) for ln in lines[mix_start:]), name
    for target in TARGETS:
        assert f"  {target.name}: {target.definition}" in lines
    assert "other settings" not in text
    assert "other settings" in format_report(frame.head(1000), "emergency")


def test_report_text_simulates_and_formats() -> None:
    text = report_text(n=20_000, seed=5, setting="emergency")
    assert text.startswith("Cohort of 20,000 cases (emergency)")
    assert "deyo_rule" in text
    assert text == report_text(n=20_000, seed=5, setting="emergency")
