"""The model-independent emergency triggers."""

from __future__ import annotations

from typing import Any

import pytest

from features.record import CaseRecord
from features.urgent import NEURO_DEFICITS, assess_urgency


@pytest.mark.parametrize("deficit", NEURO_DEFICITS)
def test_neurological_deficit_with_cancer_is_urgent(deficit: str) -> None:
    result = assess_urgency(CaseRecord(age=60, history_of_cancer=True, **{deficit: True}))
    assert result.flag
    assert any("Neurological deficit with previous cancer" in r for r in result.reasons)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"bowel_bladder_dysfunction": True, "history_of_cancer": True}, 1),
        ({"bowel_bladder_dysfunction": True, "limb_weakness": True}, 1),
        (
            {"bowel_bladder_dysfunction": True, "limb_weakness": True, "history_of_cancer": True},
            3,
        ),
    ],
)
def test_sphincter_triggers(fields: dict[str, Any], expected: int) -> None:
    result = assess_urgency(CaseRecord(age=45, **fields))
    assert result.flag and len(result.reasons) == expected


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"history_of_cancer": True},
        {"limb_weakness": True},
        {"bowel_bladder_dysfunction": True},
        {"limb_weakness": True, "history_of_cancer": False},
        {"limb_weakness": True, "history_of_cancer": None},
        {"bowel_bladder_dysfunction": False, "history_of_cancer": True, "limb_weakness": False},
    ],
)
def test_no_trigger_without_a_pair(fields: dict[str, Any]) -> None:
    result = assess_urgency(CaseRecord(age=80, **fields))
    assert not result.flag and result.reasons == ()


def test_whole_cohorts_are_flagged_exactly_as_case_by_case() -> None:
    import pandas as pd

    from features.urgent import RULES, urgent_rules_fired
    from training.cohort.simulate import simulate_cohort

    cohort = simulate_cohort(3_000, seed=8, setting="oncology")
    fired = urgent_rules_fired(cohort)
    assert fired.shape == (3_000, len(RULES)) and fired.any()
    fields = cohort.drop(columns=["spinal_malignancy", "diagnosis"])
    for i, row in enumerate(fields.head(400).to_dict("records")):
        case = CaseRecord(**{k: v for k, v in row.items() if not pd.isna(v)})
        expected = tuple(r.reason for r, hit in zip(RULES, fired[i], strict=True) if hit)
        assert assess_urgency(case).reasons == expected
