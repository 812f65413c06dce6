"""Every validation rule of the case record."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from features.record import ENUM_VALUES, FIELD_KINDS, FIELDS, RANGES, CaseRecord


def errors_of(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        CaseRecord(**fields)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_only_age_is_required() -> None:
    case = CaseRecord(age=40)
    assert all(getattr(case, name) is None for name in FIELDS if name != "age")
    assert errors_of() == [("age", "Field required")]


@pytest.mark.parametrize("age", [17, 111, -1])
def test_age_out_of_scope_is_refused(age: int) -> None:
    assert errors_of(age=age)[0][0] == "age"


def test_unknown_fields_are_refused() -> None:
    assert errors_of(age=40, favourite_colour="blue") == [
        ("favourite_colour", "Extra inputs are not permitted")
    ]


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_range_is_enforced_at_both_ends(name: str) -> None:
    low, high = RANGES[name]
    base = {"age": 60}
    if name == "age":
        base = {}
    for bad in (low - 1, high + 1):
        value = int(bad) if FIELD_KINDS[name] == "int" else float(bad)
        fields = {**base, name: value}
        if name == "years_since_cancer_diagnosis":
            fields["history_of_cancer"] = True
        assert name in dict(errors_of(**fields))


@pytest.mark.parametrize("name", sorted(ENUM_VALUES))
def test_each_enum_accepts_its_values_and_nothing_else(name: str) -> None:
    extra = {"history_of_cancer": True} if name == "cancer_type" else {}
    for value in ENUM_VALUES[name]:
        assert getattr(CaseRecord(age=60, **extra, **{name: value}), name) == value
    assert name in dict(errors_of(age=60, **extra, **{name: "unheard-of"}))


@pytest.mark.parametrize("name", [n for n, k in FIELD_KINDS.items() if k == "bool"])
@pytest.mark.parametrize("value", ["yes", 1, "true", 0.0])
def test_booleans_are_strict(name: str, value: Any) -> None:
    assert name in dict(errors_of(age=60, **{name: value}))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    assert "esr_mm_per_h" in dict(errors_of(age=60, esr_mm_per_h=value))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"cancer_type": "lung"}, "cancer_type"),
        ({"cancer_type": "lung", "history_of_cancer": False}, "cancer_type"),
        ({"years_since_cancer_diagnosis": 2.0}, "years_since_cancer_diagnosis"),
        ({"weight_kg": 60.0, "unexplained_weight_loss_kg": 60.0}, "unexplained_weight_loss_kg"),
        ({"smoking_status": "never", "pack_years": 10.0}, "pack_years"),
        (
            {"history_of_cancer": True, "years_since_cancer_diagnosis": 70.0},
            "years_since_cancer_diagnosis",
        ),
    ],
)
def test_contradictions_name_the_field(fields: dict[str, Any], named: str) -> None:
    (loc, message), *_ = errors_of(age=60, **fields)
    assert message.startswith(f"Value error, {named}:")


def test_consistent_cases_pass() -> None:
    case = CaseRecord(
        age=70,
        history_of_cancer=True,
        cancer_type="breast",
        years_since_cancer_diagnosis=4,
        weight_kg=60,
        unexplained_weight_loss_kg=5,
        smoking_status="never",
        pack_years=0,
    )
    assert case.cancer_type == "breast"


def test_records_are_immutable() -> None:
    case = CaseRecord(age=60)
    with pytest.raises(ValidationError):
        case.age = 61  # type: ignore[misc]
