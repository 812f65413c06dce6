"""The JSON layout of a prediction: the scoring core's arrays laid out per case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    assert scores.contributions is not None and scores.recorded is not None
    # Words for people: only recorded findings, so an unrecorded one is never stated as one.
    reasons = case_reasons(scores.contributions, scores.values, scores.recorded, records)
    laid = _Laid.of(scores)
    identity = model.identity.as_response()
    return [
        {
            "probability": laid.probability[i],
            "risk_band": laid.bands[i],
            "interval": laid.interval(i),
            "urgent": {"flag": bool(laid.urgent[i]), "reasons": list(laid.urgent[i])},
            "explanation": laid.explanation(i, record),
            "unrecorded": {
                "fields": list(scores.unrecorded_fields[i]),
                "low": laid.unrecorded_low[i],
                "high": laid.unrecorded_high[i],
            },
            "next_questions": scores.next_questions[i] if next_questions else [],
            "setting": setting,
            "prevalence": scores.prevalence,
            "model": identity,
            "reasons": reasons[i],
        }
        for i, record in enumerate(records)
    ]


@dataclass(frozen=True)
class _Laid:
    """The scoring core's arrays as plain lists, converted once for the whole list of cases: the
    layout then only indexes them (a 1000-case batch: ~40,000 contributions)."""

    scores: Scores
    probability: list[float]
    bands: list[str]
    urgent: list[tuple[str, ...]]  # the safety rules' reasons, once for the whole list
    base_value: list[float]
    shares: list[list[float]]
    order: list[list[int]]  # by |contribution|, the largest first
    values: list[list[float | int | None]]
    recorded: list[list[bool]]
    unrecorded_low: list[float]
    unrecorded_high: list[float]

    @staticmethod
    def of(scores: Scores) -> _Laid:
        assert scores.base_value is not None and scores.contributions is not None
        assert scores.recorded is not None
        assert scores.unrecorded_low is not None and scores.unrecorded_high is not None
        contributions = scores.contributions
        return _Laid(
            scores=scores,
            probability=scores.probability.tolist(),
            bands=scores.risk_band.tolist(),
            urgent=scores.urgent_reasons(),
            base_value=scores.base_value.tolist(),
            shares=contributions.tolist(),
            order=np.argsort(-np.abs(contributions), axis=1, kind="stable").tolist(),
            values=[[_value(x) for x in row] for row in scores.values.tolist()],
            recorded=scores.recorded.tolist(),
            unrecorded_low=scores.unrecorded_low.tolist(),
            unrecorded_high=scores.unrecorded_high.tolist(),
        )

    def interval(self, i: int) -> dict[str, Any] | None:
        """The evidence interval of case ``i``; None for a model trained without its ensemble."""
        low, high = self.scores.interval_low, self.scores.interval_high
        if low is None or high is None:
            return None
        return {
            "low": float(low[i]),
            "high": float(high[i]),
            "level": self.scores.interval_level,
            "method": self.scores.interval_method,
        }

    def explanation(self, i: int, record: dict[str, Any]) -> dict[str, Any]:
        """Case ``i``'s contributions, the largest first, each with the inputs it read."""
        share, values, recorded = self.shares[i], self.values[i], self.recorded[i]
        return {
            "space": "log_odds",
            "base_value": self.base_value[i],
            "contributions": [
                {
                    "feature": FEATURE_NAMES[j],
                    "label": _LABELS[j] if recorded[j] else _UNRECORDED_LABELS[j],
                    "value": values[j],
                    "inputs": {name: record[name] for name in _INPUTS[j]},
                    "recorded": recorded[j],
                    "contribution": share[j],
                }
                for j in self.order[i]
            ],
        }
