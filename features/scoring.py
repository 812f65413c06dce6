"""The one scoring core: cases in, arrays out (probability, band, urgent rules, explanation, and on
request what the unrecorded findings could do, the evidence interval and the next questions).

The API, ``redflag predict``, ``redflag score`` (local and Dask) and evaluation all score through
``score_cases``; each keeps only its own layout of the result (JSON, Parquet, metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from features.catalogue import Columns, recorded_features
from features.log_odds import logit, sigmoid
from features.model import RiskPipeline
from features.questions import QUESTIONS, Question, asked_cases
from features.record import FIELD_LABELS
from features.risk import DEFAULT_RISK_THRESHOLDS, risk_bands
from features.setting import setting_shift
from features.transform import CaseInput, case_columns, derive_flags
from features.unrecorded import bounds_of, filling_rows, unrecorded_findings
from features.urgent import fired_reasons, urgent_rules_fired

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Each question's answers as its field's column holds them (a choice: objects; else float64).
_ANSWERS = {
    question.field: np.asarray(
        [answer.value for answer in question.answers],
        dtype=object if question.kind == "choice" else np.float64,
    )
    for question in QUESTIONS
}
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
    variants = _Variants.of(columns, detail, next_questions) if detail or next_questions else None
    # The cases and every variant the detail and the questions need go through the features and
    # the booster together: one call each, the cases first.
    rows = columns if variants is None else variants.columns
    values = derive_flags(rows)
    matrix = pipeline[0].encode(values)
    log_odds = scorer.log_odds(matrix)
    probability = sigmoid(log_odds)
    bands = risk_bands(probability, thresholds)
    fired = urgent_rules_fired(rows)
    own = np.ascontiguousarray(matrix[:n]) if variants is not None else matrix
    extra: dict[str, Any] = {}
    if explain:
        base, contributions = classifier.explain(own)
        extra |= {"base_value": base + shift, "contributions": contributions}
    scores = Scores(
        probability=probability[:n],
        risk_band=bands[:n],
        urgent_fired=fired[:n],
        prevalence=prevalence,
        matrix=own,
        values=values[:n].copy() if variants is not None else values,
        **extra,
    )
    if variants is None:
        return scores
    varied = (probability[n:], bands[n:], fired[n:].any(axis=1))
    detail_ = _detail_and_questions(scorer, columns, scores, log_odds[:n], variants, varied)
    return Scores(**{**scores.__dict__, **detail_})


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


def _detail_and_questions(
    scorer: _Scorer,
    columns: Columns,
    scores: Scores,
    log_odds: FloatArray,
    variants: _Variants,
    varied: tuple[Any, ...],
) -> dict[str, Any]:
    """The detail and the next questions from the scored variants (probability, band, urgent)."""
    filled = variants.filled
    out: dict[str, Any] = {}
    if variants.detail:
        out |= _detail(scorer, columns, scores, log_odds, filled, varied[0][: len(filled)])
    if variants.k > 0:
        rest = tuple(part[len(filled) :] for part in varied)
        out["next_questions"] = _next_questions(scorer, columns, scores, variants, rest)
    return out


@dataclass(frozen=True)
class _Variants:
    """The cases, then copies of them with some answers recorded: each case's fillings of its
    unrecorded findings (``detail``), then per open question, per case it applies to, each answer
    (one group a pair; the ``k`` next questions)."""

    columns: Columns
    detail: bool
    k: int
    filled: IntArray  # the case of each filling
    answering: IntArray  # the case of each answer to a question
    asked: list[tuple[Question, IntArray]]
    group_starts: IntArray  # first row of each (question, case) group, after the fillings
    group_question: IntArray  # which of ``asked`` each group answers
    group_case: IntArray

    @staticmethod
    def of(columns: Columns, detail: bool, k: int) -> _Variants:
        n = len(columns["age"])
        filled, fills = filling_rows(columns) if detail else (np.zeros(0, np.int64), {})
        asked = asked_cases(columns) if k > 0 else []
        answering = [np.repeat(cases, len(question.answers)) for question, cases in asked]
        answered = np.concatenate([np.zeros(0, np.int64), *answering]).astype(np.int64)
        origin = np.concatenate([np.arange(n), filled, answered]).astype(np.int64)
        out = {name: np.asarray(values)[origin] for name, values in columns.items()}
        for name, values in fills.items():
            out[name][n : n + len(filled)] = values
        row = n + len(filled)
        for question, cases in asked:
            answers = _ANSWERS[question.field]
            end = row + len(cases) * len(answers)
            out[question.field][row:end] = np.tile(answers, len(cases))
            row = end
        counts = [len(cases) for _, cases in asked]
        sizes = np.repeat(np.asarray([len(q.answers) for q, _ in asked], np.int64), counts)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        which = np.repeat(np.arange(len(asked), dtype=np.int64), counts)
        cases_ = np.concatenate([cases for _, cases in asked]) if asked else np.zeros(0, np.int64)
        return _Variants(out, detail, k, filled, answered, asked, starts, which, cases_)


def _detail(
    scorer: _Scorer,
    columns: Columns,
    scores: Scores,
    log_odds: FloatArray,
    filled: IntArray,
    varied: FloatArray,
) -> dict[str, Any]:
    """Recorded flags, the unrecorded findings' range and the evidence interval."""
    n = len(scores.probability)
    low, high = bounds_of(np.append(varied, scores.probability), np.append(filled, np.arange(n)), n)
    out: dict[str, Any] = {
        "recorded": recorded_features(columns),
        "unrecorded_fields": unrecorded_findings(columns),
        "unrecorded_low": low,
        "unrecorded_high": high,
    }
    interval = scorer.pipeline.interval
    if interval is not None:
        out["interval_low"], out["interval_high"] = interval.bounds(scores.matrix, log_odds)
        out["interval_level"], out["interval_method"] = interval.level, interval.method
    return out


