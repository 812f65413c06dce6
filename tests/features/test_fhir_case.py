"""A case read from FHIR resources through the one code table."""

from __future__ import annotations

from datetime import date

import pytest

from features.codes import CANCER_CONDITIONS, LOCAL, LOINC, OBSERVATION_CODES, SNOMED
from features.fhir_case import FhirCaseError, case_from_bundle, case_from_resources
from features.record import FIELDS, CaseRecord
from tests.clinical import condition, observation, patient, worrying_bundle

TODAY = date(2026, 12, 1)


def test_a_bundle_becomes_the_case_it_describes() -> None:
    case = case_from_bundle(worrying_bundle(), TODAY)
    assert case.record == {
        "age": 70, "sex": "male", "limb_weakness": True, "night_pain": True, "esr_mm_per_h": 68.0,
        "weight_kg": 70.0, "unexplained_weight_loss_kg": 6.0, "pain_region": "thoracic",
        "history_of_cancer": True, "cancer_type": "prostate", "years_since_cancer_diagnosis": 7.5,
    }  # fmt: skip
    assert "fever" not in case.record  # dataAbsentReason: not recorded
    assert case.patient == "Patient/p1"
    assert "Condition/c1" in case.basis and "Observation/o3" in case.basis
    CaseRecord.model_validate(case.record)


def test_units_are_converted_and_unknown_units_named() -> None:
    grams = observation("w", LOINC, "29463-7", valueQuantity={"value": 72500, "code": "g"})
    case = case_from_resources(patient(), [grams], [], TODAY)
    assert case.record["weight_kg"] == 72.5
    days = observation("d", LOCAL, "pain_duration_weeks", valueQuantity={"value": 21, "code": "d"})
    assert case_from_resources(patient(), [days], [], TODAY).record["pain_duration_weeks"] == 3
    stones = observation("s", LOINC, "29463-7", valueQuantity={"value": 11, "code": "[stone]"})
    with pytest.raises(FhirCaseError, match=r"Observation/s \(weight_kg\): unit '\[stone\]'"):
        case_from_resources(patient(), [stones], [], TODAY)


def test_the_latest_observation_of_a_field_wins() -> None:
    old = observation("a", SNOMED, "84229001", valueBoolean=True, effectiveDateTime="2026-01-01")
    new = observation("b", SNOMED, "84229001", valueBoolean=False, effectiveDateTime="2026-11-01")
    assert case_from_resources(patient(), [new, old], [], TODAY).record["fatigue"] is False


def test_smoking_status_is_read_from_its_snomed_value() -> None:
    smoker = observation(
        "s",
        LOINC,
        "72166-2",
        valueCodeableConcept={"coding": [{"system": SNOMED, "code": "8517006"}]},
    )
    assert case_from_resources(patient(), [smoker], [], TODAY).record["smoking_status"] == "former"


def test_a_refuted_cancer_is_a_recorded_no_and_an_empty_list_is_not() -> None:
    refuted = condition("c", "254837009")
    refuted["verificationStatus"] = {"coding": [{"code": "refuted"}]}
    assert case_from_resources(patient(), [], [refuted], TODAY).record["history_of_cancer"] is False
    assert "history_of_cancer" not in case_from_resources(patient(), [], [], TODAY).record


def test_of_several_cancers_the_one_reaching_the_spine_is_kept() -> None:
    other = condition("c1", "363346000", "2024-01-01")
    breast = condition("c2", "254837009", "2010-01-01")
    record = case_from_resources(patient(), [], [other, breast], TODAY).record
    assert record["cancer_type"] == "breast" and record["years_since_cancer_diagnosis"] == 16.9


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (observation("x", SNOMED, "84229001"), r"Observation/x \(fatigue\): needs valueBoolean"),
        (observation("y", LOINC, "72514-3", valueInteger=11), None),
        (
            observation("z", LOINC, "72166-2", valueCodeableConcept={"text": "sometimes"}),
            "no coded",
        ),
    ],
)
def test_unreadable_observations_are_named(resource: dict, message: str | None) -> None:
    if message is None:  # readable, but out of range: the case record says so, naming the field
        record = case_from_resources(patient(), [resource], [], TODAY).record
        with pytest.raises(ValueError, match="pain_score"):
            CaseRecord.model_validate(record)
        return
    with pytest.raises(FhirCaseError, match=message):
        case_from_resources(patient(), [resource], [], TODAY)


def test_a_patient_without_a_birth_date_has_no_age() -> None:
    with pytest.raises(FhirCaseError, match="Patient/p1: no birthDate"):
        case_from_resources({"resourceType": "Patient", "id": "p1"}, [], [], TODAY)
    with pytest.raises(FhirCaseError, match="exactly one is needed"):
        case_from_bundle({"resourceType": "Bundle", "type": "collection", "entry": []})


def test_the_code_table_reaches_every_field_and_says_how_well() -> None:
    observed = {entry.field for entry in OBSERVATION_CODES}
    assert observed | {"age", "sex", "history_of_cancer", "cancer_type",
                       "years_since_cancer_diagnosis"} == set(FIELDS)  # fmt: skip
    assert {entry.match for entry in OBSERVATION_CODES} == {"exact", "best", "local"}
    assert all(e.code == e.field for e in OBSERVATION_CODES if e.system == LOCAL)
    assert {kind for kind, _ in CANCER_CONDITIONS.values()} >= {"breast", "prostate", "myeloma"}


def test_the_docs_print_every_code_of_the_table() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "clinical-standards.md").read_text()
    for entry in OBSERVATION_CODES:
        if entry.match != "local":
            assert f"| `{entry.field}` | " in text and f"`{entry.code}`" in text, entry
    for _, code in CANCER_CONDITIONS:
        assert f"`{code}`" in text


@pytest.mark.parametrize(
    "odd",
    [
        observation("q", LOINC, "29463-7", valueQuantity={"value": 10**400, "code": "kg"}),
        observation("q", LOINC, "72514-3", valueInteger=float("inf")),
        {**observation("q", SNOMED, "84229001", valueBoolean=True), "status": ["final"]},
    ],
)
def test_odd_values_are_named_not_crashed_on(odd: dict) -> None:
    try:
        case_from_resources(patient(), [odd], [], TODAY)
    except FhirCaseError as error:
        assert "Observation/q" in str(error)
