"""The case record: one flat record per patient, the contract of the API, datasets and simulator."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self, get_args, get_origin

import numpy as np
from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

Sex = Literal["female", "male"]
PainTrajectory = Literal["improving", "stable", "worsening"]
PainRegion = Literal["cervical", "thoracic", "lumbar", "sacral"]
CancerType = Literal["breast", "prostate", "lung", "kidney", "thyroid", "myeloma", "other"]
SmokingStatus = Literal["never", "former", "current"]

LABEL = "spinal_malignancy"
DIAGNOSIS = "diagnosis"
DIAGNOSES = (
    "nonspecific",
    "disc_herniation",
    "fracture",
    "infection",
    "metastasis",
    "primary_tumour",
    "myeloma",
)
MALIGNANT_DIAGNOSES = frozenset({"metastasis", "primary_tumour", "myeloma"})

Flag = Annotated[StrictBool | None, Field(default=None)]


class CaseRecord(BaseModel):
    """One patient with back pain; every clinical field may be missing (null = not recorded)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    age: int = Field(ge=18, le=110, description="Age in years; under 18 is out of scope.")
    sex: Sex | None = None
    pain_duration_weeks: float | None = Field(default=None, strict=True, ge=0, le=520)
    pain_trajectory: PainTrajectory | None = None
    constant_pain: Flag = Field(default=None, description="Constant, unrelenting pain.")
    night_pain: Flag = Field(default=None, description="Pain worse at night or waking the patient.")
    pain_worse_lying_down: Flag = Field(default=None, description="Worse supine or in positions.")
    no_relief_with_rest: Flag = None
    failed_conservative_treatment: Flag = Field(
        default=None, description="No improvement after 4 weeks of analgesics or physiotherapy."
    )
    pain_region: PainRegion | None = None
    pain_score: int | None = Field(default=None, ge=0, le=10)
    numbness_tingling: Flag = None
    limb_weakness: Flag = None
    sensory_loss: Flag = None
    gait_difficulty: Flag = None
    bowel_bladder_dysfunction: Flag = None
    weight_kg: float | None = Field(default=None, strict=True, ge=25, le=300)
    unexplained_weight_loss_kg: float | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=100,
        description="Unexplained weight loss over the last 6 months.",
    )
    fatigue: Flag = None
    fever: Flag = None
    history_of_cancer: Flag = None
    cancer_type: CancerType | None = Field(default=None, description="Only with history_of_cancer.")
    years_since_cancer_diagnosis: float | None = Field(default=None, strict=True, ge=0, le=80)
    smoking_status: SmokingStatus | None = None
    pack_years: float | None = Field(default=None, strict=True, ge=0, le=200)
    family_history_of_cancer: Flag = None
    recent_trauma: Flag = None
    steroid_use: Flag = None
    immunosuppressed: Flag = None
    esr_mm_per_h: float | None = Field(
        default=None, strict=True, ge=0, le=200, description="Optional lab value."
    )

    # JSON Schema's integer admits 70.0, so these stay lax, but pydantic's lax int also takes
    # true as 1: refuse booleans here, as strict does for the float fields.
    @field_validator("age", "pain_score", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        for problem in consistency_problems(self.model_dump()):
            raise ValueError(problem)
        return self


# A case's fields, one case (plain values, None: not recorded) or many (arrays: bools and numbers
# as float with NaN, enums as objects with None). Each rule below reads both the same way.
CaseFields = Mapping[str, Any]


@dataclass(frozen=True)
class ConsistencyRule:
    """A contradiction between fields of a case, reported on ``field``.

    ``violated`` reads one case or whole columns, so the API (one case) and the file loaders
    (every row at once) apply the same rule; ``in_rows`` is how a file's rows are described where
    it reads better than ``reason``.
    """

    field: str
    reason: str
    violated: Callable[[CaseFields], Any]  # a bool for one case, a boolean array for columns
    in_rows: str = ""

    @property
    def rows_reason(self) -> str:
        """The reason as said of the rows of a file."""
        return self.in_rows or self.reason


def _given(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return np.asarray([v is not None for v in value], dtype=np.bool_)
        return ~np.isnan(value)
    return value is not None and value == value  # NaN is "not recorded" too


def _without_history(c: CaseFields, name: str) -> Any:
    # != 1.0 holds for False, None and NaN alike, on a value or an array.
    return _given(c[name]) & (c["history_of_cancer"] != 1.0)


def _above(left: Any, right: Any, or_equal: bool = False) -> Any:
    # NaN (not recorded) compares false: no contradiction.
    if not isinstance(left, np.ndarray):
        if left is None or right is None:
            return False
        return left >= right if or_equal else left > right
    with np.errstate(invalid="ignore"):
        return left >= right if or_equal else left > right


CONSISTENCY_RULES: tuple[ConsistencyRule, ...] = (
    ConsistencyRule(
        "cancer_type",
        "given, but history_of_cancer is not true",
        lambda c: _without_history(c, "cancer_type"),
    ),
    ConsistencyRule(
        "years_since_cancer_diagnosis",
        "given, but history_of_cancer is not true",
        lambda c: _without_history(c, "years_since_cancer_diagnosis"),
    ),
    ConsistencyRule(
        "unexplained_weight_loss_kg",
        "must be less than weight_kg",
        lambda c: _above(c["unexplained_weight_loss_kg"], c["weight_kg"], or_equal=True),
        in_rows="not less than weight_kg",
    ),
    ConsistencyRule(
        "pack_years",
        "must be 0 when smoking_status is 'never'",
        lambda c: (c["smoking_status"] == "never") & _above(c["pack_years"], 0.0),
    ),
    ConsistencyRule(
        "years_since_cancer_diagnosis",
        "greater than age",
        lambda c: _above(c["years_since_cancer_diagnosis"], c["age"]),
    ),
)
_RULE_FIELDS = (
    "history_of_cancer",
    "cancer_type",
    "years_since_cancer_diagnosis",
    "unexplained_weight_loss_kg",
    "weight_kg",
    "smoking_status",
    "pack_years",
    "age",
)


def consistency_problems(case: Mapping[str, Any]) -> list[str]:
    """Cross-field contradictions in one case, each "field: reason" (API and loaders)."""
    fields = {name: case.get(name) for name in _RULE_FIELDS}
    return [f"{rule.field}: {rule.reason}" for rule in CONSISTENCY_RULES if rule.violated(fields)]


# How each field is named to a person (explanations, next questions, the page, FHIR displays).
FIELD_LABELS: dict[str, str] = {
    "age": "Age",
    "sex": "Sex",
    "pain_duration_weeks": "Pain duration",
    "pain_trajectory": "Pain trajectory",
    "constant_pain": "Constant, unrelenting pain",
    "night_pain": "Night pain",
    "pain_worse_lying_down": "Pain worse lying down",
    "no_relief_with_rest": "No relief with rest",
    "failed_conservative_treatment": "No improvement after a month of treatment",
    "pain_region": "Pain region",
    "pain_score": "Pain score",
    "numbness_tingling": "Numbness or tingling",
    "limb_weakness": "Limb weakness",
    "sensory_loss": "Loss of sensation",
    "gait_difficulty": "Difficulty walking",
    "bowel_bladder_dysfunction": "Bowel or bladder dysfunction",
    "weight_kg": "Body weight",
    "unexplained_weight_loss_kg": "Unexplained weight loss",
    "fatigue": "Fatigue",
    "fever": "Fever",
    "history_of_cancer": "Previous cancer",
    "cancer_type": "Cancer type",
    "years_since_cancer_diagnosis": "Years since cancer diagnosis",
    "smoking_status": "Smoking status",
    "pack_years": "Pack-years smoked",
    "family_history_of_cancer": "Family history of cancer",
    "recent_trauma": "Recent trauma",
    "steroid_use": "Steroid use",
    "immunosuppressed": "Immunosuppression",
    "esr_mm_per_h": "ESR",
}


# The field kinds below are read from CaseRecord itself, so the class stays the one source of truth.
FieldKind = Literal["bool", "enum", "int", "float"]


def _kind_of(annotation: Any) -> tuple[FieldKind, tuple[str, ...]]:
    args = [a for a in get_args(annotation) if a is not type(None)]
    inner = args[0] if get_origin(annotation) in (typing.Union, types.UnionType) else annotation
    if get_origin(inner) is Annotated:
        inner = get_args(inner)[0]
    if get_origin(inner) is Literal:
        return "enum", tuple(get_args(inner))
    if inner is bool:
        return "bool", ()
    if inner is int:
        return "int", ()
    return "float", ()


FIELD_KINDS: dict[str, FieldKind] = {}
ENUM_VALUES: dict[str, tuple[str, ...]] = {}
RANGES: dict[str, tuple[float | None, float | None]] = {}
for _name, _info in CaseRecord.model_fields.items():
    _kind, _values = _kind_of(_info.annotation)
    FIELD_KINDS[_name] = _kind
    if _values:
        ENUM_VALUES[_name] = _values
    _ge = next((m.ge for m in _info.metadata if isinstance(m, Ge)), None)
    _le = next((m.le for m in _info.metadata if isinstance(m, Le)), None)
    if _ge is not None or _le is not None:
        RANGES[_name] = (_ge, _le)  # type: ignore[assignment]

FIELDS: tuple[str, ...] = tuple(CaseRecord.model_fields)
REQUIRED_FIELDS: tuple[str, ...] = tuple(
    n for n, info in CaseRecord.model_fields.items() if info.is_required()
)
if set(FIELD_LABELS) != set(FIELDS):  # one label per field, checked when the module loads
    raise RuntimeError("FIELD_LABELS must name every field of CaseRecord")
