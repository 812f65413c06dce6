"""OpenAPI examples, kept as JSON files beside this module and read once, at import.

The cases are simulated emergency-department cases (drawn by ``simulate_cohort(2000, seed=7,
"emergency")`` before the simulator honoured the cord-compression shares): the first has a
malignancy, the second not; ``minimal.json`` records only three fields, everything else is "not
recorded". ``prediction.json`` is what the API answered for ``metastasis_suspected.json`` and
``model_info.json`` what ``GET /v1/model`` answered (features, params and metrics cut to a few),
both for the model the test suite trains (20,000 simulated emergency cases, seed 42).

Regenerate the two responses from a model with ``python -m serving.examples``;
``tests/serving/test_examples.py`` checks every example against the models it documents.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def load_example(name: str) -> dict[str, Any]:
    """The example ``<name>.json`` of this package."""
    value = json.loads(files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise TypeError(f"{name}.json holds a {type(value).__name__}, not a JSON object")
    return value


METASTASIS_SUSPECTED = load_example("metastasis_suspected")
MECHANICAL_PAIN = load_example("mechanical_pain")
MINIMAL = load_example("minimal")
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

# POST /v1/predict for METASTASIS_SUSPECTED, and GET /v1/model, both regenerated from a model.
PREDICTION_EXAMPLE = load_example("prediction")
MODEL_INFO_EXAMPLE = load_example("model_info")

# GET /readyz and POST /v1/admin/reload (written by hand).
READY_EXAMPLE = load_example("ready")
RELOADED_EXAMPLE = load_example("reload_reloaded")
RELOAD_FAILED_EXAMPLE = load_example("reload_failed")

# Clinical standards (docs/clinical-standards.md): a FHIR Bundle in, and what the e2e test's real
# `redflag serve` answered for it: a RiskAssessment, and the CDS Hooks card for the same patient.
FHIR_BUNDLE = load_example("fhir_bundle")
RISK_ASSESSMENT_EXAMPLE = load_example("risk_assessment")
CDS_CARDS_EXAMPLE = load_example("cds_cards")
