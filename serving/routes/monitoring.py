"""Monitoring: the drift of recent cases against the served model's training reference."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from serving.deps import ModelDep
from serving.examples import load_example
from serving.monitoring import DriftMonitor
from serving.schemas import ErrorResponse

router = APIRouter(prefix="/v1/monitoring", tags=["monitoring"])
# A real answer after 1,003 oncology cases against a model recalibrated at an emergency site
# (docs/site.md), cut to one feature.
DRIFT_EXAMPLE = load_example("drift")


@router.get(
    "/drift",
    responses={
        200: {"content": {"application/json": {"example": DRIFT_EXAMPLE}}},
        401: {
            "model": ErrorResponse,
            "description": "Missing or wrong API key (when keys are set)",
        },
        503: {"model": ErrorResponse, "description": "No model loaded"},
    },
)
async def drift(request: Request, model: ModelDep) -> dict[str, Any]:
    """Per feature: the test used, its Benjamini-Hochberg adjusted p-value, PSI and ``drift``.

    ``status`` is ``ok``, ``insufficient_data`` (fewer cases than REDFLAG_DRIFT_MIN_CASES in the
    window) or ``no_reference`` (a model registered without a reference profile).
    """
    monitor: DriftMonitor = request.app.state.drift_monitor
    report: dict[str, Any] = await run_in_threadpool(monitor.report, model)
    return report
