"""Operations on the running service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from serving.deps import ReloaderDep, SettingsDep
from serving.examples import RELOAD_FAILED_EXAMPLE, RELOADED_EXAMPLE
from serving.schemas import ErrorResponse, ReloadResult


async def require_admin(request: Request, settings: SettingsDep) -> None:
    """With REDFLAG_ADMIN_KEY_IDS set, only those keys may operate the service (403 otherwise)."""
    allowed = settings.admin_key_ids
    if allowed and getattr(request.state, "key_id", None) not in allowed:
        raise HTTPException(status_code=403, detail="this API key may not call /v1/admin routes")


router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post(
    "/reload",
    response_model=ReloadResult,
    responses={
        200: {"content": {"application/json": {"example": RELOADED_EXAMPLE}}},
        401: {
            "model": ErrorResponse,
            "description": "Missing or wrong API key (when keys are set)",
        },
        502: {
            "model": ReloadResult,
            "description": "The new model could not be loaded; the previous one still serves",
            "content": {"application/json": {"example": RELOAD_FAILED_EXAMPLE}},
        },
    },
)
async def reload(
    reloader: ReloaderDep,
    force: Annotated[
        bool, Query(description="Load again even if the alias has not moved.")
    ] = False,
) -> JSONResponse:
    """Load the version the model URI names now, in the background, and swap it in.

    Requests keep being answered by the previous model until the swap; if loading fails, the
    previous model keeps serving and the failure is counted in ``redflag_model_reload_failures``.
    """
    result = await reloader.reload(force=force)
    body = ReloadResult(
        outcome=result.outcome,
        previous_version=result.previous_version,
        version=result.version,
        error=result.error,
    ).model_dump()
    return JSONResponse(body, status_code=502 if result.outcome == "failed" else 200)
