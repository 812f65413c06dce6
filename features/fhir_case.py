"""A case record read from FHIR resources (Patient, Observations, Conditions) via features.codes.

CDS Hooks prefetch and ``POST /v1/predict/fhir`` both come here, as plain JSON dicts: no FHIR
library at run time. An Observation with ``dataAbsentReason`` leaves its field not recorded; a field
with no resource at all is not recorded either (absence from a chart is not a "no").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from features.catalogue import HIGH_SPINAL_TROPISM
from features.codes import (
    CANCER_CONDITIONS,
    LOCAL,
    OBSERVATION_FIELD,
    SNOMED,
    VALUE_CODES,
    FieldCode,
)
from features.record import ENUM_VALUES

Resource = Mapping[str, Any]

# Units a quantity may come in, as factors to the field's own unit.
_CONVERSIONS: dict[str, dict[str, float]] = {
    "kg": {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237, "lb": 0.45359237},
    "wk": {"wk": 1.0, "d": 1 / 7, "mo": 30.4375 / 7, "a": 365.25 / 7},
    "mm/h": {"mm/h": 1.0, "mm/hr": 1.0},
    "{pack-years}": {"{pack-years}": 1.0, "{pack-year}": 1.0, "": 1.0},
}
_IGNORED_STATUSES = frozenset({"entered-in-error", "cancelled", "preliminary", "registered"})
_BACKACHE = (SNOMED, "161891005")


class FhirCaseError(ValueError):
    """A resource that cannot be read as part of a case; the message names it."""


@dataclass
class FhirCase:
    """The case read from FHIR, with where it came from."""

    record: dict[str, Any]
    patient: str | None = None  # "Patient/<id>"
    basis: list[str] = field(default_factory=list)  # references of the resources used


def resources_in(value: Any, depth: int = 0) -> list[Resource]:
    """A resource, a Bundle of them, or null (no data) as a list of resources."""
    if value is None:
        return []
    if not isinstance(value, Mapping) or "resourceType" not in value:
        raise FhirCaseError("expected a FHIR resource or Bundle (an object with resourceType)")
    if value["resourceType"] != "Bundle":
        return [value]
    found = []
    for i, entry in enumerate(value.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or "resourceType" not in resource:
            raise FhirCaseError(f"Bundle entry[{i}] has no resource")
        if depth >= 2 and resource.get("resourceType") == "Bundle":
            raise FhirCaseError("Bundles nested more than two deep are not read")
        found.extend(resources_in(resource, depth + 1))
    return found


def _name(resource: Resource) -> str:
    kind = resource.get("resourceType", "resource")
    return f"{kind}/{resource['id']}" if resource.get("id") else str(kind)


def _codings(concept: Any) -> list[tuple[str, str]]:
    if not isinstance(concept, Mapping):
        return []
    return [
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding") or []
        if isinstance(c, Mapping)
    ]


def _when(text: Any) -> datetime:
    if not isinstance(text, str):
        return datetime.min.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _quantity(entry: FieldCode, obs: Resource) -> float:
    quantity = obs.get("valueQuantity")
    if not isinstance(quantity, Mapping) or not _finite(quantity.get("value")):
        raise FhirCaseError(f"{_name(obs)} ({entry.field}): needs valueQuantity with a value")
    unit = str(quantity.get("code") or quantity.get("unit") or "")
    factors = _CONVERSIONS.get(entry.unit or "", {})
    if unit not in factors:
        accepted = ", ".join(repr(u) for u in factors if u)
        raise FhirCaseError(f"{_name(obs)} ({entry.field}): unit {unit!r}, expected {accepted}")
    return round(float(quantity["value"]) * factors[unit], 6)


def _integer(entry: FieldCode, obs: Resource) -> int:
    value: Any = obs.get("valueInteger")
    if value is None and isinstance(obs.get("valueQuantity"), Mapping):
        value = obs["valueQuantity"].get("value")
    if not _finite(value) or value != int(value):
        raise FhirCaseError(f"{_name(obs)} ({entry.field}): needs a whole-number value")
    return int(value)


def _coded(entry: FieldCode, obs: Resource) -> str | None:
    allowed = ENUM_VALUES[entry.field]
    if (entry.system, entry.code) == _BACKACHE:
        concepts = obs.get("bodySite")
        if concepts is None:
            return None  # back pain without a site says nothing about the region
        concepts = [concepts]
    else:
        concepts = [obs.get("valueCodeableConcept")]
    for concept in concepts:
        for system, code in _codings(concept):
            if (system, code) in VALUE_CODES.get(entry.field, {}):
                return VALUE_CODES[entry.field][(system, code)]
            if system == LOCAL and code in allowed:
                return code
    raise FhirCaseError(
        f"{_name(obs)} ({entry.field}): no coded value this service knows "
        f"(docs/clinical-standards.md lists them; local codes: {', '.join(allowed)})"
    )


def observation_value(entry: FieldCode, obs: Resource) -> Any:
    """The field's value in ``obs``; None when ``dataAbsentReason`` says it was not recorded."""
    if obs.get("dataAbsentReason") is not None:
        return None
    if entry.value == "boolean":
        value = obs.get("valueBoolean")
        if not isinstance(value, bool):
            raise FhirCaseError(
                f"{_name(obs)} ({entry.field}): needs valueBoolean, or dataAbsentReason"
            )
        return value
    if entry.value == "quantity":
        return _quantity(entry, obs)
    if entry.value == "integer":
        return _integer(entry, obs)
    return _coded(entry, obs)