def _next_questions(
    scorer: _Scorer,
    columns: Columns,
    scores: Scores,
    variants: _Variants,
    varied: tuple[Any, ...],
) -> list[list[dict[str, Any]]]:
    """Per case, the ``variants.k`` unrecorded questions whose answer could move the estimate most:
    the expected |change in log-odds| over the answers, weighted by each answer's chance."""
    n = len(scores.probability)
    if not variants.asked:
        return [[] for _ in range(n)]
    probabilities, bands, urgent = varied
    rows = variants.answering
    priors = scorer.pipeline.finding_priors
    chances = priors.chances(columns) if priors is not None else {}
    weights = np.concatenate(
        [_weights(chances.get(q.field), q, cases) for q, cases in variants.asked]
    )
    change = np.abs(logit(probabilities) - logit(scores.probability)[rows])
    starts = variants.group_starts
    expected = np.add.reduceat(weights * change, starts)
    moves_band = np.logical_or.reduceat(bands != scores.risk_band[rows], starts)
    moves_urgent = np.logical_or.reduceat(urgent != scores.urgent[rows], starts)
    ranked = np.full((n, len(variants.asked)), -np.inf)
    ranked[variants.group_case, variants.group_question] = expected
    group_of = np.full((n, len(variants.asked)), -1, dtype=np.int64)
    group_of[variants.group_case, variants.group_question] = np.arange(len(starts))
    laid = _Laid(variants, probabilities.tolist(), weights.tolist(), chances, expected.tolist(),
                 moves_band.tolist(), moves_urgent.tolist())  # fmt: skip
    top = np.argsort(-ranked, axis=1, kind="stable")[:, : variants.k].tolist()
    taken, groups = np.isfinite(ranked).tolist(), group_of.tolist()
    return [[laid.question(groups[i][j]) for j in top[i] if taken[i][j]] for i in range(n)]


def _weights(chance: FloatArray | None, question: Question, cases: IntArray) -> FloatArray:
    """Each answer's chance per case (uniform without a prior), case by case."""
    width = len(question.answers)
    if chance is None:
        return np.full(len(cases) * width, 1 / width)
    return np.asarray(chance[cases].ravel(), dtype=np.float64)


@dataclass(frozen=True)
class _Laid:
    """The scored variants as plain lists, to lay out the questions that are kept."""

    variants: _Variants
    probabilities: list[float]
    weights: list[float]
    chances: dict[str, FloatArray | None]
    expected: list[float]
    moves_band: list[bool]
    moves_urgent: list[bool]

    def question(self, group: int) -> dict[str, Any]:
        """One question for one case: each answer's probability and chance, what it could change."""
        question, _ = self.variants.asked[self.variants.group_question[group]]
        start = int(self.variants.group_starts[group])
        width = len(question.answers)
        probabilities = self.probabilities[start : start + width]
        has_chance = self.chances.get(question.field) is not None
        chance = self.weights[start : start + width] if has_chance else None
        answers = [
            {
                "answer": answer.label,
                "value": answer.value,
                "probability": probabilities[a],
                "chance": None if chance is None else chance[a],
            }
            for a, answer in enumerate(question.answers)
        ]
        finding = question.kind == "finding"
        return {
            "field": question.field,
            "label": FIELD_LABELS[question.field],
            "kind": question.kind,
            "if_present": probabilities[0] if finding else None,
            "if_absent": probabilities[1] if finding else None,
            "p_present": chance[0] if finding and chance is not None else None,
            "answers": answers,
            "expected_change": self.expected[group],
            "changes_band": self.moves_band[group],
            "changes_urgent": self.moves_urgent[group],
        }
