"""The JSON layout of a prediction: the scoring core's arrays laid out per case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.loader import LoadedModel
from features.record import CaseRecord
from features.scoring import Scores, score_cases

# Read once from the catalogue: per-request code indexes plain tuples, not dataclasses.
_LABELS = tuple(flag.label for flag in RED_FLAGS)
_INPUTS = tuple(flag.inputs for flag in RED_FLAGS)


def _value(x: float) -> float | int | None:
    if x != x:
        return None
    return int(x) if x.is_integer() else round(x, 6)


def explain_cases(
    model: LoadedModel,
    cases: Sequence[CaseRecord],
    thresholds: tuple[float, float],
    setting: str | None = None,
    observe: Callable[[Scores], None] | None = None,
) -> list[dict[str, Any]]:
    """Probability, risk band, urgent flag and explanation for each case, in order.

    The whole list is scored in one call of the scoring core, then laid out per case; with
    ``setting`` the probability and the base value are at that setting's prevalence.
    """
    if not cases:
        return []
    records = [case.model_dump() for case in cases]
    scores = score_cases(model.pipeline, records, thresholds, setting, explain=True)
    assert scores.base_value is not None and scores.contributions is not None
    if observe is not None:  # the drift window (serving.monitoring) sees the scoring core's arrays
        observe(scores)
    order = np.argsort(-np.abs(scores.contributions), axis=1, kind="stable").tolist()
    # Python lists index far faster than numpy scalars in the per-feature loop below.
    values, shares = scores.matrix.tolist(), scores.contributions.tolist()
    probabilities, bands = scores.probability.tolist(), scores.risk_band.tolist()
    bases, reasons_of = scores.base_value.tolist(), scores.urgent_reasons()
    identity = model.identity.as_response()
    results = []
    for i, record in enumerate(records):
        row, share, reasons = values[i], shares[i], list(reasons_of[i])
        results.append(
            {
                "probability": probabilities[i],
                "risk_band": bands[i],
                "urgent": {"flag": bool(reasons), "reasons": reasons},
                "explanation": {
                    "space": "log_odds",
                    "base_value": bases[i],
                    "contributions": [
                        {
                            "feature": FEATURE_NAMES[j],
                            "label": _LABELS[j],
                            "value": _value(row[j]),
                            "inputs": {name: record[name] for name in _INPUTS[j]},
                            "contribution": share[j],
                        }
                        for j in order[i]
                    ],
                },
                "setting": setting,
                "prevalence": scores.prevalence,
                "model": identity,
            }
        )
    return results
