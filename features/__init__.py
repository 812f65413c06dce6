"""The case record and its red flags: the one definition used by training and serving."""

from features.record import (
    DIAGNOSES,
    DIAGNOSIS,
    ENUM_VALUES,
    FIELD_KINDS,
    FIELDS,
    LABEL,
    MALIGNANT_DIAGNOSES,
    RANGES,
    REQUIRED_FIELDS,
    CaseRecord,
    consistency_problems,
)
from features.setting import SETTING_PREVALENCE, ClinicalSetting

__all__ = [
    "DIAGNOSES",
    "DIAGNOSIS",
    "ENUM_VALUES",
    "FIELDS",
    "FIELD_KINDS",
    "LABEL",
    "MALIGNANT_DIAGNOSES",
    "RANGES",
    "REQUIRED_FIELDS",
    "SETTING_PREVALENCE",
    "CaseRecord",
    "ClinicalSetting",
    "consistency_problems",
]
