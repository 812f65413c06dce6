"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from features.intended_use import INTENDED_USE, NOT_A_MEDICAL_DEVICE
from features.store import tracking_uri
from serving.config import Settings
from serving.core import ModelUnavailableError, load_model
from serving.errors import install_error_handlers
from serving.routes import health, model, predict

log = logging.getLogger("redflag.serving")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the model is loaded at start-up, and a missing one leaves it unready (503)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.model = load_model(settings.model_uri, tracking_uri())
            log.info(
                "serving %s (version %s)", settings.model_uri, app.state.model.identity.version
            )
        except ModelUnavailableError as error:
            app.state.load_error = str(error)
            log.error("%s", error)
        yield

    app = FastAPI(
        title="redflag",
        version="0.1.0",
        summary="Probability of spinal malignancy in back pain, explained by red flag.",
        description=f"{INTENDED_USE}\n\n**{NOT_A_MEDICAL_DEVICE}**",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model = None
    app.state.load_error = None
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(predict.router)
    app.include_router(model.router)
    return app
