"""Pure ASGI middleware: request ids, access log and metrics; API keys; the body size limit.

Pure ASGI rather than ``BaseHTTPMiddleware``: no extra task per request, and the body can be
counted as it streams in, before anything parses it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import Metrics

access_log = logging.getLogger("redflag.access")

# A client may name its request (to follow it through its own logs); anything else is replaced.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_error(send: Send, status: int, detail: str, headers: Mapping[str, str]) -> None:
    """A JSON error in the API's format, sent straight from the middleware."""
    body = json.dumps({"detail": detail, "errors": []}, separators=(",", ":")).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``), then counts, times and logs it.

    The access log line names the route template, never the path or body: case fields stay out.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.metrics = metrics
        # Paths of the app's routes: a request refused before routing (401, 413) is still
        # labelled with its route when the path is one of them, else "unmatched" (bounded labels).
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id")
        request_id = offered if offered and _REQUEST_ID.match(offered) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None)
            if template is None:
                template = scope["path"] if scope["path"] in self.paths else "unmatched"
            method = scope["method"]
            labels = (template, method, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    json.dumps(
                        {
                            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                            "request_id": request_id,
                            "method": method,
                            "route": template,
                            "status": status,
                            "latency_ms": round(elapsed * 1000, 3),
                            "model_version": state.get("model_version"),
                            "key_id": state.get("key_id"),
                            "cases": state.get("cases"),
                        },
                        separators=(",", ":"),
                    )
                )


class ApiKeyMiddleware:
    """Every path under ``/v1`` needs a configured key, as a Bearer token or ``X-API-Key``.

    A middleware rather than a dependency, so that no route added later can miss it, and an
    unauthenticated caller learns nothing (not even a 404 or a 422) from a ``/v1`` path.
    """

    def __init__(self, app: ASGIApp, keys: Mapping[str, bytes], prefix: str = "/v1") -> None:
        self.app = app
        self.keys = dict(keys)
        self.prefix = prefix

    def _protected(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def _key_id(self, presented: str) -> str | None:
        offered = presented.encode("utf-8", "surrogateescape")
        found = None
        for key_id, key in self.keys.items():  # no early exit: time does not depend on position
            if hmac.compare_digest(offered, key):
                found = key_id
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        presented = _header(scope, b"x-api-key")
        authorization = _header(scope, b"authorization")
        if presented is None and authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer":
                presented = token.strip()
        key_id = self._key_id(presented) if presented else None
        if key_id is None:
            reason = "invalid API key" if presented else "missing API key"
            await send_error(
                send,
                401,
                f"{reason}: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        scope.setdefault("state", {})["key_id"] = key_id
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 before anything parses them.

    A declared Content-Length is checked first; a chunked body is counted as it arrives and
    buffered up to the limit, then handed on whole. A body whose next piece takes longer than
    ``timeout_s`` to arrive is answered 408: uvicorn itself waits for it forever.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    def _too_large(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes (REDFLAG_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        chunked = "chunked" in (_header(scope, b"transfer-encoding") or "").lower()
        if length is None and not chunked:
            await self.app(scope, receive, send)
            return
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await send_error(send, 400, "Content-Length is not a number", {})
                return
            if declared > self.max_bytes:
                await send_error(send, 413, self._too_large(), {"Connection": "close"})
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                detail = f"request body not received within {self.timeout_s:g} s"
                await send_error(send, 408, detail, {"Connection": "close"})
                return
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_error(send, 413, self._too_large(), {"Connection": "close"})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _Formatter(logging.Formatter):
    """Access lines are JSON already; other lines say when, how bad and from where."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == access_log.name:
            return record.getMessage()
        return super().format(record)


def configure_logging(level: str) -> None:
    """Send ``redflag.*`` logs to stderr once per process, unless the host configured them."""
    root = logging.getLogger("redflag")
    root.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in root.handlers) and not root.handlers:
        handler = _StderrHandler()
        handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
