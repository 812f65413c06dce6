"""Plain-language reasons: the largest contributions of recorded findings, as sentences.

A reason names a finding as a clinician would say it ("Previous prostate cancer"), the direction it
moves the estimate and how strongly, from the size of its contribution in log-odds. A red flag none
of whose inputs was recorded is never a reason: an unrecorded finding is not a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from features.catalogue import FEATURE_NAMES, RED_FLAGS

# |contribution| in log-odds, the strongest first. 1.0 multiplies the odds by e (2.7) or more,
# 0.4 by 1.5 or more, 0.1 by 1.1 or more; below 0.1 (odds moved by under 10%) is not a reason.
STRENGTHS: tuple[tuple[str, float], ...] = (
    ("strongly", 1.0),
    ("moderately", 0.4),
    ("slightly", 0.1),
)
MAX_REASONS = 3

Phrase = Callable[[float, Mapping[str, Any]], str]


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _flag(present: str, absent: str) -> Phrase:
    return lambda v, _: present if v >= 0.5 else absent


def _amount(template: str, zero: str | None = None) -> Phrase:
    return lambda v, _: zero if zero is not None and v == 0 else template.format(_number(v))


def _count(one: str, many: str, zero: str) -> Phrase:
    def phrase(v: float, _: Mapping[str, Any]) -> str:
        if v == 0:
            return zero
        return one if v == 1 else many.format(_number(v))

    return phrase


def _cancer(kind: str | None) -> str:
    if kind in (None, "other"):
        return "cancer"
    return "myeloma" if kind == "myeloma" else f"{kind} cancer"


def _previous_cancer(v: float, record: Mapping[str, Any]) -> str:
    return f"Previous {_cancer(record.get('cancer_type'))}" if v >= 0.5 else "No previous cancer"


def _tropism(v: float, record: Mapping[str, Any]) -> str:
    if v >= 0.5:
        cancer = _cancer(record.get("cancer_type"))
        return f"Previous {cancer} (a type that often spreads to the spine)"
    return "Previous cancer of a type that rarely spreads to the spine"


# How each red flag of the catalogue is said, from its value (and the case, where it helps).
PHRASES: dict[str, Phrase] = {
    "age": _amount("Age {}"),
    "age_50_or_over": _flag("Age 50 or over", "Age under 50"),
    "male_sex": _flag("Male sex", "Female sex"),
    "history_of_cancer": _previous_cancer,
    "high_spinal_tropism_cancer": _tropism,
    "years_since_cancer_diagnosis": _amount("Cancer diagnosed {} years ago"),
    "pain_duration_weeks": _amount("Pain for {} weeks"),
    "duration_over_4_weeks": _flag("Pain for more than 4 weeks", "Pain for 4 weeks or less"),
    "progressive_pain": _flag("Progressively worsening pain", "Pain not worsening"),
    "improving_pain": _flag("Pain improving", "Pain not improving"),
    "constant_pain": _flag("Constant, unrelenting pain", "Pain not constant"),
    "night_pain": _flag("Night pain", "No night pain"),
    "pain_worse_lying_down": _flag("Pain worse lying down", "Pain not worse lying down"),
    "no_relief_with_rest": _flag("No relief with rest", "Pain relieved by rest"),
    "failed_conservative_treatment": _flag(
        "No improvement after a month of treatment", "Improvement with treatment"
    ),
    "thoracic_pain": _flag("Thoracic (mid-back) pain", "Pain outside the thoracic spine"),
    "cervical_pain": _flag("Cervical (neck) pain", "Pain outside the neck"),
    "pain_score": _amount("Pain score {}/10"),
    "numbness_tingling": _flag("Numbness or tingling", "No numbness or tingling"),
    "limb_weakness": _flag("Limb weakness", "No limb weakness"),
    "sensory_loss": _flag("Loss of sensation", "No loss of sensation"),
    "gait_difficulty": _flag("Difficulty walking", "No difficulty walking"),
    "neuro_deficit_count": _count(
        "One neurological deficit", "Having {} neurological deficits", "No neurological deficit"
    ),
    "any_neuro_deficit": _flag("A neurological deficit", "No neurological deficit"),
    "sphincter_dysfunction": _flag(
        "Bowel or bladder dysfunction", "No bowel or bladder dysfunction"
    ),
    "unexplained_weight_loss_kg": _amount(
        "Unexplained weight loss of {} kg", "No unexplained weight loss"
    ),
    "weight_loss_pct": _amount("Weight loss of {}% of body weight", "No unexplained weight loss"),
    "weight_loss_5pct_or_more": _flag(
        "Loss of 5% or more of body weight", "Weight loss under 5% of body weight"
    ),
    "fatigue": _flag("Fatigue", "No fatigue"),
    "fever": _flag("Fever", "No fever"),
    "systemic_sign_count": _count(
        "One systemic sign (weight loss, fatigue or fever)",
        "Having {} systemic signs (weight loss, fatigue, fever)",
        "No systemic signs",
    ),
    "current_smoker": _flag("Current smoker", "Not a current smoker"),
    "pack_years": _amount("Smoking history of {} pack-years"),
    "family_history_of_cancer": _flag("Family history of cancer", "No family history of cancer"),
    "recent_trauma": _flag("Recent trauma", "No recent trauma"),
    "steroid_use": _flag("Steroid use", "No steroid use"),
    "immunosuppressed": _flag("Immunosuppression", "Not immunosuppressed"),
    "esr_mm_per_h": _amount("ESR {} mm/h"),
    "esr_20_or_more": _flag("ESR 20 mm/h or more", "ESR under 20 mm/h"),
    "red_flag_count": _count("One red flag present", "Having {} red flags", "No red flags present"),
    "deyo_rule_positive": _flag(
        "Deyo rule positive (age 50+, previous cancer, weight loss or failed treatment)",
        "Deyo rule negative",
    ),
}
if set(PHRASES) != set(FEATURE_NAMES):  # checked when the module loads: one phrase per red flag
    raise RuntimeError("PHRASES must say every red flag of the catalogue")
_PHRASES = tuple(PHRASES[name] for name in FEATURE_NAMES)
_INPUTS = tuple(flag.inputs for flag in RED_FLAGS)
# Flags that count or combine findings: a value above 0 rests on findings that were recorded, so it
# is a reason even when other inputs were not; a 0 may only mean "not asked", so it is not.
PRESENCE_FLAGS = frozenset(
    {"neuro_deficit_count", "any_neuro_deficit", "systemic_sign_count", "red_flag_count",
     "deyo_rule_positive"}
)  # fmt: skip
_PRESENCE = tuple(name in PRESENCE_FLAGS for name in FEATURE_NAMES)


def _stands(feature: int, value: float, record: Mapping[str, Any]) -> bool:
    """Whether the flag's value is a finding: every input recorded, or a presence above 0."""
    if all(record.get(name) is not None for name in _INPUTS[feature]):
        return True
    return _PRESENCE[feature] and value > 0


