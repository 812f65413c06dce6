"""A prediction laid out as a FHIR R4 ``RiskAssessment`` (``Accept: application/fhir+json``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from features.codes import LOCAL
from features.intended_use import NOT_A_MEDICAL_DEVICE

FHIR_JSON = "application/fhir+json"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
INTERVAL_EXTENSION = "urn:redflag:fhir:StructureDefinition:probability-interval"
OUTCOME = "Spinal malignancy (metastasis, myeloma or primary tumour) causing the back pain"
SCALE_NOTE = (
    "prediction.probabilityDecimal is a probability on the 0-1 scale (0.12 means 12%), "
    "calibrated to the prevalence named in the method."
)
_BANDS = {"low": "Low likelihood", "moderate": "Moderate likelihood", "high": "High likelihood"}


def wants_fhir(accept: str | None) -> bool:
    """Whether an Accept header asks for FHIR JSON before plain JSON."""
    if not accept:
        return False
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == FHIR_JSON:
            return True
        if media in ("application/json", "*/*", "application/*"):
            return False
    return False


def percent(p: float) -> str:
    """A probability as a person reads it: 12%, 3.4%, 0.4%, <0.1%."""
    if p < 0.001:
        return "<0.1%"
    return f"{p * 100:.0f}%" if p >= 0.1 else f"{p * 100:.1f}%"


def _method(result: dict[str, Any]) -> dict[str, Any]:
    model = result["model"]
    name = model.get("name") or "redflag"
    version = model.get("version")
    coding: dict[str, Any] = {"system": LOCAL, "code": name, "display": f"redflag model {name}"}
    if version:
        coding["version"] = str(version)
    text = f"{name} version {version}" if version else name
    text += f", calibrated to a prevalence of {percent(result['prevalence'])}"
    return {"coding": [coding], "text": text}


def _prediction(result: dict[str, Any]) -> dict[str, Any]:
    band = result["risk_band"]
    prediction: dict[str, Any] = {
        "outcome": {"text": OUTCOME},
        "probabilityDecimal": round(result["probability"], 6),
        "qualitativeRisk": {
            "coding": [{"system": RISK_PROBABILITY, "code": band, "display": _BANDS[band]}],
            "text": f"{band} band",
        },
    }
    rationale = [reason["sentence"] for reason in result.get("reasons", [])]
    rationale += [f"Urgent: {text}" for text in result["urgent"]["reasons"]]
    interval = result.get("interval")
    if interval:
        level = f"{interval['level'] * 100:.0f}%"
        rationale.append(
            f"{level} interval {percent(interval['low'])} to {percent(interval['high'])}"
        )
        prediction["extension"] = [
            {
                "url": INTERVAL_EXTENSION,
                "valueRange": {
                    "low": {"value": round(interval["low"], 6)},
                    "high": {"value": round(interval["high"], 6)},
                },
            }
        ]
    if rationale:
        prediction["rationale"] = "; ".join(rationale) + "."
    return prediction


def risk_assessment(
    result: dict[str, Any],
    patient: str | None = None,
    basis: Sequence[str] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """The prediction ``result`` (one case, as ``/v1/predict`` answers it) as a RiskAssessment.

    Args:
        result: the JSON prediction.
        patient: "Patient/<id>" when the case came from a chart; otherwise the subject only says
            that the case was sent without one.
        basis: references of the resources the case was read from.
    """
    moment = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    subject = {"reference": patient} if patient else {"display": "Case sent without a patient"}
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": re.sub(r"[^A-Za-z0-9.-]", "-", result["request_id"])[:64],
        "status": "final",
        "subject": subject,
        "occurrenceDateTime": moment,
        "method": _method(result),
        "prediction": [_prediction(result)],
        "note": [{"text": SCALE_NOTE}, {"text": NOT_A_MEDICAL_DEVICE}],
    }
    if basis:
        resource["basis"] = [{"reference": reference} for reference in basis]
    return resource
