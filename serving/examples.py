"""OpenAPI examples: two simulated cases and what the API answered for them."""

from __future__ import annotations

from typing import Any

# Simulated emergency-department cases (simulate_cohort(2000, seed=7, "emergency")): the first
# has a malignancy, the second does not.
METASTASIS_SUSPECTED: dict[str, Any] = {
    "age": 87,
    "sex": "female",
    "pain_duration_weeks": 27.4,
    "pain_trajectory": "stable",
    "constant_pain": True,
    "night_pain": False,
    "pain_worse_lying_down": True,
    "no_relief_with_rest": True,
    "failed_conservative_treatment": False,
    "pain_region": "cervical",
    "pain_score": 2,
    "numbness_tingling": True,
    "limb_weakness": False,
    "sensory_loss": True,
    "gait_difficulty": False,
    "bowel_bladder_dysfunction": False,
    "weight_kg": 78.0,
    "unexplained_weight_loss_kg": 0.0,
    "fatigue": True,
    "fever": True,
    "history_of_cancer": True,
    "cancer_type": "lung",
    "years_since_cancer_diagnosis": 12.9,
    "smoking_status": "never",
    "pack_years": 0.0,
    "family_history_of_cancer": False,
    "recent_trauma": False,
    "steroid_use": False,
    "immunosuppressed": False,
}
MECHANICAL_PAIN: dict[str, Any] = {
    "age": 41,
    "sex": "male",
    "pain_duration_weeks": 1.5,
    "pain_trajectory": "improving",
    "constant_pain": False,
    "night_pain": False,
    "no_relief_with_rest": True,
    "pain_region": "lumbar",
    "pain_score": 2,
    "limb_weakness": True,
    "unexplained_weight_loss_kg": 0.0,
    "history_of_cancer": False,
    "smoking_status": "never",
    "esr_mm_per_h": 17.3,
}
# Only the fields that are known: everything else is "not recorded".
MINIMAL: dict[str, Any] = {"age": 58, "history_of_cancer": True, "night_pain": True}

CASE_EXAMPLES: dict[str, dict[str, Any]] = {
    "metastasis_suspected": {
        "summary": "Previous lung cancer, sensory loss, constant pain (emergency department)",
        "value": METASTASIS_SUSPECTED,
    },
    "mechanical_pain": {
        "summary": "Younger patient, improving lumbar pain",
        "value": MECHANICAL_PAIN,
    },
    "minimal": {"summary": "Only three fields recorded", "value": MINIMAL},
}

BATCH_EXAMPLES: dict[str, dict[str, Any]] = {
    "two_cases": {
        "summary": "Two cases, answered in the same order",
        "value": {"cases": [METASTASIS_SUSPECTED, MECHANICAL_PAIN]},
    }
}
