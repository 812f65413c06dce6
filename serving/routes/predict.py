"""Predictions: one case, explained."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from features.record import CaseRecord
from serving.core import explain_cases
from serving.deps import ModelDep, SettingsDep
from serving.schemas import ErrorResponse, Prediction

router = APIRouter(prefix="/v1", tags=["predict"])

Setting = Literal["primary_care", "emergency", "oncology"]
ERRORS = {
    422: {"model": ErrorResponse, "description": "Invalid case: each error names the field"},
    503: {"model": ErrorResponse, "description": "No model loaded"},
}


@router.post("/predict", response_model=Prediction, responses=ERRORS)  # type: ignore[arg-type]
async def predict(
    case: CaseRecord,
    model: ModelDep,
    settings: SettingsDep,
    setting: Annotated[
        Setting | None,
        Query(description="Shift the probability to this setting's prevalence."),
    ] = None,
) -> dict[str, object]:
    """Probability of spinal malignancy for one case: risk band, urgent flag, explanation."""
    result = explain_cases(model, [case], settings.risk_thresholds, setting)[0]
    return {"request_id": uuid.uuid4().hex, **result}
