"""Response models of the API: the field names are the contract documented in docs/api.md."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from features.record import CaseRecord
from serving.examples import METASTASIS_SUSPECTED, PREDICTION_EXAMPLE


class Urgent(BaseModel):
    """Model-independent emergency triggers."""

    flag: bool
    reasons: list[str]


class Contribution(BaseModel):
    """One engineered feature's share of the log-odds."""

    feature: str
    label: str
    value: float | int | None = Field(description="The engineered feature's value (null: unknown).")
    inputs: dict[str, Any] = Field(description="The case fields it was derived from.")
    recorded: bool = Field(
        description="False when none of its inputs was recorded: then it is no finding, and its "
        "label says so."
    )
    contribution: float


class Explanation(BaseModel):
    """Exact TreeSHAP: sigmoid(base_value + sum of contributions) == probability."""

    space: str = "log_odds"
    base_value: float
    contributions: list[Contribution] = Field(description="Every feature, largest |value| first.")


class Interval(BaseModel):
    """How far the uncertainty of the published evidence behind the model leaves the estimate."""

    low: float
    high: float
    level: float = Field(description="The share of redrawn evidence worlds the interval holds.")
    method: str


class Unrecorded(BaseModel):
    """The estimate's range over every way the unrecorded yes/no findings could be filled in."""

    fields: list[str]
    low: float
    high: float


class Answer(BaseModel):
    """One answer to a next question: the estimate if it were recorded, and its chance."""

    answer: str
    value: Any
    probability: float
    chance: float | None = Field(description="Learned from the training cohort (null: unknown).")


class NextQuestion(BaseModel):
    """An unrecorded field whose answer could move the estimate, most informative first."""

    field: str
    label: str
    kind: Literal["finding", "choice", "number"]
    if_present: float | None = Field(description="Findings only: the estimate if present.")
    if_absent: float | None = Field(description="Findings only: the estimate if absent.")
    p_present: float | None = Field(description="Findings only: the chance it is present.")
    answers: list[Answer]
    expected_change: float = Field(description="Expected absolute change in log-odds.")
    changes_band: bool
    changes_urgent: bool


class Reason(BaseModel):
    """A recorded finding's contribution as a sentence (features/reasons.py has the wording)."""

    feature: str
    sentence: str = Field(
        description="e.g. 'Previous prostate cancer raises the estimate strongly'"
    )
    direction: Literal["raises", "lowers"]
    strength: Literal["strongly", "moderately", "slightly"] = Field(
        description="|contribution| in log-odds: 1.0 or more, 0.4 or more, 0.1 or more."
    )
    contribution: float


class ModelRef(BaseModel):
    """Which registered model produced the prediction."""

    name: str | None
    version: str | None
    alias: str | None
    run_id: str | None


class Prediction(BaseModel):
    """The response of POST /v1/predict."""

    model_config = ConfigDict(json_schema_extra={"examples": [PREDICTION_EXAMPLE]})

    request_id: str
    probability: float
    risk_band: str
    interval: Interval | None = Field(description="Null for a model trained without one.")
    urgent: Urgent
    explanation: Explanation
    unrecorded: Unrecorded
    next_questions: list[NextQuestion] = Field(description="At most ?next_questions=K (5).")

    reasons: list[Reason] = Field(
        description="Up to 3 recorded findings that move the estimate most, in words."
    )
    setting: str | None = Field(
        description="Setting whose prevalence was applied (null: the training prevalence)."
    )
    prevalence: float = Field(description="The prevalence the probability is calibrated to.")
    model: ModelRef


class BatchRequest(BaseModel):
    """Cases to score together; ``setting`` is a query parameter, as for one case."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"cases": [METASTASIS_SUSPECTED]}]}
    )

    cases: list[CaseRecord] = Field(
        min_length=1, description="At least one case, at most REDFLAG_MAX_BATCH."
    )


class BatchPrediction(BaseModel):
    """The response of POST /v1/predict/batch: one result per case, in the order sent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": PREDICTION_EXAMPLE["request_id"],
                    "count": 1,
                    "results": [PREDICTION_EXAMPLE],
                }
            ]
        }
    )

    request_id: str
    count: int
    results: list[Prediction] = Field(description="Each as POST /v1/predict returns it.")


class ReloadResult(BaseModel):
    """What POST /v1/admin/reload did."""

    outcome: Literal["reloaded", "unchanged", "failed"]
    previous_version: str | None
    version: str | None = Field(description="The version serving now.")
    error: str | None = None


class FieldError(BaseModel):
    """One reason a request was refused."""

    field: str
    reason: str


class ErrorResponse(BaseModel):
    """Every error the API returns."""

    detail: str
    errors: list[FieldError] = []
