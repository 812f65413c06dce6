"""Dependencies shared by the routes.

All ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool, a thread hop per
dependency per request (measured: p50 of /v1/predict 2.2-2.8 ms with them, 1.75 ms without).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from features.loader import LoadedModel
from serving.audit import AuditLog
from serving.config import Settings
from serving.metrics import Metrics
from serving.reload import ModelSlot, Reloader


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_model(request: Request) -> LoadedModel:
    """The model being served, read once: a reload during this request does not affect it."""
    slot: ModelSlot = request.app.state.slot
    model = slot.current
    if model is None:
        raise HTTPException(status_code=503, detail=f"no model is loaded: {slot.load_error}")
    request.state.model_version = model.identity.version
    return model


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_reloader(request: Request) -> Reloader:
    """What swaps in a new model (503 before start-up has finished)."""
    reloader: Reloader | None = request.app.state.reloader
    if reloader is None:
        raise HTTPException(status_code=503, detail="the service is still starting")
    return reloader


async def get_audit(request: Request) -> AuditLog | None:
    """The audit log, when one is configured."""
    audit: AuditLog | None = request.app.state.audit
    return audit


async def get_request_id(request: Request) -> str:
    """The id the request-context middleware gave this request."""
    return str(request.state.request_id)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ReloaderDep = Annotated[Reloader, Depends(get_reloader)]
AuditDep = Annotated[AuditLog | None, Depends(get_audit)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
