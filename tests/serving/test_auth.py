"""API keys: every /v1 route needs one; health, readiness and metrics stay open."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.app import API_PREFIX
from serving.config import Settings
from tests.serving.conftest import AppFactory, metric

APP_KEY = "app-key-0123456789abcdef"
OPS_KEY = "ops-key-fedcba9876543210"
KEYS = f"intake:{APP_KEY},ops:{OPS_KEY}"


def v1_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves under /v1, read from the app itself."""
    found = []
    # FastAPI 0.165 nests included routers; this walks them with the full path of each route.
    for route in iter_route_contexts(app.routes):
        path, methods = route.path, getattr(route, "methods", None) or ()
        if path and (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            found.extend((method, path) for method in sorted(methods))
    return found


@pytest.fixture
def secured(make_app: AppFactory) -> FastAPI:
    return make_app(api_keys=KEYS)


def test_every_v1_route_needs_a_key(secured: FastAPI, case: dict[str, Any]) -> None:
    routes = v1_routes(secured)
    assert ("POST", "/v1/predict") in routes and ("POST", "/v1/admin/reload") in routes
    with TestClient(secured) as client:
        for method, path in routes:
            for headers in (
                {},
                {"Authorization": "Bearer wrong-key-0123456789"},
                {"X-API-Key": APP_KEY[:-1]},
                {"Authorization": f"Basic {APP_KEY}"},
            ):
                response = client.request(method, path, json=case, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.json()["detail"]
                assert response.headers["www-authenticate"] == "Bearer"
            for headers in ({"Authorization": f"Bearer {APP_KEY}"}, {"X-API-Key": OPS_KEY}):
                response = client.request(method, path, json=case, headers=headers)
                assert response.status_code != 401, (method, path, headers)
                assert response.status_code < 500


def test_unknown_v1_paths_reveal_nothing_without_a_key(secured: FastAPI) -> None:
    with TestClient(secured) as client:
        assert client.get("/v1/no-such-thing").status_code == 401
        assert client.get("/v1/no-such-thing", headers={"X-API-Key": APP_KEY}).status_code == 404


def test_health_readiness_and_metrics_stay_open(secured: FastAPI) -> None:
    with TestClient(secured) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert client.get(path).status_code == 200, path


def test_openapi_declares_the_key_schemes(secured: FastAPI) -> None:
    with TestClient(secured) as client:
        schema = client.get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for method, path in v1_routes(secured):
        assert schema["paths"][path][method.lower()]["security"]


def test_key_id_is_logged_never_the_key(
    secured: FastAPI, case: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="redflag"), TestClient(secured) as client:
        client.post("/v1/predict", json=case, headers={"Authorization": f"Bearer {APP_KEY}"})
        client.post("/v1/predict", json=case, headers={"X-API-Key": "not-a-key-at-all-000"})
    access = [r.getMessage() for r in caplog.records if r.name == "redflag.access"]
    assert any('"key_id":"intake"' in line for line in access)
    assert APP_KEY not in caplog.text and "not-a-key-at-all-000" not in caplog.text


def test_keys_are_parsed_and_weak_keys_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDFLAG_API_KEYS", f" intake:{APP_KEY} , {OPS_KEY} ")
    keys = Settings().api_keys
    assert keys["intake"].get_secret_value() == APP_KEY
    (anonymous,) = (k for k in keys if k != "intake")
    assert anonymous.startswith("key-") and OPS_KEY not in anonymous
    assert APP_KEY not in repr(Settings())
    for bad in ("short:abc", f"a:{APP_KEY},a:{OPS_KEY}", f"a:{APP_KEY},b:{APP_KEY}", ":"):
        monkeypatch.setenv("REDFLAG_API_KEYS", bad)
        with pytest.raises(ValidationError):
            Settings()


def test_refused_requests_are_counted_under_their_route(secured: FastAPI) -> None:
    with TestClient(secured) as client:
        client.post("/v1/predict", json={"age": 60})
        client.get("/v1/no-such-thing")
        text = client.get("/metrics").text
    assert metric(text, "redflag_http_requests_total", route="/v1/predict", status="401") == 1
    assert metric(text, "redflag_http_requests_total", route="unmatched", status="401") == 1


def test_admin_routes_can_be_kept_to_some_keys(make_app: AppFactory, case: dict[str, Any]) -> None:
    with TestClient(make_app(api_keys=KEYS, admin_key_ids="ops")) as client:
        intake = client.post("/v1/admin/reload", headers={"X-API-Key": APP_KEY})
        assert intake.status_code == 403 and "admin" in intake.json()["detail"]
        assert client.post("/v1/admin/reload", headers={"X-API-Key": OPS_KEY}).status_code == 200
        predicted = client.post("/v1/predict", json=case, headers={"X-API-Key": APP_KEY})
        assert predicted.status_code == 200
    with pytest.raises(ValidationError):
        Settings(api_keys=KEYS, admin_key_ids="nobody")
