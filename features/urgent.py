"""Safety rules independent of the model: suspected spinal cord compression (NICE CG75, NG234)."""

from __future__ import annotations

from dataclasses import dataclass

from features.record import CaseRecord

# Numbness counts here although the model's deficit count leaves it out: for an emergency
# trigger, NICE lists radicular and sensory symptoms, and a false alarm costs less than a miss.
NEURO_DEFICITS = ("limb_weakness", "sensory_loss", "gait_difficulty", "numbness_tingling")


@dataclass(frozen=True)
class UrgentAssessment:
    """Whether a case needs emergency referral, with a plain-language reason for each trigger."""

    flag: bool
    reasons: tuple[str, ...]


def assess_urgency(case: CaseRecord) -> UrgentAssessment:
    """Apply the emergency triggers; any one sets the flag, whatever the model's probability."""
    neuro = any(getattr(case, name) is True for name in NEURO_DEFICITS)
    sphincter = case.bowel_bladder_dysfunction is True
    cancer = case.history_of_cancer is True
    reasons = []
    if neuro and cancer:
        reasons.append(
            "Neurological deficit with previous cancer: suspected spinal cord compression"
        )
    if sphincter and cancer:
        reasons.append(
            "Bowel or bladder dysfunction with previous cancer: suspected spinal cord compression"
        )
    if sphincter and neuro:
        reasons.append(
            "Bowel or bladder dysfunction with a neurological deficit: "
            "suspected cord or cauda equina compression"
        )
    return UrgentAssessment(flag=bool(reasons), reasons=tuple(reasons))