def strength_of(contribution: float) -> str | None:
    """strongly, moderately or slightly, from |contribution| in log-odds; None below 0.1."""
    size = abs(contribution)
    return next((word for word, cut in STRENGTHS if size >= cut), None)


def reason(
    feature: int, value: float, contribution: float, record: Mapping[str, Any]
) -> dict[str, Any] | None:
    """One red flag's contribution as a sentence; None when it is too small to be a reason."""
    strength = strength_of(contribution)
    if strength is None or value != value:  # NaN: the flag could not be derived from the case
        return None
    direction = "raises" if contribution > 0 else "lowers"
    finding = _PHRASES[feature](value, record)
    return {
        "feature": FEATURE_NAMES[feature],
        "sentence": f"{finding} {direction} the estimate {strength}",
        "direction": direction,
        "strength": strength,
        "contribution": contribution,
    }


def case_reasons(
    contributions: npt.NDArray[np.float64],
    matrix: npt.NDArray[np.float64],
    recorded: npt.NDArray[np.bool_],
    records: Sequence[Mapping[str, Any]],
    limit: int = MAX_REASONS,
) -> list[list[dict[str, Any]]]:
    """Up to ``limit`` reasons per case, the largest |contribution| of a recorded flag first.

    Args:
        contributions: log-odds contributions, cases × red flags (catalogue order).
        matrix: the red flags' values, same shape.
        recorded: whether any input of each flag was recorded, same shape.
        records: the cases, as dicts of fields.
    """
    masked = np.where(recorded, np.abs(contributions), -1.0)
    order = np.argsort(-masked, axis=1, kind="stable")[:, : limit * 3].tolist()
    shares, values, known = contributions.tolist(), matrix.tolist(), recorded.tolist()
    out = []
    for i, record in enumerate(records):
        found: list[dict[str, Any]] = []
        for j in order[i]:
            if len(found) == limit or not known[i][j]:
                break
            if not _stands(j, values[i][j], record):
                continue
            said = reason(j, values[i][j], shares[i][j], record)
            if said is not None:
                found.append(said)
        out.append(found)
    return out
