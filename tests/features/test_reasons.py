"""Plain-language reasons: recorded findings only, worded with strength and direction."""

from __future__ import annotations

import numpy as np
import pytest

from features.catalogue import FEATURE_NAMES, recorded_features
from features.reasons import PHRASES, case_reasons, strength_of
from features.transform import RedFlagFeatures, case_columns

J = {name: j for j, name in enumerate(FEATURE_NAMES)}


@pytest.mark.parametrize(
    ("size", "word"),
    [(2.3, "strongly"), (1.0, "strongly"), (0.99, "moderately"), (0.4, "moderately"),
     (0.39, "slightly"), (0.1, "slightly"), (0.099, None), (0.0, None)],
)  # fmt: skip
def test_strength_cut_offs(size: float, word: str | None) -> None:
    assert strength_of(size) == word
    assert strength_of(-size) == word


def _arrays(record: dict[str, object], shares: dict[str, float]) -> tuple[np.ndarray, ...]:
    matrix = RedFlagFeatures().transform([record])
    contributions = np.zeros((1, len(FEATURE_NAMES)))
    for name, share in shares.items():
        contributions[0, J[name]] = share
    recorded = recorded_features(case_columns([record]))
    return contributions, matrix, recorded


def test_previous_prostate_cancer_raises_the_estimate_strongly() -> None:
    record = {"age": 70, "history_of_cancer": True, "cancer_type": "prostate", "fever": False}
    shares = {"history_of_cancer": 2.3, "fever": -0.5, "age": 0.2, "age_50_or_over": 0.05}
    reasons = case_reasons(*_arrays(record, shares), [record])[0]
    assert [r["sentence"] for r in reasons] == [
        "Previous prostate cancer raises the estimate strongly",
        "No fever lowers the estimate moderately",
        "Age 70 raises the estimate slightly",
    ]
    assert reasons[0] == {
        "feature": "history_of_cancer", "sentence": reasons[0]["sentence"], "direction": "raises",
        "strength": "strongly", "contribution": 2.3,
    }  # fmt: skip


def test_an_unrecorded_finding_is_never_a_reason() -> None:
    record = {
        "age": 40
    }  # night pain not recorded, yet its "not recorded" branch moves the estimate
    reasons = case_reasons(*_arrays(record, {"night_pain": -1.5, "age": 0.3}), [record])[0]
    assert [r["feature"] for r in reasons] == ["age"]


def test_at_most_three_reasons_and_none_below_the_slight_cut_off() -> None:
    record = {"age": 60, "fatigue": True, "fever": True, "night_pain": True, "sex": "male"}
    shares = {"fatigue": 0.5, "fever": -0.6, "night_pain": 0.7, "male_sex": 0.45, "age": 0.05}
    reasons = case_reasons(*_arrays(record, shares), [record])[0]
    assert [r["feature"] for r in reasons] == ["night_pain", "fever", "fatigue"]
    small = case_reasons(*_arrays(record, {"age": 0.05}), [record])[0]
    assert small == []


def test_every_red_flag_has_a_phrase_for_its_values() -> None:
    assert set(PHRASES) == set(FEATURE_NAMES)
    for name, phrase in PHRASES.items():
        for value in (0.0, 1.0, 3.0):
            text = phrase(value, {"cancer_type": "myeloma"})
            assert text and text[0].isupper(), name


def test_a_count_of_zero_from_unasked_findings_is_not_a_reason() -> None:
    record = {"age": 45, "limb_weakness": True}
    shares = {"red_flag_count": -0.8, "neuro_deficit_count": 0.9, "deyo_rule_positive": -0.7}
    reasons = case_reasons(*_arrays(record, shares), [record])[0]
    # one deficit is recorded (a finding); the Deyo rule's 0 rests on three unasked signs
    assert [r["sentence"] for r in reasons] == [
        "One neurological deficit raises the estimate moderately",
        "One red flag present lowers the estimate moderately",
    ]
