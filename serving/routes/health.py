"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "No model loaded"}})
async def readyz(request: Request) -> JSONResponse:
    """A model is loaded and can score (503 otherwise)."""
    model = request.app.state.model
    if model is None:
        reason = request.app.state.load_error or "the model is still loading"
        return JSONResponse(status_code=503, content={"status": "not ready", "detail": reason})
    return JSONResponse({"status": "ready", "model": model.identity.as_response()})
