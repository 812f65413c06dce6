"""CDS Hooks cards: a prediction as one card, and the one card that says the estimate failed.

The spec forbids null and empty values anywhere in a card, and an empty list of cards reads as
"nothing to worry about"; so every field below is set only when it has something to say, and a
failure is a card too.
"""

from __future__ import annotations

import uuid
from typing import Any

from features.intended_use import NOT_A_MEDICAL_DEVICE
from serving.fhir import percent

SERVICE_ID = "redflag-spinal-malignancy"
UNAVAILABLE = "Spinal malignancy risk unavailable"
SUMMARY_LIMIT = 139  # the spec: a summary under 140 characters
OVERRIDE_SYSTEM = "urn:redflag:cds:override-reason"
# Offered when a clinician dismisses a card; feedback counts them by code.
OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("already-assessed", "Already assessed or referred"),
    ("finding-wrong", "A recorded finding is wrong or out of date"),
    ("not-relevant", "Not relevant for this patient"),
)


def _indicator(result: dict[str, Any]) -> str:
    if result["urgent"]["flag"]:
        return "critical"
    return "warning" if result["risk_band"] == "high" else "info"


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def source(model: dict[str, Any] | None, base_url: str) -> dict[str, Any]:
    """The card's source: the model, and its model card."""
    label = "redflag spinal malignancy model"
    if model and model.get("version"):
        label += f" v{model['version']}"
    return {"label": label, "url": f"{base_url}/model-card"}


def _next_question(result: dict[str, Any]) -> str | None:
    questions = result.get("next_questions") or []
    if not questions:
        return None
    first = questions[0]
    # A finding has a probability if present and if absent; a choice or a number one per answer.
    answers = first.get("answers") or [
        {"answer": name, "probability": first[f"if_{name}"]}
        for name in ("present", "absent")
        if first.get(f"if_{name}") is not None
    ]
    shown = ", ".join(
        f"if {a['answer']} {percent(a['probability'])}"
        for a in answers
        if a.get("probability") is not None
    )
    return f"**Ask next:** {first['label']}" + (f" ({shown})" if shown else "") + "."


def _detail(result: dict[str, Any]) -> str:
    p, band = result["probability"], result["risk_band"]
    lines = [f"**Estimated probability of spinal malignancy: {percent(p)} ({band} band).**"]
    if result["urgent"]["flag"]:
        lines.append("**Urgent:** " + "; ".join(result["urgent"]["reasons"]) + ".")
    interval = result.get("interval")
    if interval:
        lines.append(
            f"{interval['level'] * 100:.0f}% interval: {percent(interval['low'])} to "
            f"{percent(interval['high'])}."
        )
    reasons = result.get("reasons") or []
    if reasons:
        lines.append("**Why:**\n" + "\n".join(f"- {r['sentence']}" for r in reasons))
    question = _next_question(result)
    if question:
        lines.append(question)
    lines.append(f"_{NOT_A_MEDICAL_DEVICE}_")
    return "\n\n".join(lines)


def _override_reasons() -> list[dict[str, str]]:
    return [
        {"system": OVERRIDE_SYSTEM, "code": code, "display": display}
        for code, display in OVERRIDE_REASONS
    ]


def risk_card(result: dict[str, Any], card_source: dict[str, Any]) -> dict[str, Any]:
    """The card of one prediction (``result`` as ``/v1/predict`` answers it)."""
    summary = f"Spinal malignancy risk {percent(result['probability'])} ({result['risk_band']})"
    if result["urgent"]["flag"]:
        summary = f"Urgent: {result['urgent']['reasons'][0]}. " + summary
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(summary),
        "indicator": _indicator(result),
        "detail": _detail(result),
        "source": card_source,
        "overrideReasons": _override_reasons(),
    }


def failure_card(reason: str, card_source: dict[str, Any]) -> dict[str, Any]:
    """The card that says no estimate could be made, and why (never an empty list of cards)."""
    reason = reason.strip() or "unknown error"
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(f"{UNAVAILABLE}: {reason}"),
        "indicator": "warning",
        "detail": (
            "**No estimate could be made, so this is not a low risk.** "
            f"Reason: {reason}.\n\nAssess the red flags clinically.\n\n_{NOT_A_MEDICAL_DEVICE}_"
        ),
        "source": card_source,
    }
