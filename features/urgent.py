"""Safety rules independent of the model: suspected spinal cord compression (NICE CG75, NG234)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.catalogue import Columns
from features.record import CaseRecord
from features.transform import CaseInput, case_columns

BoolArray = npt.NDArray[np.bool_]

# Numbness counts here although the model's deficit count leaves it out: for an emergency
# trigger, NICE lists radicular and sensory symptoms, and a false alarm costs less than a miss.
NEURO_DEFICITS = ("limb_weakness", "sensory_loss", "gait_difficulty", "numbness_tingling")


@dataclass(frozen=True)
class UrgentRule:
    """One emergency trigger: a plain-language reason and when it fires."""

    reason: str
    fires: Callable[[BoolArray, BoolArray, BoolArray], BoolArray]  # (neuro, sphincter, cancer)


RULES: tuple[UrgentRule, ...] = (
    UrgentRule(
        "Neurological deficit with previous cancer: suspected spinal cord compression",
        lambda neuro, sphincter, cancer: neuro & cancer,
    ),
    UrgentRule(
        "Bowel or bladder dysfunction with previous cancer: suspected spinal cord compression",
        lambda neuro, sphincter, cancer: sphincter & cancer,
    ),
    UrgentRule(
        "Bowel or bladder dysfunction with a neurological deficit: "
        "suspected cord or cauda equina compression",
        lambda neuro, sphincter, cancer: sphincter & neuro,
    ),
)


@dataclass(frozen=True)
class UrgentAssessment:
    """Whether a case needs emergency referral, with a plain-language reason for each trigger."""

    flag: bool
    reasons: tuple[str, ...]


def _present(columns: Columns, name: str) -> BoolArray:
    present: BoolArray = np.asarray(columns[name], dtype=np.float64) == 1.0  # NaN is not present
    return present


def urgent_rules_fired(cases: CaseInput) -> BoolArray:
    """Which rule fires for which case: a boolean matrix, one row per case, one column per rule."""
    columns = case_columns(cases)
    neuro = np.logical_or.reduce([_present(columns, name) for name in NEURO_DEFICITS])
    sphincter = _present(columns, "bowel_bladder_dysfunction")
    cancer = _present(columns, "history_of_cancer")
    fired: BoolArray = np.column_stack([rule.fires(neuro, sphincter, cancer) for rule in RULES])
    return fired


def fired_reasons(fired: BoolArray) -> list[tuple[str, ...]]:
    """Reasons of the rules that fired, per row of ``urgent_rules_fired`` (empty: not urgent)."""
    return [
        tuple(rule.reason for rule, hit in zip(RULES, row, strict=True) if hit)
        for row in fired.tolist()
    ]


def assess_urgency(case: CaseRecord) -> UrgentAssessment:
    """Apply the emergency triggers; any one sets the flag, whatever the model's probability."""
    (reasons,) = fired_reasons(urgent_rules_fired([case.model_dump()]))
    return UrgentAssessment(flag=bool(reasons), reasons=reasons)
