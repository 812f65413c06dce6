"""The one table between clinical codes (SNOMED CT, LOINC) and the fields of the case record.

CDS Hooks prefetch, a FHIR Bundle in and the FHIR resources out all read it; docs/clinical-
standards.md prints it. ``match`` says how close the code is to the field: ``exact`` (the concept is
the field), ``best`` (the nearest concept that exists: read the note in the docs before relying on
it), ``local`` (no standard concept; this service's own code system, which every field also has).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from features.record import FIELDS

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
# This service's own code system: every field's name is a code in it, so a site can send any field
# exactly even where no standard concept exists. A URN, so it never resolves to someone else's.
LOCAL = "urn:redflag:case-record"

Match = Literal["exact", "best", "local"]
ValueKind = Literal["boolean", "quantity", "integer", "code"]


@dataclass(frozen=True)
class FieldCode:
    """A code whose Observation fills one field of the case record."""

    field: str
    system: str
    code: str
    display: str
    match: Match
    value: ValueKind
    unit: str | None = None  # UCUM unit of a quantity, the one the field is in


def _local(field: str, value: ValueKind, unit: str | None = None) -> FieldCode:
    return FieldCode(field, LOCAL, field, field.replace("_", " "), "local", value, unit)


OBSERVATION_CODES: tuple[FieldCode, ...] = (
    FieldCode(
        "pain_score",
        LOINC,
        "72514-3",
        "Pain severity 0-10 verbal numeric rating",
        "exact",
        "integer",
    ),
    FieldCode(
        "pain_region",
        SNOMED,
        "161891005",
        "Backache (finding), region from bodySite",
        "best",
        "code",
    ),
    FieldCode("numbness_tingling", SNOMED, "44077006", "Numbness (finding)", "best", "boolean"),
    FieldCode(
        "numbness_tingling", SNOMED, "62507009", "Pins and needles (finding)", "best", "boolean"
    ),
    FieldCode("limb_weakness", SNOMED, "26544005", "Muscle weakness (finding)", "best", "boolean"),
    FieldCode(
        "gait_difficulty", SNOMED, "719232003", "Difficulty walking (finding)", "exact", "boolean"
    ),
    FieldCode(
        "bowel_bladder_dysfunction",
        SNOMED,
        "165232002",
        "Urinary incontinence (finding)",
        "best",
        "boolean",
    ),
    FieldCode(
        "bowel_bladder_dysfunction",
        SNOMED,
        "72042002",
        "Incontinence of feces (finding)",
        "best",
        "boolean",
    ),
    FieldCode("weight_kg", LOINC, "29463-7", "Body weight", "exact", "quantity", "kg"),
    FieldCode(
        "unexplained_weight_loss_kg",
        SNOMED,
        "448765001",
        "Unintentional weight loss (finding)",
        "best",
        "quantity",
        "kg",
    ),
    FieldCode("fatigue", SNOMED, "84229001", "Fatigue (finding)", "exact", "boolean"),
    FieldCode("fever", SNOMED, "386661006", "Fever (finding)", "exact", "boolean"),
    FieldCode("smoking_status", LOINC, "72166-2", "Tobacco smoking status", "exact", "code"),
    FieldCode(
        "pack_years",
        SNOMED,
        "401201003",
        "Cigarette pack-years (observable entity)",
        "exact",
        "quantity",
        "{pack-years}",
    ),
    FieldCode(
        "family_history_of_cancer",
        SNOMED,
        "275937001",
        "Family history of cancer (situation)",
        "exact",
        "boolean",
    ),
    FieldCode(
        "immunosuppressed",
        SNOMED,
        "370388006",
        "Patient immunocompromised (finding)",
        "exact",
        "boolean",
    ),
    FieldCode(
        "esr_mm_per_h",
        LOINC,
        "4537-7",
        "Erythrocyte sedimentation rate by Westergren method",
        "exact",
        "quantity",
        "mm/h",
    ),
    FieldCode(
        "esr_mm_per_h",
        LOINC,
        "30341-2",
        "Erythrocyte sedimentation rate",
        "best",
        "quantity",
        "mm/h",
    ),
    _local("pain_duration_weeks", "quantity", "wk"),
    _local("pain_trajectory", "code"),
    _local("constant_pain", "boolean"),
    _local("night_pain", "boolean"),
    _local("pain_worse_lying_down", "boolean"),
    _local("no_relief_with_rest", "boolean"),
    _local("failed_conservative_treatment", "boolean"),
    _local("pain_region", "code"),
    _local("pain_score", "integer"),
    _local("numbness_tingling", "boolean"),
    _local("limb_weakness", "boolean"),
    _local("sensory_loss", "boolean"),
    _local("gait_difficulty", "boolean"),
    _local("bowel_bladder_dysfunction", "boolean"),
    _local("weight_kg", "quantity", "kg"),
    _local("unexplained_weight_loss_kg", "quantity", "kg"),
    _local("fatigue", "boolean"),
    _local("fever", "boolean"),
    _local("smoking_status", "code"),
    _local("pack_years", "quantity", "{pack-years}"),
    _local("family_history_of_cancer", "boolean"),
    _local("recent_trauma", "boolean"),
    _local("steroid_use", "boolean"),
    _local("immunosuppressed", "boolean"),
    _local("esr_mm_per_h", "quantity", "mm/h"),
)
OBSERVATION_FIELD: dict[tuple[str, str], FieldCode] = {
    (entry.system, entry.code): entry for entry in OBSERVATION_CODES
}

# Coded values of the enum fields (valueCodeableConcept, or the back-pain finding's bodySite).
VALUE_CODES: dict[str, dict[tuple[str, str], str]] = {
    "smoking_status": {
        (SNOMED, "266919005"): "never",  # Never smoked tobacco (finding)
        (SNOMED, "8517006"): "former",  # Ex-smoker (finding)
        (SNOMED, "77176002"): "current",  # Smoker (finding)
        (SNOMED, "449868002"): "current",  # Smokes tobacco daily (finding)
    },
    "pain_region": {
        (SNOMED, "122494005"): "cervical",  # Cervical spine structure
        (SNOMED, "122495006"): "thoracic",  # Thoracic spine structure
        (SNOMED, "122496007"): "lumbar",  # Lumbar spine structure
        (SNOMED, "54735007"): "sacral",  # Bone structure of sacrum
    },
}

# Conditions that mean a previous cancer, and its type (history_of_cancer, cancer_type); the
# onset (onsetDateTime) gives years_since_cancer_diagnosis.
CANCER_CONDITIONS: dict[tuple[str, str], tuple[str, str]] = {
    (SNOMED, "363346000"): ("other", "Malignant neoplastic disease (disorder)"),
    (SNOMED, "254837009"): ("breast", "Malignant neoplasm of breast (disorder)"),
    (SNOMED, "399068003"): ("prostate", "Malignant tumor of prostate (disorder)"),
    (SNOMED, "363358000"): ("lung", "Malignant tumor of lung (disorder)"),
    (SNOMED, "363518003"): ("kidney", "Malignant tumor of kidney (disorder)"),
    (SNOMED, "363478007"): ("thyroid", "Malignant tumor of thyroid gland (disorder)"),
    (SNOMED, "109989006"): ("myeloma", "Multiple myeloma (disorder)"),
}

# The prefetch templates of the CDS service: each key's data is read through the tables above.
FINDING_CODE_LIST = ",".join(
    sorted({f"{entry.system}|{entry.code}" for entry in OBSERVATION_CODES})
)
CANCER_CODE_LIST = ",".join(f"{system}|{code}" for system, code in CANCER_CONDITIONS)
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "findings": f"Observation?patient={{{{context.patientId}}}}&code={FINDING_CODE_LIST}",
    "cancers": f"Condition?patient={{{{context.patientId}}}}&code={CANCER_CODE_LIST}",
}

# From Patient, not an Observation.
PATIENT_FIELDS = ("age", "sex")
CONDITION_FIELDS = ("history_of_cancer", "cancer_type", "years_since_cancer_diagnosis")
_COVERED = (
    {entry.field for entry in OBSERVATION_CODES} | set(PATIENT_FIELDS) | set(CONDITION_FIELDS)
)
if _COVERED != set(FIELDS):  # every field can come from a FHIR resource, checked at import
    raise RuntimeError(f"codes: fields without a source {sorted(set(FIELDS) - _COVERED)}")
