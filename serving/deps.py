"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from serving.config import Settings
from serving.core import LoadedModel


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_model(request: Request) -> LoadedModel:
    """The model being served, or 503 saying how to get one."""
    model: LoadedModel | None = request.app.state.model
    if model is None:
        reason = request.app.state.load_error or "the model is still loading"
        raise HTTPException(status_code=503, detail=f"no model is loaded: {reason}")
    return model


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
