"""The framework's floor: a bare FastAPI endpoint that accepts the same body as ``/v1/predict``
and returns a constant. Served by ``bench_serving.py`` with the same server and options as
``redflag serve``; whatever redflag costs above it is redflag's own work.

    uvicorn --factory bench.floor_app:create_app
"""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

_ANSWER = {"probability": 0.5}


def create_app() -> FastAPI:
    """The app: ``POST /v1/predict`` (a JSON object in, a constant out) and ``GET /readyz``."""
    app = FastAPI()

    @app.post("/v1/predict")
    async def predict(case: dict[str, Any] = Body(...)) -> JSONResponse:  # noqa: B008
        return JSONResponse(_ANSWER)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app
