"""The one scoring core: cases in, arrays out (probability, band, urgent rules, explanation, and on
request what the unrecorded findings could do, the evidence interval and the next questions).

The API, ``redflag predict``, ``redflag score`` (local and Dask) and evaluation all score through
``score_cases``; each keeps only its own layout of the result (JSON, Parquet, metrics).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from features.catalogue import Columns, recorded_features
from features.log_odds import logit, sigmoid
from features.model import RiskPipeline
from features.questions import Question, open_questions
from features.record import FIELD_LABELS
from features.risk import DEFAULT_RISK_THRESHOLDS, risk_bands
from features.setting import setting_shift
from features.transform import CaseInput, case_columns, derive_flags
from features.unrecorded import bounds_of, fillings, unrecorded_findings
from features.urgent import fired_reasons, urgent_rules_fired

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Assignment = dict[str, Any]  # field -> the value a variant of a case records
# Cases whose variants are scored together: up to ~120 variants each, so a block stays ~0.2 GB.
DETAIL_BLOCK = 2_000


@dataclass(frozen=True)
class Scores:
    """Everything known of a list of scored cases, one row per case in the order given.

    ``base_value`` and ``contributions`` are set when an explanation was asked for; then
    ``sigmoid(base_value + contributions.sum(axis=1)) == probability`` row by row. The fields
    after them are set when ``detail`` was asked for.
    """

    probability: FloatArray
    risk_band: npt.NDArray[np.object_]
    urgent_fired: npt.NDArray[np.bool_]  # one column per rule of ``features.urgent.RULES``
    prevalence: float
    matrix: FloatArray  # what the model read: the red flags, "not recorded" encoded
    values: FloatArray  # the red flags as derived (NaN: cannot be derived, not recorded)
    base_value: FloatArray | None = None
    contributions: FloatArray | None = None
    recorded: npt.NDArray[np.bool_] | None = None  # per case and flag: any input recorded
    unrecorded_fields: list[tuple[str, ...]] = field(default_factory=list)
    unrecorded_low: FloatArray | None = None
    unrecorded_high: FloatArray | None = None
    interval_low: FloatArray | None = None
    interval_high: FloatArray | None = None
    interval_level: float | None = None
    interval_method: str | None = None
    next_questions: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def urgent(self) -> npt.NDArray[np.bool_]:
        """Whether any emergency rule fired, per case."""
        return np.asarray(self.urgent_fired.any(axis=1), dtype=np.bool_)

    def urgent_reasons(self) -> list[tuple[str, ...]]:
        """The reason of every rule that fired, per case (empty: not urgent)."""
        return fired_reasons(self.urgent_fired)


@dataclass(frozen=True)
class _Scorer:
    """One model at one setting: scores columns of cases (the cases or variants of them)."""

    pipeline: RiskPipeline
    thresholds: tuple[float, float]
    shift: float

    def log_odds(self, matrix: FloatArray) -> FloatArray:
        return np.asarray(self.pipeline.classifier.decision_function(matrix) + self.shift)

    def score(self, columns: Columns) -> tuple[FloatArray, npt.NDArray[np.object_], Any]:
        """(probability, band, urgent flag) of every case in ``columns``."""
        probability = sigmoid(self.log_odds(self.pipeline[0].transform(columns)))
        urgent = urgent_rules_fired(columns).any(axis=1)
        return probability, risk_bands(probability, self.thresholds), urgent


def score_cases(
    pipeline: RiskPipeline,
    cases: CaseInput,
    thresholds: tuple[float, float] = DEFAULT_RISK_THRESHOLDS,
    setting: str | None = None,
    explain: bool = False,
    detail: bool = False,
    next_questions: int = 0,
) -> Scores:
    """Score ``cases`` with ``pipeline`` in one vectorised call of its classifier.

    With ``setting``, the log-odds are shifted from the training prevalence to that setting's, and
    the explanation's base value with them, so the explanation still adds up to the probability.
    ``detail`` adds which flags were recorded, the range the unrecorded yes/no findings span and
    the evidence interval; ``next_questions`` > 0 the most informative unrecorded questions.
    """
    columns = case_columns(cases)  # read once: features, rules and variants share them
    n = len(columns["age"])
    if (detail or next_questions) and n > DETAIL_BLOCK:
        blocks = [
            score_cases(
                pipeline,
                {name: values[start : start + DETAIL_BLOCK] for name, values in columns.items()},
                thresholds,
                setting,
                explain,
                detail,
                next_questions,
            )
            for start in range(0, n, DETAIL_BLOCK)
        ]
        return _concatenate(blocks)
    classifier = pipeline.classifier
    shift, prevalence = setting_shift(classifier.train_prevalence_, setting)
    scorer = _Scorer(pipeline, thresholds, shift)
    values = derive_flags(columns)
    matrix = pipeline[0].encode(values)
    log_odds = scorer.log_odds(matrix)
    probability = sigmoid(log_odds)
    scores = Scores(
        probability=probability,
        risk_band=risk_bands(probability, thresholds),
        urgent_fired=urgent_rules_fired(columns),
        prevalence=prevalence,
        matrix=matrix,
        values=values,
    )
    extra: dict[str, Any] = {}
    if explain:
        base, contributions = classifier.explain(matrix)
        extra |= {"base_value": base + shift, "contributions": contributions}
    if detail:
        extra |= _detail(scorer, columns, matrix, log_odds)
    if next_questions > 0:
        extra["next_questions"] = _next_questions(scorer, columns, scores, next_questions)
    return Scores(**{**scores.__dict__, **extra}) if extra else scores


def _concatenate(blocks: list[Scores]) -> Scores:
    """One ``Scores`` of consecutive blocks of cases."""
    merged: dict[str, Any] = {}
    for name, first in blocks[0].__dict__.items():
        parts = [block.__dict__[name] for block in blocks]
        if isinstance(first, np.ndarray):
            merged[name] = np.concatenate(parts)
        elif isinstance(first, list):
            merged[name] = [item for part in parts for item in part]
        else:
            merged[name] = first  # the same for every block: prevalence, interval level, method
    return Scores(**merged)


def _detail(
    scorer: _Scorer, columns: Columns, matrix: FloatArray, log_odds: FloatArray
) -> dict[str, Any]:
    """Recorded flags, the unrecorded findings' range and the evidence interval."""
    out: dict[str, Any] = {"recorded": recorded_features(columns)}
    unrecorded = unrecorded_findings(columns)
    origin: list[int] = []
    assignments: list[Assignment] = []
    for i, fields in enumerate(unrecorded):
        for filled in fillings(fields):
            origin.append(i)
            assignments.append(filled)
    n = len(log_odds)
    probability = sigmoid(log_odds)
    low, high = probability.copy(), probability.copy()
    if assignments:
        varied, _, _ = scorer.score(_variant_columns(columns, np.array(origin), assignments))
        low, high = bounds_of(np.append(varied, probability), np.append(origin, np.arange(n)), n)
    out |= {"unrecorded_fields": unrecorded, "unrecorded_low": low, "unrecorded_high": high}
    interval = scorer.pipeline.interval
    if interval is not None:
        out["interval_low"], out["interval_high"] = interval.bounds(matrix, log_odds)
        out["interval_level"], out["interval_method"] = interval.level, interval.method
    return out


