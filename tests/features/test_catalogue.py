"""Each red flag's derivation, checked on hand-made cases."""

from __future__ import annotations

import math
from typing import Any

import pytest

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.record import FIELDS
from features.transform import derive_flags

NAN = float("nan")

# (feature, case fields beyond age, expected value); NaN means "cannot be derived".
DERIVATIONS: list[tuple[str, dict[str, Any], float]] = [
    ("age", {"age": 63}, 63),
    ("age_50_or_over", {"age": 50}, 1),
    ("age_50_or_over", {"age": 49}, 0),
    ("male_sex", {"sex": "male"}, 1),
    ("male_sex", {"sex": "female"}, 0),
    ("male_sex", {}, NAN),
    ("history_of_cancer", {"history_of_cancer": True}, 1),
    ("history_of_cancer", {"history_of_cancer": False}, 0),
    ("history_of_cancer", {}, NAN),
    ("high_spinal_tropism_cancer", {"history_of_cancer": True, "cancer_type": "prostate"}, 1),
    ("high_spinal_tropism_cancer", {"history_of_cancer": True, "cancer_type": "myeloma"}, 1),
    ("high_spinal_tropism_cancer", {"history_of_cancer": True, "cancer_type": "other"}, 0),
    ("high_spinal_tropism_cancer", {"history_of_cancer": True}, NAN),
    ("high_spinal_tropism_cancer", {"history_of_cancer": False}, NAN),
    (
        "years_since_cancer_diagnosis",
        {"history_of_cancer": True, "years_since_cancer_diagnosis": 3.5},
        3.5,
    ),
    ("pain_duration_weeks", {"pain_duration_weeks": 6.0}, 6.0),
    ("duration_over_4_weeks", {"pain_duration_weeks": 4.0}, 0),
    ("duration_over_4_weeks", {"pain_duration_weeks": 4.5}, 1),
    ("duration_over_4_weeks", {}, NAN),
    ("progressive_pain", {"pain_trajectory": "worsening"}, 1),
    ("progressive_pain", {"pain_trajectory": "stable"}, 0),
    ("improving_pain", {"pain_trajectory": "improving"}, 1),
    ("improving_pain", {"pain_trajectory": "worsening"}, 0),
    ("constant_pain", {"constant_pain": True}, 1),
    ("night_pain", {"night_pain": False}, 0),
    ("pain_worse_lying_down", {"pain_worse_lying_down": True}, 1),
    ("no_relief_with_rest", {"no_relief_with_rest": True}, 1),
    ("failed_conservative_treatment", {"failed_conservative_treatment": True}, 1),
    ("thoracic_pain", {"pain_region": "thoracic"}, 1),
    ("thoracic_pain", {"pain_region": "lumbar"}, 0),
    ("thoracic_pain", {}, NAN),
    ("cervical_pain", {"pain_region": "cervical"}, 1),
    ("pain_score", {"pain_score": 7}, 7),
    ("numbness_tingling", {"numbness_tingling": True}, 1),
    ("limb_weakness", {"limb_weakness": True}, 1),
    ("sensory_loss", {"sensory_loss": True}, 1),
    ("gait_difficulty", {"gait_difficulty": True}, 1),
    ("neuro_deficit_count", {"limb_weakness": True, "sensory_loss": True}, 2),
    ("neuro_deficit_count", {"numbness_tingling": True}, 0),
    ("neuro_deficit_count", {}, 0),
    ("any_neuro_deficit", {"gait_difficulty": True, "sensory_loss": True}, 1),
    ("any_neuro_deficit", {"limb_weakness": False}, 0),
    ("sphincter_dysfunction", {"bowel_bladder_dysfunction": True}, 1),
    ("unexplained_weight_loss_kg", {"unexplained_weight_loss_kg": 4.0}, 4.0),
    ("weight_loss_pct", {"weight_kg": 80.0, "unexplained_weight_loss_kg": 4.0}, 5.0),
    ("weight_loss_pct", {"unexplained_weight_loss_kg": 4.0}, NAN),
    ("weight_loss_5pct_or_more", {"weight_kg": 80.0, "unexplained_weight_loss_kg": 4.0}, 1),
    ("weight_loss_5pct_or_more", {"weight_kg": 80.0, "unexplained_weight_loss_kg": 3.9}, 0),
    ("fatigue", {"fatigue": True}, 1),
    ("fever", {"fever": True}, 1),
    ("systemic_sign_count", {"unexplained_weight_loss_kg": 2.0, "fatigue": True}, 2),
    ("systemic_sign_count", {"unexplained_weight_loss_kg": 0.0, "fever": True}, 1),
    ("current_smoker", {"smoking_status": "current"}, 1),
    ("current_smoker", {"smoking_status": "former"}, 0),
    ("pack_years", {"smoking_status": "former", "pack_years": 20.0}, 20.0),
    ("family_history_of_cancer", {"family_history_of_cancer": True}, 1),
    ("recent_trauma", {"recent_trauma": True}, 1),
    ("steroid_use", {"steroid_use": True}, 1),
    ("immunosuppressed", {"immunosuppressed": True}, 1),
    ("esr_mm_per_h", {"esr_mm_per_h": 35.0}, 35.0),
    ("esr_20_or_more", {"esr_mm_per_h": 20.0}, 1),
    ("esr_20_or_more", {"esr_mm_per_h": 19.9}, 0),
    ("esr_20_or_more", {}, NAN),
    ("red_flag_count", {"age": 40}, 0),
    (
        "red_flag_count",
        {"age": 70, "history_of_cancer": True, "pain_region": "thoracic", "fever": True},
        4,
    ),
    (
        "red_flag_count",
        {"age": 40, "pain_trajectory": "worsening", "constant_pain": True, "sensory_loss": True},
        2,
    ),
    ("deyo_rule_positive", {"age": 49}, 0),
    ("deyo_rule_positive", {"age": 50}, 1),
    ("deyo_rule_positive", {"age": 30, "history_of_cancer": True}, 1),
    ("deyo_rule_positive", {"age": 30, "unexplained_weight_loss_kg": 1.0}, 1),
    ("deyo_rule_positive", {"age": 30, "failed_conservative_treatment": True}, 1),
    ("deyo_rule_positive", {"age": 30, "unexplained_weight_loss_kg": 0.0}, 0),
]


