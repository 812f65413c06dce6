"""Error responses: JSON naming the field and the reason, never echoing the client's values."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("redflag.serving")

# Cross-field checks of the case record raise "field: reason" from a model validator.
_CROSS_FIELD = re.compile(r"^Value error, (?P<field>[a-z_]+): (?P<reason>.+)$", re.DOTALL)


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field", "reason"}``; the offending input is deliberately left out.

    Echoing it back breaks on non-finite numbers and would copy patient data into responses.
    """
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        reason = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            out.append(
                {
                    "field": "body",
                    "reason": f"malformed JSON: {error.get('ctx', {}).get('error', reason)}",
                }
            )
            continue
        if match := _CROSS_FIELD.match(reason):
            loc, reason = [*loc, match["field"]], match["reason"]
        elif reason.startswith("Value error, "):
            reason = reason.removeprefix("Value error, ")
        field = ".".join(loc) if loc else "body"
        field = re.sub(r"(^|\.)(\d+)(?=\.|$)", r"[\2]", field).replace(".[", "[").lstrip(".")
        out.append({"field": field, "reason": reason})
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Replace FastAPI's defaults, which echo input and answer 500 for NaN in a 422."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": "invalid request", "errors": field_errors(exc.errors())},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": str(exc.detail), "errors": []},
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error", "errors": []})