def _variant_columns(columns: Columns, origin: IntArray, assignments: list[Assignment]) -> Columns:
    """Copies of the cases ``origin`` names, each with its ``assignments`` recorded."""
    out = {name: np.asarray(values)[origin] for name, values in columns.items()}
    by_field: dict[str, tuple[list[int], list[Any]]] = defaultdict(lambda: ([], []))
    for row, assignment in enumerate(assignments):
        for name, value in assignment.items():
            rows, given = by_field[name]
            rows.append(row)
            given.append(value)
    for name, (rows, given) in by_field.items():
        out[name][rows] = np.asarray(given, dtype=out[name].dtype)
    return out


def _next_questions(
    scorer: _Scorer, columns: Columns, scores: Scores, k: int
) -> list[list[dict[str, Any]]]:
    """Per case, the ``k`` unrecorded questions whose answer could move the estimate most."""
    asked = open_questions(columns)
    origin: list[int] = []
    assignments: list[Assignment] = []
    for i, questions in enumerate(asked):
        for question in questions:
            for answer in question.answers:
                origin.append(i)
                assignments.append({question.field: answer.value})
    if not assignments:
        return [[] for _ in asked]
    varied = scorer.score(_variant_columns(columns, np.array(origin), assignments))
    priors = scorer.pipeline.finding_priors
    chances = priors.chances(columns) if priors is not None else {}
    now = (scores.probability, scores.risk_band, scores.urgent)
    out: list[list[dict[str, Any]]] = []
    row = 0
    for i, questions in enumerate(asked):
        laid_out = []
        for question in questions:
            width = len(question.answers)
            answered = tuple(part[row : row + width] for part in varied)
            chance = chances.get(question.field)
            laid_out.append(
                _question(question, answered, now, i, None if chance is None else chance[i])
            )
            row += width
        laid_out.sort(key=lambda q: -q["expected_change"])
        out.append(laid_out[:k])
    return out


def _question(
    question: Question,
    answered: tuple[Any, ...],
    now: tuple[Any, ...],
    i: int,
    chance: FloatArray | None,
) -> dict[str, Any]:
    """One question laid out: each answer's probability and chance, and what it could change."""
    probabilities, bands, urgent = answered
    weights = chance if chance is not None else np.full(len(probabilities), 1 / len(probabilities))
    change = np.abs(logit(probabilities) - logit(now[0][i]))
    answers = [
        {
            "answer": answer.label,
            "value": answer.value,
            "probability": float(probabilities[a]),
            "chance": None if chance is None else float(chance[a]),
        }
        for a, answer in enumerate(question.answers)
    ]
    finding = question.kind == "finding"
    return {
        "field": question.field,
        "label": FIELD_LABELS[question.field],
        "kind": question.kind,
        "if_present": float(probabilities[0]) if finding else None,
        "if_absent": float(probabilities[1]) if finding else None,
        "p_present": float(chance[0]) if finding and chance is not None else None,
        "answers": answers,
        "expected_change": float(weights @ change),
        "changes_band": bool((bands != now[1][i]).any()),
        "changes_urgent": bool((urgent != now[2][i]).any()),
    }
