"""Response models of the API: the field names are the contract of DESIGN.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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
    contribution: float


class Explanation(BaseModel):
    """Exact TreeSHAP: sigmoid(base_value + sum of contributions) == probability."""

    space: str = "log_odds"
    base_value: float
    contributions: list[Contribution] = Field(description="Every feature, largest |value| first.")


class ModelRef(BaseModel):
    """Which registered model produced the prediction."""

    name: str | None
    version: str | None
    alias: str | None
    run_id: str | None


class Prediction(BaseModel):
    """The response of POST /v1/predict."""

    request_id: str
    probability: float
    risk_band: str
    urgent: Urgent
    explanation: Explanation
    setting: str | None = Field(
        description="Setting whose prevalence was applied (null: training)."
    )
    model: ModelRef


class FieldError(BaseModel):
    """One reason a request was refused."""

    field: str
    reason: str


class ErrorResponse(BaseModel):
    """Every error the API returns."""

    detail: str
    errors: list[FieldError] = []
