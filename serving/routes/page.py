"""The page for people (``GET /`` and its files) and the served model's model card."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from features.store import tracking_uri
from serving.page import asset, index_html

router = APIRouter(include_in_schema=False)
_MEDIA = {"app.js": "text/javascript", "style.css": "text/css"}
# The page reads and writes nothing but its own origin; no inline script runs.
_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@lru_cache(maxsize=1)
def _page() -> str:
    return index_html()


@router.get("/", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    """The form, the estimate and its explanation, for a person."""
    return HTMLResponse(_page(), headers=_SECURITY)


@router.get("/page/{name}")
async def page_file(name: str) -> Response:
    """The page's script and style sheet."""
    if name not in _MEDIA:
        raise HTTPException(404, f"no page file '{name}'")
    return Response(asset(name), media_type=_MEDIA[name], headers=_SECURITY)


@lru_cache(maxsize=8)
def _model_card(run_id: str, store: str) -> str | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as folder:
        try:
            path = MlflowClient(tracking_uri=store).download_artifacts(
                run_id, "model_card.md", folder
            )
        except (MlflowException, OSError):
            return None
        return Path(path).read_text(encoding="utf-8")


@router.get("/model-card")
async def model_card(request: Request) -> Response:
    """The model card (Markdown) of the model being served; CDS cards link here."""
    model = request.app.state.slot.current
    run_id = model.identity.run_id if model is not None else None
    if run_id is None:
        raise HTTPException(404, "no model with a training run is loaded")
    text = await run_in_threadpool(_model_card, run_id, tracking_uri())
    if text is None:
        raise HTTPException(404, f"the run {run_id} has no model card")
    return Response(text, media_type="text/markdown; charset=utf-8")
