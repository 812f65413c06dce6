"""The page for people at ``GET /``: plain HTML, JavaScript and CSS, and the form it is built from.

The form is read from the case record itself (fields, kinds, values, ranges, labels), grouped as a
clinician takes a history, and embedded in the page by the server, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from features.intended_use import INTENDED_USE, NOT_A_MEDICAL_DEVICE, SIMULATED_DATA_WARNING
from features.record import (
    ENUM_VALUES,
    FIELD_KINDS,
    FIELD_LABELS,
    FIELDS,
    RANGES,
    REQUIRED_FIELDS,
    CaseRecord,
)

# The order of a history: who, the pain, the nerves, the body, cancer, the rest, then the tests.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Patient", ("age", "sex")),
    (
        "The pain",
        (
            "pain_duration_weeks",
            "pain_trajectory",
            "pain_region",
            "pain_score",
            "constant_pain",
            "night_pain",
            "pain_worse_lying_down",
            "no_relief_with_rest",
            "failed_conservative_treatment",
        ),
    ),
    (
        "Neurological symptoms",
        (
            "numbness_tingling",
            "limb_weakness",
            "sensory_loss",
            "gait_difficulty",
            "bowel_bladder_dysfunction",
        ),
    ),
    ("Systemic symptoms", ("weight_kg", "unexplained_weight_loss_kg", "fatigue", "fever")),
    (
        "Cancer history",
        (
            "history_of_cancer",
            "cancer_type",
            "years_since_cancer_diagnosis",
            "family_history_of_cancer",
        ),
    ),
    (
        "Other history",
        ("smoking_status", "pack_years", "recent_trauma", "steroid_use", "immunosuppressed"),
    ),
    ("Tests", ("esr_mm_per_h",)),
)
_PLACED = [name for _, names in SECTIONS for name in names]
if sorted(_PLACED) != sorted(FIELDS):  # every field exactly once, checked when the module loads
    raise RuntimeError("page SECTIONS must place every field of CaseRecord once")

UNITS: dict[str, str] = {
    "age": "years",
    "pain_duration_weeks": "weeks",
    "pain_score": "0-10",
    "weight_kg": "kg",
    "unexplained_weight_loss_kg": "kg, last 6 months",
    "years_since_cancer_diagnosis": "years",
    "pack_years": "pack-years",
    "esr_mm_per_h": "mm/h",
}


def _field(name: str) -> dict[str, Any]:
    info = CaseRecord.model_fields[name]
    low, high = RANGES.get(name, (None, None))
    field: dict[str, Any] = {
        "name": name,
        "label": FIELD_LABELS[name],
        "kind": FIELD_KINDS[name],
        "required": name in REQUIRED_FIELDS,
    }
    if name in ENUM_VALUES:
        field["values"] = list(ENUM_VALUES[name])
    if low is not None:
        field["min"] = low
    if high is not None:
        field["max"] = high
    if info.description:
        field["help"] = info.description
    if name in UNITS:
        field["unit"] = UNITS[name]
    return field


def form_schema() -> dict[str, Any]:
    """What the page builds its form and notices from."""
    return {
        "sections": [
            {"title": title, "fields": [_field(name) for name in names]}
            for title, names in SECTIONS
        ],
        "notice": NOT_A_MEDICAL_DEVICE,
        "intended_use": INTENDED_USE,
        "simulated": SIMULATED_DATA_WARNING,
    }


def asset(name: str) -> str:
    """A file of the page (index.html, app.js, style.css)."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


def index_html() -> str:
    """The page, with the form schema embedded (``</`` escaped so it cannot end the script)."""
    schema = json.dumps(form_schema(), separators=(",", ":")).replace("</", "<\\/")
    return asset("index.html").replace("__FORM_SCHEMA__", schema)
