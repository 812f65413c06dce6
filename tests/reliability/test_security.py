"""Hostile callers against a real ``redflag serve``: keys in the wrong places, a non-admin key on
an admin route, a body that stalls half-sent; and nothing secret in any answer or log line.
"""

from __future__ import annotations

import json
import socket
import time

import httpx2 as httpx

from tests.reliability.processes import ServeFn, Store

KEY, ADMIN = "reader-key-0123456789abcdef", "admin-key-0123456789abcdef"
SECRET_AGE = 97
CASE = {"age": SECRET_AGE, "history_of_cancer": True, "esr_mm_per_h": 187.654}


def test_keys_in_the_wrong_place_and_a_stalled_body(
    reliability_store: Store, serve: ServeFn
) -> None:
    served = serve(
        reliability_store.env(
            REDFLAG_API_KEYS=f"reader:{KEY},ops:{ADMIN}",
            REDFLAG_ADMIN_KEY_IDS="ops",
            REDFLAG_BODY_TIMEOUT_S="1",
        )
    )
    predict = served.url + "/v1/predict"
    refused = {
        "no key": httpx.post(predict, json=CASE),
        "wrong key": httpx.post(predict, json=CASE, headers={"X-API-Key": "x" * 26}),
        "query string": httpx.post(predict, json=CASE, params={"api_key": KEY}),
        "wrong header": httpx.post(predict, json=CASE, headers={"Api-Key": KEY}),
        "no Bearer scheme": httpx.post(predict, json=CASE, headers={"Authorization": KEY}),
        "Basic scheme": httpx.post(predict, json=CASE, headers={"Authorization": f"Basic {KEY}"}),
    }
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 401)
    admin = served.url + "/v1/admin/reload"
    assert httpx.post(admin, headers={"X-API-Key": KEY}).status_code == 403
    assert httpx.post(admin, headers={"X-API-Key": ADMIN}).status_code == 200
    answered = httpx.post(predict, json=CASE, headers={"Authorization": f"Bearer {KEY}"})
    assert answered.status_code == 200

    # Slow loris: a declared body, half sent, then nothing. The server answers 408 and closes.
    body = json.dumps(CASE).encode()
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1])), 10) as sock:
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"X-API-Key: {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert time.monotonic() - start < 8

    texts = [r.text for r in refused.values()] + [reply.decode(), served.log_text()]
    for text in texts:
        assert "Traceback" not in text
        assert KEY not in text and ADMIN not in text
        assert "187.654" not in text and f'"age":{SECRET_AGE}' not in text.replace(" ", "")