@pytest.mark.parametrize(("feature", "fields", "expected"), DERIVATIONS)
def test_derivation(feature: str, fields: dict[str, Any], expected: float) -> None:
    case = {"age": 40, **fields}
    value = derive_flags([case])[0, FEATURE_NAMES.index(feature)]
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == pytest.approx(expected)


def test_every_red_flag_has_a_derivation_test() -> None:
    assert {feature for feature, _, _ in DERIVATIONS} == set(FEATURE_NAMES)


def test_catalogue_entries_are_complete_and_unique() -> None:
    assert len({flag.name: flag for flag in RED_FLAGS}) == len(RED_FLAGS)
    for flag in RED_FLAGS:
        assert flag.label and flag.source, flag.name
        assert set(flag.inputs) <= set(FIELDS), flag.name
        assert flag.direction in (0, 1), flag.name


@pytest.mark.parametrize("flag", RED_FLAGS, ids=lambda f: f.name)
def test_each_flag_depends_only_on_its_declared_inputs(flag: Any) -> None:
    # Changing a field outside the flag's inputs must not change its value.
    rich = {
        "age": 66, "sex": "male", "pain_duration_weeks": 8.0, "pain_trajectory": "worsening",
        "constant_pain": True, "night_pain": True, "pain_region": "thoracic", "pain_score": 8,
        "limb_weakness": True, "weight_kg": 70.0, "unexplained_weight_loss_kg": 6.0,
        "fatigue": True, "history_of_cancer": True, "cancer_type": "lung",
        "smoking_status": "current", "pack_years": 30.0, "esr_mm_per_h": 40.0,
    }  # fmt: skip
    j = FEATURE_NAMES.index(flag.name)
    reference = derive_flags([rich])[0, j]
    for name in FIELDS:
        if name in flag.inputs or name == "age":
            continue
        reduced = {k: v for k, v in rich.items() if k != name}
        if name == "history_of_cancer":
            reduced.pop("cancer_type", None)
        value = derive_flags([reduced])[0, j]
        assert value == reference or (math.isnan(value) and math.isnan(reference)), name


def test_a_flag_is_recorded_when_any_of_its_inputs_is() -> None:
    from features.catalogue import recorded_features
    from features.transform import case_columns

    cases = [{"age": 60}, {"age": 60, "smoking_status": "never"}, {"age": 60, "fever": False}]
    recorded = recorded_features(case_columns(cases))
    column = {name: recorded[:, j].tolist() for j, name in enumerate(FEATURE_NAMES)}
    assert column["current_smoker"] == [False, True, False]
    assert column["fever"] == [False, False, True]
    assert column["systemic_sign_count"] == [False, False, True]
    assert column["age_50_or_over"] == [True, True, True]  # age is required, always recorded


def test_every_field_has_a_label_for_people() -> None:
    from features.record import FIELD_LABELS, FIELDS

    assert list(FIELD_LABELS) == list(FIELDS)
    assert all(label and label[0].isupper() for label in FIELD_LABELS.values())
