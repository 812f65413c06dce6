"""The body size limit: 413 before parsing, for declared and for chunked bodies."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.serving.conftest import AppFactory, LiveServer

LIMIT = 4096


def _batch_body(case: dict[str, Any], size: int) -> bytes:
    cases = []
    body = b""
    while len(body) <= size:
        cases.append(case)
        body = json.dumps({"cases": cases}).encode()
    return body


def test_declared_length_over_the_limit_is_413(make_app: AppFactory, case: dict[str, Any]) -> None:
    body = _batch_body(case, LIMIT)
    with TestClient(make_app(max_body_bytes=LIMIT)) as client:
        response = client.post(
            "/v1/predict/batch", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert str(LIMIT) in response.json()["detail"]
        small = client.post("/v1/predict/batch", json={"cases": [case]})
        assert small.status_code == 200


def test_chunked_body_over_the_limit_is_413(make_app: AppFactory, case: dict[str, Any]) -> None:
    body = _batch_body(case, LIMIT)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    with TestClient(make_app(max_body_bytes=LIMIT)) as client:
        response = client.post(
            "/v1/predict/batch", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        # Chunked but small: counted, buffered and handed on whole.
        small = json.dumps({"cases": [case]}).encode()
        ok = client.post(
            "/v1/predict/batch",
            content=iter([small[:100], small[100:]]),
            headers={"content-type": "application/json"},
        )
        assert ok.status_code == 200 and ok.json()["count"] == 1


def _raw_request(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request over a real socket and read what comes back, even if sending fails."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # the server may close while the body is still being sent
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return received


def test_real_server_answers_413_to_large_bodies(
    make_app: AppFactory, live_server: Callable[[FastAPI], LiveServer], case: dict[str, Any]
) -> None:
    server = live_server(make_app(max_body_bytes=LIMIT))
    body = _batch_body(case, LIMIT * 4)
    declared = (
        b"POST /v1/predict/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    reply = _raw_request(server.port, declared, body)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"REDFLAG_MAX_BODY_BYTES" in reply

    chunked_head = (
        b"POST /v1/predict/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    reply = _raw_request(server.port, chunked_head, chunked)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
