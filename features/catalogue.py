"""The catalogue of engineered red flags: name, label, derivation, clinical direction and source.

Each derivation maps case columns (numpy arrays; booleans as 1.0/0.0/NaN, enums as object arrays
with None) to one float array, NaN where it cannot be derived. The same functions run at fit time on
a whole cohort and at request time on one record, so training and serving cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Columns = Mapping[str, npt.NDArray[np.generic]]

HIGH_SPINAL_TROPISM = frozenset({"breast", "prostate", "lung", "kidney", "thyroid", "myeloma"})

DEYO = "Deyo & Diehl, J Gen Intern Med 1988"
NICE = "NICE CG75 / NG234 (metastatic spinal cord compression)"


@dataclass(frozen=True)
class RedFlag:
    """One engineered feature of the model matrix."""

    name: str
    label: str
    inputs: tuple[str, ...]
    derive: Callable[[Columns], Array]
    source: str
    # +1: clinically unambiguous red flag, so more of it never lowers risk (a monotone constraint).
    direction: int = 0
    # What the model sees where a +1 flag cannot be derived (not recorded): a value between its
    # absent and present values (0.5 for a yes/no flag; a typical recorded value for a number), so
    # that under the monotone constraint f(absent) <= f(not recorded) <= f(present). XGBoost's own
    # missing-value branches are learned freely and broke that order (docs/models.md).
    not_recorded: float = 0.5


def _num(cols: Columns, name: str) -> Array:
    return np.asarray(cols[name], dtype=np.float64)


def _is(cols: Columns, name: str, *values: str) -> Array:
    raw = cols[name]
    hit = np.zeros(len(raw), dtype=bool)
    for value in values:  # elementwise == on an object array: fast for the few values of an enum
        hit |= raw == value
    return np.where(raw == None, np.nan, hit.astype(np.float64))  # noqa: E711


def _threshold(values: Array, cut: float) -> Array:
    return np.where(np.isnan(values), np.nan, (values >= cut).astype(np.float64))


def _present(values: Array) -> Array:
    """1 where a flag is known present, 0 where absent or not recorded (for counts and rules)."""
    return np.where(values == values, values, 0.0)  # NaN != NaN; nan_to_num is 10x slower here


def _raw(
    name: str, label: str, source: str, direction: int = 1, not_recorded: float = 0.5
) -> RedFlag:
    return RedFlag(name, label, (name,), lambda c: _num(c, name), source, direction, not_recorded)


def _weight_loss_pct(c: Columns) -> Array:
    weight, loss = _num(c, "weight_kg"), _num(c, "unexplained_weight_loss_kg")
    return 100.0 * loss / weight


def _high_tropism(c: Columns) -> Array:
    # Not applicable (NaN) without a known cancer, so adding a previous cancer never turns a 0 into
    # an unknown; 0 means a cancer of a type that rarely reaches the spine.
    cancer, kind = _num(c, "history_of_cancer"), _is(c, "cancer_type", *HIGH_SPINAL_TROPISM)
    return np.where(cancer == 1.0, kind, np.nan)


def _neuro_count(c: Columns) -> Array:
    return sum(
        (_present(_num(c, n)) for n in ("limb_weakness", "sensory_loss", "gait_difficulty")),
        np.zeros(len(c["age"])),
    )


def _systemic_count(c: Columns) -> Array:
    loss = _present(_threshold(_num(c, "unexplained_weight_loss_kg"), 1e-9))
    return loss + _present(_num(c, "fatigue")) + _present(_num(c, "fever"))


def _deyo_signs(c: Columns) -> tuple[Array, ...]:
    """Age 50 or over, previous cancer, unexplained weight loss, failed conservative treatment."""
    return (
        _threshold(_num(c, "age"), 50),
        _num(c, "history_of_cancer"),
        _threshold(_num(c, "unexplained_weight_loss_kg"), 1e-9),
        _num(c, "failed_conservative_treatment"),
    )


def _count_present(signs: tuple[Array, ...]) -> Array:
    """How many of ``signs`` are known present, per case (a sum of 0s and 1s: exact in any
    order, so one stacked sum rather than a call per sign)."""
    stacked = np.vstack(signs)
    return np.asarray(np.where(stacked == stacked, stacked, 0.0).sum(axis=0), dtype=np.float64)


def _deyo(c: Columns) -> Array:
    return np.clip(_count_present(_deyo_signs(c)), 0.0, 1.0)


def _red_flag_count(c: Columns) -> Array:
    signs = (
        *_deyo_signs(c),
        _threshold(_num(c, "pain_duration_weeks"), 4 + 1e-9),
        _num(c, "no_relief_with_rest"),
        _num(c, "night_pain"),
        _is(c, "pain_region", "thoracic"),
        np.fmax(_is(c, "pain_trajectory", "worsening"), _num(c, "constant_pain")),
        np.minimum(_neuro_count(c), 1.0),
        _num(c, "bowel_bladder_dysfunction"),
        _num(c, "fatigue"),
        _num(c, "fever"),
        _is(c, "smoking_status", "current"),
        _num(c, "family_history_of_cancer"),
        _threshold(_num(c, "esr_mm_per_h"), 20),
    )
    return _count_present(signs)


RED_FLAGS: tuple[RedFlag, ...] = (
    _raw("age", "Age (years)", DEYO),
    RedFlag(
        "age_50_or_over",
        "Age 50 or over",
        ("age",),
        lambda c: _threshold(_num(c, "age"), 50),
        DEYO,
        1,
    ),
    RedFlag("male_sex", "Male sex", ("sex",), lambda c: _is(c, "sex", "male"), "demographic"),
    _raw("history_of_cancer", "Previous cancer", DEYO),
    RedFlag(
        "high_spinal_tropism_cancer",
        "Previous cancer of a type that often spreads to the spine",
        ("history_of_cancer", "cancer_type"),
        _high_tropism,
        "breast, lung, prostate, kidney, thyroid, myeloma: NICE CG75",
        1,
        # Also "no known cancer": as low as a cancer of another type, so that recording a
        # previous cancer of unknown type never lowers the estimate.
        not_recorded=0.0,
    ),
    _raw("years_since_cancer_diagnosis", "Years since cancer diagnosis", NICE, 0),
    _raw("pain_duration_weeks", "Pain duration (weeks)", DEYO, 0),
    RedFlag(
        "duration_over_4_weeks",
        "Pain for more than 4 weeks",
        ("pain_duration_weeks",),
        lambda c: _threshold(_num(c, "pain_duration_weeks"), 4 + 1e-9),
        DEYO,
        1,
    ),
    RedFlag(
        "progressive_pain",
        "Progressively worsening pain",
        ("pain_trajectory",),
        lambda c: _is(c, "pain_trajectory", "worsening"),
        NICE,
        1,
    ),
    RedFlag(
        "improving_pain",
        "Pain improving",
        ("pain_trajectory",),
        lambda c: _is(c, "pain_trajectory", "improving"),
        "mechanical and disc pain improve",
        0,
    ),
    _raw("constant_pain", "Constant, unrelenting pain", NICE),
    _raw("night_pain", "Night pain", "Harding et al., Spine 2005"),
    _raw("pain_worse_lying_down", "Pain worse lying down", NICE),
    _raw("no_relief_with_rest", "No relief with bed rest", DEYO),
    _raw("failed_conservative_treatment", "No improvement after a month of treatment", DEYO),
    RedFlag(
        "thoracic_pain",
        "Thoracic (mid-back) pain",
        ("pain_region",),
        lambda c: _is(c, "pain_region", "thoracic"),
        NICE,
        1,
    ),
    RedFlag(
        "cervical_pain",
        "Cervical (neck) pain",
        ("pain_region",),
        lambda c: _is(c, "pain_region", "cervical"),
        NICE,
        0,
    ),
    _raw("pain_score", "Pain score (0-10)", "clinical assessment", 0),
    # Numbness or tingling is the radicular symptom of disc herniation, the common false positive
    # (docs/references.md): which way it moves the risk depends on the rest of the picture.
    _raw("numbness_tingling", "Numbness or tingling", NICE, 0),
    _raw("limb_weakness", "Limb weakness", NICE),
    _raw("sensory_loss", "Loss of sensation", NICE),
    _raw("gait_difficulty", "Difficulty walking", NICE),
    RedFlag(
        "neuro_deficit_count",
        "Number of neurological deficits",
        ("limb_weakness", "sensory_loss", "gait_difficulty"),
        _neuro_count,
        NICE,
        1,
    ),
    RedFlag(
        "any_neuro_deficit",
        "Any neurological deficit",
        ("limb_weakness", "sensory_loss", "gait_difficulty"),
        lambda c: np.minimum(_neuro_count(c), 1.0),
        NICE,
        1,
    ),
    RedFlag(
        "sphincter_dysfunction",
        "Bowel or bladder dysfunction",
        ("bowel_bladder_dysfunction",),
        lambda c: _num(c, "bowel_bladder_dysfunction"),
        NICE,
        1,
    ),
    _raw("unexplained_weight_loss_kg", "Unexplained weight loss (kg)", DEYO, not_recorded=0.0),
    RedFlag(
        "weight_loss_pct",
        "Weight lost (% of body weight)",
        ("unexplained_weight_loss_kg", "weight_kg"),
        _weight_loss_pct,
        DEYO,
        1,
        not_recorded=0.0,
    ),
    RedFlag(
        "weight_loss_5pct_or_more",
        "Lost 5% or more of body weight",
        ("unexplained_weight_loss_kg", "weight_kg"),
        lambda c: _threshold(_weight_loss_pct(c), 5),
        "NICE NG12",
        1,
    ),
    _raw("fatigue", "Fatigue", "Shephard et al., BJGP 2013"),
    # Fever mostly marks spinal infection, the differential that explains the other flags away.
    _raw("fever", "Fever", "spinal infection and malignancy", 0),
    RedFlag(
        "systemic_sign_count",
        "Number of systemic signs (weight loss, fatigue, fever)",
        ("unexplained_weight_loss_kg", "fatigue", "fever"),
        _systemic_count,
        NICE,
        1,
    ),
    RedFlag(
        "current_smoker",
        "Current smoker",
        ("smoking_status",),
        lambda c: _is(c, "smoking_status", "current"),
        "QCancer",
        1,
    ),
    _raw("pack_years", "Pack-years smoked", "QCancer", not_recorded=0.0),
    _raw("family_history_of_cancer", "Family history of cancer", "QCancer"),
    _raw("recent_trauma", "Recent trauma", "fracture differential", 0),
    _raw("steroid_use", "Steroid use", "fracture differential", 0),
    _raw("immunosuppressed", "Immunosuppressed", "infection differential", 0),
    # A normal ESR: esr_20_or_more (0.5 when not recorded) tells the model it was not measured.
    _raw("esr_mm_per_h", "ESR (mm/h)", DEYO, not_recorded=10.0),
    RedFlag(
        "esr_20_or_more",
        "ESR 20 mm/h or more",
        ("esr_mm_per_h",),
        lambda c: _threshold(_num(c, "esr_mm_per_h"), 20),
        DEYO,
        1,
    ),
    RedFlag(
        "red_flag_count",
        "Number of red flags present",
        (
            "age",
            "history_of_cancer",
            "unexplained_weight_loss_kg",
            "failed_conservative_treatment",
            "pain_duration_weeks",
            "no_relief_with_rest",
            "night_pain",
            "pain_region",
            "pain_trajectory",
            "constant_pain",
            "limb_weakness",
            "sensory_loss",
            "gait_difficulty",
            "bowel_bladder_dysfunction",
            "fatigue",
            "fever",
            "smoking_status",
            "family_history_of_cancer",
            "esr_mm_per_h",
        ),
        _red_flag_count,
        "Henschke et al. 2009",
        1,
    ),
    RedFlag(
        "deyo_rule_positive",
        "Deyo rule: age 50+, previous cancer, weight loss or failed treatment",
        ("age", "history_of_cancer", "unexplained_weight_loss_kg", "failed_conservative_treatment"),
        _deyo,
        DEYO,
        1,
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(flag.name for flag in RED_FLAGS)
# The model's value of each flag where it cannot be derived: a +1 flag's ordinal "not recorded"
# value, NaN (XGBoost's own missing-value handling) for a flag without a clinical direction.
NOT_RECORDED_VALUES: Array = np.array(
    [flag.not_recorded if flag.direction == 1 else np.nan for flag in RED_FLAGS]
)


# Which fields each red flag reads, as a matrix (fields × flags): a flag is recorded where any of
# its inputs is, one matrix product for every flag of every case.
_INPUT_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(n for flag in RED_FLAGS for n in flag.inputs))
_READS = np.array([[name in flag.inputs for flag in RED_FLAGS] for name in _INPUT_FIELDS], float)


def recorded_features(columns: Columns) -> npt.NDArray[np.bool_]:
    """Per case and red flag: whether any input of the flag was recorded (n cases × flags)."""
    given = np.column_stack([_given(columns[name]) for name in _INPUT_FIELDS])
    return np.asarray(given.astype(np.float64) @ _READS > 0, dtype=np.bool_)


def _given(values: npt.NDArray[np.generic]) -> npt.NDArray[np.bool_]:
    if values.dtype == object:
        return np.asarray(values != None, dtype=np.bool_)  # noqa: E711 (elementwise)
    return np.asarray(~np.isnan(np.asarray(values, dtype=np.float64)), dtype=np.bool_)