def _observations(observations: Iterable[Resource], case: FhirCase) -> dict[str, Any]:
    latest: dict[str, tuple[datetime, int, Any]] = {}
    for order, obs in enumerate(observations):
        if str(obs.get("status")) in _IGNORED_STATUSES:
            continue
        entry = next(
            (OBSERVATION_FIELD[c] for c in _codings(obs.get("code")) if c in OBSERVATION_FIELD),
            None,
        )
        if entry is None:
            continue  # a finding this model does not use
        value = observation_value(entry, obs)
        if value is None and (entry.system, entry.code) == _BACKACHE:
            continue
        when = _when(obs.get("effectiveDateTime") or obs.get("issued"))
        if entry.field not in latest or (when, order) >= latest[entry.field][:2]:
            latest[entry.field] = (when, order, value)
        case.basis.append(_name(obs))
    return {name: value for name, (_, _, value) in latest.items()}


def _years_between(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _date(text: Any, what: str) -> date:
    if not isinstance(text, str) or len(text) < 4:
        raise FhirCaseError(f"{what}: not a FHIR date")
    parts = text[:10].split("-")
    try:
        return date(
            int(parts[0]),
            int(parts[1]) if len(parts) > 1 else 7,
            int(parts[2]) if len(parts) > 2 else 1,
        )
    except ValueError as error:
        raise FhirCaseError(f"{what}: not a FHIR date ({error})") from error


def _patient(patient: Resource, today: date, case: FhirCase) -> dict[str, Any]:
    if patient.get("resourceType") != "Patient":
        raise FhirCaseError(f"expected a Patient, got {patient.get('resourceType')}")
    if not patient.get("birthDate"):
        raise FhirCaseError(f"{_name(patient)}: no birthDate, and age is required")
    born = _date(patient["birthDate"], f"{_name(patient)}.birthDate")
    gender = patient.get("gender")
    case.patient = _name(patient) if patient.get("id") else None
    case.basis.append(_name(patient))
    return {
        "age": _years_between(born, today),
        "sex": gender if gender in ("female", "male") else None,
    }


def _cancer_rank(cancer: str) -> int:
    return 1 if cancer in HIGH_SPINAL_TROPISM else 0


def _conditions(conditions: Iterable[Resource], today: date, case: FhirCase) -> dict[str, Any]:
    found: list[tuple[int, datetime, str, Resource]] = []
    refuted = False
    for condition in conditions:
        code = next((c for c in _codings(condition.get("code")) if c in CANCER_CONDITIONS), None)
        if code is None:
            continue
        status = [c for _, c in _codings(condition.get("verificationStatus"))]
        if "entered-in-error" in status:
            continue
        if "refuted" in status:
            refuted = True
            continue
        cancer = CANCER_CONDITIONS[code][0]
        found.append(
            (_cancer_rank(cancer), _when(condition.get("onsetDateTime")), cancer, condition)
        )
    if not found:
        return {"history_of_cancer": False} if refuted else {}
    # The cancer most likely to reach the spine, and of those the latest diagnosed.
    _, _, cancer, chosen = max(found, key=lambda item: item[:2])
    case.basis.extend(_name(item[3]) for item in found)
    years = None
    if chosen.get("onsetDateTime"):
        onset = _date(chosen["onsetDateTime"], f"{_name(chosen)}.onsetDateTime")
        years = round(max((today - onset).days, 0) / 365.25, 1)
    return {"history_of_cancer": True, "cancer_type": cancer, "years_since_cancer_diagnosis": years}


def case_from_resources(
    patient: Resource | None,
    observations: Iterable[Resource],
    conditions: Iterable[Resource],
    today: date | None = None,
) -> FhirCase:
    """The case record of one patient; fields with no data are left out (not recorded)."""
    if patient is None:
        raise FhirCaseError("no Patient: age is required")
    today = today or datetime.now(UTC).date()
    case = FhirCase(record={})
    values = {
        **_patient(patient, today, case),
        **_observations(observations, case),
        **_conditions(conditions, today, case),
    }
    case.record = {name: value for name, value in values.items() if value is not None}
    return case


def case_from_bundle(bundle: Any, today: date | None = None) -> FhirCase:
    """The case in a Bundle holding one Patient, its Observations and Conditions."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise FhirCaseError("expected a FHIR Bundle")
    resources = resources_in(bundle)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise FhirCaseError(f"the Bundle holds {len(patients)} Patients; exactly one is needed")
    return case_from_resources(
        patients[0],
        [r for r in resources if r.get("resourceType") == "Observation"],
        [r for r in resources if r.get("resourceType") == "Condition"],
        today,
    )
