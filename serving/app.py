"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from features.intended_use import INTENDED_USE, NOT_A_MEDICAL_DEVICE
from features.loader import is_movable
from features.store import tracking_uri
from serving.audit import AuditLog
from serving.cds.auth import CdsVerifier, KeySet
from serving.config import Settings
from serving.errors import install_error_handlers
from serving.metrics import Metrics
from serving.middleware import (
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    RequestContextMiddleware,
    configure_logging,
)
from serving.monitoring import DriftMonitor
from serving.reload import ModelSlot, Reloader
from serving.routes import admin, health, model, monitoring, predict
from serving.routes import cds as cds_routes
from serving.routes import page as page_routes
from serving.schemas import ErrorResponse

log = logging.getLogger("redflag.serving")

# Every route under it needs an API key when keys are configured (the routers all use it).
API_PREFIX = "/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the model is loaded at start-up, and a missing one leaves it unready (503)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    metrics = Metrics()
    slot = ModelSlot()
    store = tracking_uri()
    drift_monitor = DriftMonitor(settings.drift_window, settings.drift_min_cases, store)
    metrics.registry.register(drift_monitor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reloader = Reloader(
            settings.model_uri,
            store,
            slot,
            metrics,
            settings.scoring_threads,
            drift_monitor.prepare,
        )
        app.state.reloader = reloader
        await reloader.reload(force=True)
        tasks: list[asyncio.Task[None]] = []
        if slot.current is None:
            tasks.append(asyncio.create_task(reloader.until_loaded(1.0, settings.load_retry_max_s)))
        watcher = None
        if settings.reload_interval_s > 0 and is_movable(settings.model_uri):
            watcher = asyncio.create_task(reloader.watch(settings.reload_interval_s))
            log.info("watching %s every %ss", settings.model_uri, settings.reload_interval_s)
        elif settings.reload_interval_s > 0:
            log.warning(
                "not watching %s: only a models:/name@alias URI can move", settings.model_uri
            )
        if watcher is not None:
            tasks.append(watcher)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="redflag",
        version="0.1.0",
        summary="Probability of spinal malignancy in back pain, explained by red flag.",
        description=f"{INTENDED_USE}\n\n**{NOT_A_MEDICAL_DEVICE}**\n\n"
        "When API keys are configured, every `/v1` route needs `Authorization: Bearer <key>` "
        "or `X-API-Key: <key>`; `/healthz`, `/readyz` and `/metrics` stay open.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.slot = slot
    app.state.reloader = None
    app.state.drift_monitor = drift_monitor
    app.state.scoring = predict.Scoring()
    app.state.audit = AuditLog(settings.audit_log, metrics) if settings.audit_log else None
    install_error_handlers(app)
    for router in (health.router, predict.router, model.router, admin.router):
        app.include_router(router)
    app.state.cds_verifier = cds_verifier(settings)
    app.include_router(cds_routes.router)
    app.include_router(page_routes.router)
    app.include_router(monitoring.router)
    _document_openapi(app, keyed=bool(settings.api_keys))
    _add_middleware(app, settings, metrics)
    return app


def _add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Body limit, API keys when configured, and the request context around them all."""
    # Added innermost first: the request context wraps everything, so a 401 or 413 is logged too.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
    )
    if settings.api_keys:
        keys = {
            key_id: key.get_secret_value().encode() for key_id, key in settings.api_keys.items()
        }
        app.add_middleware(ApiKeyMiddleware, keys=keys, prefix=API_PREFIX)
    paths = frozenset(route.path for route in iter_route_contexts(app.routes) if route.path)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, paths=paths)


def cds_verifier(settings: Settings) -> CdsVerifier | None:
    """The CDS client JWT check when issuers and their keys are configured; None (open) else."""
    if not settings.cds_issuers or not settings.cds_jwks:
        log.warning(
            "CDS Hooks routes are open: set REDFLAG_CDS_ISSUERS and REDFLAG_CDS_JWKS to require "
            "the CDS client's signed JWT"
        )
        return None
    keys = KeySet(settings.cds_jwks)
    return CdsVerifier(settings.cds_issuers, keys, settings.cds_max_token_lifetime_s)


def _document_openapi(app: FastAPI, keyed: bool) -> None:
    """Document what the middleware and error handlers answer, which routes cannot declare.

    Every error is an ``ErrorResponse`` (FastAPI would document its own 422 layout, which this
    app never sends); a body that is not JSON text (invalid UTF-8) is a 400. With keys set, both
    ways of sending one are declared on every ``/v1`` operation.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        error = {"$ref": "#/components/schemas/ErrorResponse"}
        components = schema.setdefault("components", {})
        definition = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = components.setdefault("schemas", {})
        schemas.update(definition.pop("$defs", {}))
        schemas.setdefault("ErrorResponse", definition)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"]["content"] = {"application/json": {"schema": error}}
                if "requestBody" in operation:
                    responses.setdefault("400", _BODY_NOT_TEXT)
                if keyed and path.startswith(API_PREFIX + "/"):
                    operation["security"] = [{"bearer": []}, {"apiKey": []}]
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced
            schemas.pop(unused, None)
        if keyed:
            components["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_BODY_NOT_TEXT = {
    "description": "The body is not text (invalid UTF-8)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}
