"""The next questions to ask: which unrecorded answers would move an estimate most.

Each question is an unrecorded field with answers that matter clinically (present or absent for a
finding; the values of a choice; two ranges of a number, each with a typical value). Every answer
is scored by the model as if it had been recorded; the chance of each answer given what *is*
recorded comes from ``FindingPriors``, one logistic regression per question learned from the
training cohort. Questions are ranked by the expected absolute change in log-odds,
Σ chance(answer) · |logit p(answer) − logit p(now)|.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from features.catalogue import Columns
from features.record import ENUM_VALUES, FIELD_KINDS
from features.transform import CaseInput, case_columns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Rows a prior is learned from, at most: enough for a dozen coefficients per answer.
PRIOR_SAMPLE = 50_000
MIN_PRIOR_ROWS = 50


@dataclass(frozen=True)
class Answer:
    """One answer to a question: how it is said, and what would be recorded."""

    label: str
    value: Any


@dataclass(frozen=True)
class Question:
    """An unrecorded field worth asking about, and the answers that matter."""

    field: str
    kind: Literal["finding", "choice", "number"]
    answers: tuple[Answer, ...]
    # A number's answer is the range its recorded value falls in: edges between the answers.
    edges: tuple[float, ...] = ()
    # Asked only where this field is recorded true (a cancer's type needs a previous cancer).
    needs: str | None = None

    def unrecorded(self, values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
        """Where the field is not recorded: ``answer_index`` < 0, at a fraction of its cost (a
        choice's answers are every value of its field: checked when the module loads)."""
        if self.kind == "choice":
            return np.asarray(values == None, dtype=np.bool_)  # noqa: E711 (elementwise)
        return np.isnan(np.asarray(values, dtype=np.float64))

    def answer_index(self, values: npt.NDArray[Any]) -> IntArray:
        """Which answer each recorded value is (-1: not recorded)."""
        if self.kind == "finding":
            numbers = np.asarray(values, dtype=np.float64)
            return np.where(np.isnan(numbers), -1, np.where(numbers == 1.0, 0, 1)).astype(np.int64)
        if self.kind == "choice":
            index = {answer.value: i for i, answer in enumerate(self.answers)}
            return np.array([index.get(v, -1) for v in values], dtype=np.int64)
        numbers = np.asarray(values, dtype=np.float64)
        bins = np.digitize(numbers, self.edges, right=True)
        return np.where(np.isnan(numbers), -1, bins).astype(np.int64)


def _finding(field: str) -> Question:
    return Question(field, "finding", (Answer("present", True), Answer("absent", False)))


def _choice(field: str, order: tuple[str, ...], needs: str | None = None) -> Question:
    return Question(field, "choice", tuple(Answer(v, v) for v in order), needs=needs)


QUESTIONS: tuple[Question, ...] = (
    *(_finding(name) for name, kind in FIELD_KINDS.items() if kind == "bool"),
    _choice("pain_trajectory", ("worsening", "stable", "improving")),
    _choice("pain_region", ("thoracic", "cervical", "lumbar", "sacral")),
    _choice("smoking_status", ("current", "former", "never")),
    _choice("cancer_type", ENUM_VALUES["cancer_type"], needs="history_of_cancer"),
    # Typical values of each range, from the simulated cohorts: the answer a clinician records.
    Question(
        "pain_duration_weeks",
        "number",
        (Answer("4 weeks or less", 2.0), Answer("more than 4 weeks", 8.0)),
        edges=(4.0,),
    ),
    Question(
        "unexplained_weight_loss_kg",
        "number",
        (Answer("none", 0.0), Answer("some (5 kg)", 5.0)),
        edges=(0.0,),
    ),
    Question(
        "esr_mm_per_h",
        "number",
        (Answer("under 20 mm/h", 10.0), Answer("20 mm/h or more", 40.0)),
        edges=(19.999,),
    ),
)
QUESTIONS_BY_FIELD = {question.field: question for question in QUESTIONS}
if any(
    {answer.value for answer in question.answers} != set(ENUM_VALUES[question.field])
    for question in QUESTIONS
    if question.kind == "choice"
):  # checked when the module loads: a recorded choice is always one of its answers
    raise RuntimeError("a choice question must offer every value of its field")


# The design's columns: one per yes/no field, one per value of a choice, two per number (its value
# scaled, and "not recorded").
_WIDTHS = {
    name: {"bool": 1, "enum": len(ENUM_VALUES.get(name, ())), "int": 2, "float": 2}[kind]
    for name, kind in FIELD_KINDS.items()
}
_STARTS = dict(zip(_WIDTHS, np.cumsum([0, *_WIDTHS.values()])[:-1].tolist(), strict=True))
_BOOLS = tuple(name for name, kind in FIELD_KINDS.items() if kind == "bool")
_ENUMS = tuple(name for name, kind in FIELD_KINDS.items() if kind == "enum")
_NUMBERS = tuple(name for name, kind in FIELD_KINDS.items() if kind in ("int", "float"))
_BOOLS_AT = np.array([_STARTS[name] for name in _BOOLS])
_NUMBERS_AT = np.array([_STARTS[name] for name in _NUMBERS])


class FindingPriors:
    """P(each answer | what is recorded), one logistic regression per question.

    The predictors are every field of the record, encoded so that "not recorded" is a value of
    its own (0.5 for a yes/no field, no category for a choice, the mean plus an indicator for a
    number). Each question's model is fitted on the training cases where its field is recorded,
    with that field's own columns set to "not recorded", which is how they look when the
    question is asked. Stored as plain arrays: one matrix product predicts every question.
    """

    def fit(self, cases: CaseInput) -> FindingPriors:
        """Learn the encoding and every question's model from labelled or unlabelled cases."""
        columns = case_columns(cases)
        numbers = _NUMBERS
        self.means_ = {name: float(np.nanmean(_or_zero(columns[name]))) for name in numbers}
        self.scales_ = {name: float(np.nanstd(_or_zero(columns[name])) or 1.0) for name in numbers}
        design = self._design(columns)
        rng = np.random.default_rng(0)
        self.models_: dict[str, tuple[FloatArray, FloatArray] | None] = {}
        for question in QUESTIONS:
            self.models_[question.field] = self._fit_question(question, columns, design, rng)
        return self

    def _fit_question(
        self,
        question: Question,
        columns: Columns,
        design: FloatArray,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, FloatArray] | None:
        answers = question.answer_index(columns[question.field])
        rows = np.flatnonzero(answers >= 0)
        if len(rows) > PRIOR_SAMPLE:
            rows = np.sort(rng.choice(rows, PRIOR_SAMPLE, replace=False))
        classes = np.unique(answers[rows])
        if len(rows) < MIN_PRIOR_ROWS or len(classes) < 2:
            return None  # nothing to learn from: the answers are shown without their chance
        x = self._masked(design[rows], question.field)
        fit = LogisticRegression(C=1.0, max_iter=300).fit(x, answers[rows])
        k = len(question.answers)
        coef, intercept = np.zeros((k, x.shape[1])), np.full(k, -np.inf)
        if len(fit.classes_) == 2:  # scikit-learn keeps one row for two classes
            coef[fit.classes_[1]], intercept[fit.classes_[1]] = fit.coef_[0], fit.intercept_[0]
            intercept[fit.classes_[0]] = 0.0
        else:
            coef[fit.classes_], intercept[fit.classes_] = fit.coef_, fit.intercept_
        return coef, intercept

    def _layout(self) -> list[tuple[str, int]]:
        """(field, number of design columns) in design order."""
        return list(_WIDTHS.items())

    def _design(self, columns: Columns) -> FloatArray:
        """Every field encoded (see the class docstring), a few whole-matrix steps per kind."""
        design = np.empty((len(columns["age"]), sum(_WIDTHS.values())))
        bools = np.column_stack([np.asarray(columns[name], np.float64) for name in _BOOLS])
        design[:, _BOOLS_AT] = np.where(np.isnan(bools), 0.5, bools)
        for name in _ENUMS:
            values, start = columns[name], _STARTS[name]
            for k, value in enumerate(ENUM_VALUES[name]):
                design[:, start + k] = values == value
        numbers = np.column_stack([np.asarray(columns[name], np.float64) for name in _NUMBERS])
        means = np.array([self.means_[name] for name in _NUMBERS])
        scales = np.array([self.scales_[name] for name in _NUMBERS])
        missing = np.isnan(numbers)
        design[:, _NUMBERS_AT] = (np.where(missing, means, numbers) - means) / scales
        design[:, _NUMBERS_AT + 1] = missing
        return design

    def _masked(self, design: FloatArray, field: str) -> FloatArray:
        """``design`` with ``field``'s columns as they are when the field is not recorded."""
        out = design.copy()
        start = 0
        for name, width in self._layout():
            if name == field:
                kind = FIELD_KINDS[name]
                if kind == "bool":
                    out[:, start] = 0.5
                elif kind == "enum":
                    out[:, start : start + width] = 0.0
                else:
                    out[:, start], out[:, start + 1] = 0.0, 1.0
                break
            start += width
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_stacked", None)  # rebuilt from models_ when needed
        return state

    def _stacked_models(self) -> tuple[list[str], FloatArray, FloatArray, IntArray]:
        """(fields with a model, every answer's coefficients as columns, intercepts, first
        column of each field): one matrix product predicts every question."""
        stacked = self.__dict__.get("_stacked")
        if stacked is None:
            fields = [name for name, model in self.models_.items() if model is not None]
            models = [self.models_[name] for name in fields]
            coef = np.vstack([m[0] for m in models if m is not None]).T.copy()
            intercept = np.concatenate([m[1] for m in models if m is not None])
            starts = np.cumsum([0] + [len(m[1]) for m in models if m is not None])[:-1]
            stacked = self._stacked = (fields, coef, intercept, starts.astype(np.int64))
        return stacked

    def chances(self, columns: Columns) -> dict[str, FloatArray | None]:
        """Per question, the chance of each answer for each case (n × answers); None where the
        question's model could not be learned."""
        out: dict[str, FloatArray | None] = dict.fromkeys(self.models_)
        fields, coef, intercept, starts = self._stacked_models()
        if not fields:
            return out
        logits = self._design(columns) @ coef + intercept
        widths = np.diff(np.append(starts, logits.shape[1]))
        # A softmax per question, all at once: each question's answers are adjacent columns.
        logits -= np.repeat(np.maximum.reduceat(logits, starts, axis=1), widths, axis=1)
        weights = np.exp(logits)
        weights /= np.repeat(np.add.reduceat(weights, starts, axis=1), widths, axis=1)
        for name, start, width in zip(fields, starts.tolist(), widths.tolist(), strict=True):
            out[name] = weights[:, start : start + width]
        return out


def _or_zero(values: npt.NDArray[Any]) -> FloatArray:
    numbers = np.asarray(values, dtype=np.float64)
    return numbers if (~np.isnan(numbers)).any() else np.zeros(1)


def asked_cases(columns: Columns) -> list[tuple[Question, IntArray]]:
    """Each question that applies to some case (field not recorded, its ``needs`` recorded true),
    in ``QUESTIONS`` order, with the cases it applies to."""
    asked = []
    for question in QUESTIONS:
        unrecorded = question.unrecorded(columns[question.field])
        if question.needs is not None:
            unrecorded &= np.asarray(columns[question.needs], dtype=np.float64) == 1.0
        cases = np.flatnonzero(unrecorded)
        if len(cases):
            asked.append((question, cases))
    return asked
