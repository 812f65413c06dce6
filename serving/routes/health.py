"""Liveness, readiness and metrics: open even when API keys are set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import MetricsDep
from serving.examples import READY_EXAMPLE
from serving.reload import ModelSlot

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}}
)
async def healthz() -> dict[str, str]:
    """The process is alive (it answers even while a large batch is being scored)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {
            "description": "A model is loaded",
            "content": {"application/json": {"example": READY_EXAMPLE}},
        },
        503: {
            "description": "No model loaded",
            "content": {
                "application/json": {
                    "example": {
                        "status": "not ready",
                        "detail": "no model at models:/redflag-spinal-malignancy@champion (…)",
                    }
                }
            },
        },
    },
)
async def readyz(request: Request) -> JSONResponse:
    """A model is loaded and can score (503 otherwise)."""
    slot: ModelSlot = request.app.state.slot
    model = slot.current
    if model is None:
        return JSONResponse(
            status_code=503, content={"status": "not ready", "detail": slot.load_error}
        )
    return JSONResponse({"status": "ready", "model": model.identity.as_response()})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {
                CONTENT_TYPE_LATEST: {
                    "example": 'redflag_predictions_total{risk_band="high",setting="none"} 12.0'
                }
            },
        }
    },
)
async def metrics(metrics: MetricsDep) -> Response:
    """Request counts and latencies, predictions by band, urgent flags, model served, failures."""
    body: Any = generate_latest(metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
