"""The JSON layout of a prediction: the scoring core's arrays laid out per case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.loader import LoadedModel
from features.reasons import case_reasons
from features.record import FIELD_LABELS, CaseRecord
from features.scoring import Scores, score_cases
from serving.config import DEFAULT_NEXT_QUESTIONS

# Read once from the catalogue: per-request code indexes plain tuples, not dataclasses.
_LABELS = tuple(flag.label for flag in RED_FLAGS)
_INPUTS = tuple(flag.inputs for flag in RED_FLAGS)
# An unrecorded flag is no finding: its label names what was not recorded.
_UNRECORDED_LABELS = tuple(
    f"{FIELD_LABELS[flag.inputs[0]]} not recorded"
    if len(flag.inputs) == 1
    else f"{flag.label}: not recorded"
    for flag in RED_FLAGS
)


def _value(x: float) -> float | int | None:
    if x != x:
        return None
    return int(x) if x.is_integer() else round(x, 6)


def explain_cases(
    model: LoadedModel,
    cases: Sequence[CaseRecord],
    thresholds: tuple[float, float],
    setting: str | None = None,
    next_questions: int = DEFAULT_NEXT_QUESTIONS,
    observe: Callable[[Scores], None] | None = None,
) -> list[dict[str, Any]]:
    """Probability, band, interval, urgent flag, explanation, what the unrecorded findings could
    do and the next questions, for each case in order.

    The whole list is scored in one call of the scoring core, then laid out per case; with
    ``setting`` every probability and the base value are at that setting's prevalence.
    """
    if not cases:
        return []
    records = [case.model_dump() for case in cases]
    scores = score_cases(
        model.pipeline,
        records,
        thresholds,
        setting,
        explain=True,
        detail=True,
        next_questions=next_questions,
    )
    if observe is not None:  # the drift window (serving.monitoring) sees the scoring core's arrays
        observe(scores)
    identity = model.identity.as_response()
    assert scores.contributions is not None and scores.recorded is not None
    # Words for people: only recorded findings, so an unrecorded one is never stated as one.
    reasons = case_reasons(scores.contributions, scores.values, scores.recorded, records)
    urgent = scores.urgent_reasons()  # the safety rules' reasons, once for the whole list
    return [
        {
            **_prediction(scores, i, record, setting, identity, next_questions, urgent[i]),
            "reasons": reasons[i],
        }
        for i, record in enumerate(records)
    ]


def _prediction(
    scores: Scores,
    i: int,
    record: dict[str, Any],
    setting: str | None,
    identity: dict[str, str | None],
    next_questions: int,
    urgent: tuple[str, ...],
) -> dict[str, Any]:
    reasons = list(urgent)
    return {
        "probability": float(scores.probability[i]),
        "risk_band": str(scores.risk_band[i]),
        "interval": _interval(scores, i),
        "urgent": {"flag": bool(reasons), "reasons": reasons},
        "explanation": _explanation(scores, i, record),
        "unrecorded": {
            "fields": list(scores.unrecorded_fields[i]),
            "low": float(scores.unrecorded_low[i]),  # type: ignore[index]
            "high": float(scores.unrecorded_high[i]),  # type: ignore[index]
        },
        "next_questions": scores.next_questions[i] if next_questions else [],
        "setting": setting,
        "prevalence": scores.prevalence,
        "model": identity,
    }


def _interval(scores: Scores, i: int) -> dict[str, Any] | None:
    if scores.interval_low is None or scores.interval_high is None:
        return None  # a model trained without an evidence ensemble
    return {
        "low": float(scores.interval_low[i]),
        "high": float(scores.interval_high[i]),
        "level": scores.interval_level,
        "method": scores.interval_method,
    }


def _explanation(scores: Scores, i: int, record: dict[str, Any]) -> dict[str, Any]:
    assert scores.base_value is not None and scores.contributions is not None
    assert scores.recorded is not None
    share = scores.contributions[i].tolist()
    values, recorded = scores.values[i].tolist(), scores.recorded[i].tolist()
    order = np.argsort(-np.abs(scores.contributions[i]), kind="stable").tolist()
    return {
        "space": "log_odds",
        "base_value": float(scores.base_value[i]),
        "contributions": [
            {
                "feature": FEATURE_NAMES[j],
                "label": _LABELS[j] if recorded[j] else _UNRECORDED_LABELS[j],
                "value": _value(values[j]),
                "inputs": {name: record[name] for name in _INPUTS[j]},
                "recorded": recorded[j],
                "contribution": share[j],
            }
            for j in order
        ],
    }
