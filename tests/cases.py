"""A hypothesis strategy for valid case records: every field recorded or not, the consistency
rules of ``features.record`` respected, so that any record it draws the API accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from features.record import ENUM_VALUES, FIELD_KINDS, RANGES, CaseRecord


def _value(name: str) -> st.SearchStrategy[Any]:
    kind = FIELD_KINDS[name]
    if kind == "bool":
        return st.booleans()
    if kind == "enum":
        return st.sampled_from(ENUM_VALUES[name])
    low, high = RANGES.get(name, (0, 100))
    if kind == "int":
        return st.integers(int(low or 0), int(high or 100))
    return st.floats(float(low or 0), float(high or 100), allow_nan=False).map(
        lambda x: round(x, 1)
    )


@st.composite
def case_records(draw: st.DrawFn) -> dict[str, Any]:
    """One valid case: age always, every other field recorded or left out."""
    case: dict[str, Any] = {"age": draw(_value("age"))}
    for name in FIELD_KINDS:
        if name != "age" and draw(st.booleans()):
            case[name] = draw(_value(name))
    if case.get("history_of_cancer") is not True:
        case.pop("cancer_type", None)
        case.pop("years_since_cancer_diagnosis", None)
    if "years_since_cancer_diagnosis" in case:
        case["years_since_cancer_diagnosis"] = min(
            case["years_since_cancer_diagnosis"], case["age"]
        )
    if "unexplained_weight_loss_kg" in case and "weight_kg" in case:
        case["unexplained_weight_loss_kg"] = min(
            case["unexplained_weight_loss_kg"], round(case["weight_kg"] * 0.5, 1)
        )
    if case.get("smoking_status") == "never" and "pack_years" in case:
        case["pack_years"] = 0.0
    CaseRecord.model_validate(case)  # the strategy's own promise: the API accepts it
    return case
