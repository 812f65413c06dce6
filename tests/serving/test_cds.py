"""CDS Hooks in the app: discovery, cards, the failure card, 412, fetching, feedback, JWTs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.codes import PREFETCH
from serving.cds.auth import CdsAuthError, CdsVerifier, KeySet, ReplayCache
from tests.clinical import (
    ISSUER,
    cds_call,
    condition,
    ec_key,
    empty_values,
    findings_of_a_worrying_case,
    hmac_token,
    jwks,
    patient,
    rsa_key,
    searchset,
    unsigned_token,
)
from tests.serving.conftest import AppFactory, metric

SERVICE = "/cds-services/redflag-spinal-malignancy"


def test_discovery_names_the_one_service_and_its_prefetch(client: TestClient) -> None:
    body = client.get("/cds-services").json()
    (service,) = body["services"]
    assert service["id"] == "redflag-spinal-malignancy" and service["hook"] == "patient-view"
    assert service["prefetch"] == PREFETCH
    assert set(service["prefetch"]) == {"patient", "findings", "cancers"}
    assert "{{context.patientId}}" in service["prefetch"]["findings"]
    assert empty_values(body) == [] and service["description"]


def test_a_patient_view_call_gets_one_spec_valid_card(client: TestClient) -> None:
    response = client.post(SERVICE, json=cds_call())
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert empty_values(card) == []
    assert len(card["summary"]) < 140 and "Spinal malignancy risk" in card["summary"]
    assert card["indicator"] == "critical"  # weakness with a previous cancer: cord compression
    assert card["summary"].startswith("Urgent:")
    assert card["source"]["url"].endswith("/model-card") and card["source"]["label"]
    assert "**Why:**" in card["detail"] and "Previous prostate cancer" in card["detail"]
    assert "Not a medical device" in card["detail"]
    assert "90% interval:" in card["detail"] and "**Ask next:**" in card["detail"]
    assert all(reason["display"] for reason in card["overrideReasons"])


def test_a_mechanical_case_gets_an_info_or_warning_card(client: TestClient) -> None:
    young = patient(birth="1998-01-01", gender="female")
    findings = searchset(
        *[
            {**obs, "valueBoolean": False}
            for obs in findings_of_a_worrying_case()
            if "valueBoolean" in obs
        ]
    )
    call = cds_call({"patient": young, "findings": findings, "cancers": None})
    (card,) = client.post(SERVICE, json=call).json()["cards"]
    assert card["indicator"] in {"info", "warning"} and not card["summary"].startswith("Urgent")


@pytest.mark.parametrize(
    ("prefetch", "says"),
    [
        ({"patient": None, "findings": None, "cancers": None}, "no Patient"),
        ({"patient": patient(birth="2015-01-01"), "findings": None, "cancers": None}, "age"),
        (
            {"patient": patient(), "findings": searchset(
                {"resourceType": "Observation", "id": "bad", "status": "final",
                 "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]}}
            ), "cancers": None},
            "Observation/bad",
        ),
    ],
)  # fmt: skip
def test_when_no_estimate_can_be_made_one_card_says_why(
    client: TestClient, prefetch: dict[str, Any], says: str
) -> None:
    response = client.post(SERVICE, json=cds_call(prefetch))
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert card["summary"].startswith("Spinal malignancy risk unavailable")
    assert says in card["detail"] and "not a low risk" in card["detail"]
    assert card["indicator"] == "warning" and empty_values(card) == []


def test_missing_prefetch_without_a_fhir_server_is_412(client: TestClient) -> None:
    call = cds_call({"patient": patient()})
    response = client.post(SERVICE, json=call)
    assert response.status_code == 412
    assert "findings, cancers" in response.json()["detail"]


class _Fhir(BaseHTTPRequestHandler):
    """A FHIR server of one patient, paging its Observations two at a time."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append((self.path, self.headers.get("Authorization")))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        findings = findings_of_a_worrying_case()
        if self.path.startswith("/Patient/p1"):
            body: Any = patient()
        elif self.path.startswith("/Observation"):
            page = 1 if "page=2" not in self.path else 2
            chunk = findings[:4] if page == 1 else findings[4:]
            body = searchset(*chunk)
            if page == 1:
                body["link"] = [{"relation": "next", "url": f"{base}/Observation?page=2"}]
        elif self.path.startswith("/Condition"):
            body = searchset(condition("c1", "399068003", "2019-06-01"))
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fhir_server() -> Iterator[str]:
    """A FHIR server on 127.0.0.1, stopped when the test ends."""
    _Fhir.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fhir)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


def test_without_prefetch_the_data_is_fetched_with_the_token(
    client: TestClient, fhir_server: str
) -> None:
    auth = {"access_token": "opaque-token", "token_type": "Bearer", "expires_in": 300,
            "scope": "patient/*.read", "subject": "redflag"}  # fmt: skip
    call = cds_call({}, fhirServer=fhir_server, fhirAuthorization=auth)
    del call["prefetch"]
    (card,) = client.post(SERVICE, json=call).json()["cards"]
    assert card["indicator"] == "critical"
    paths = [path for path, _ in _Fhir.seen]
    assert paths[0] == "/Patient/p1" and any("page=2" in p for p in paths)
    assert {token for _, token in _Fhir.seen} == {"Bearer opaque-token"}
    # The second page held the weight loss: it was read.
    assert "Previous prostate cancer" in card["detail"]


@pytest.mark.parametrize(
    "auth",
    [{"access_token": "t", "expires_in": False}, {"access_token": 300}, {"access_token": ""}],
)
def test_a_malformed_fhir_authorization_is_422_naming_it(
    client: TestClient, auth: dict[str, Any]
) -> None:
    call = cds_call({}, fhirServer="http://127.0.0.1:9", fhirAuthorization=auth)
    response = client.post(SERVICE, json=call)
    assert response.status_code == 422
    assert "fhirAuthorization" in response.text


def test_an_unreachable_fhir_server_is_412(client: TestClient) -> None:
    call = cds_call({"patient": patient()}, fhirServer="http://127.0.0.1:9")
    assert client.post(SERVICE, json=call).status_code == 412


def test_feedback_is_counted_and_audited_without_patient_data(
    make_app: AppFactory, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    with TestClient(make_app(audit_log=audit)) as client:
        card = client.post(SERVICE, json=cds_call()).json()["cards"][0]
        when = "2026-12-01T10:00:00Z"
        feedback = {"feedback": [
            {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": when,
             "overrideReason": {"reason": card["overrideReasons"][0],
                                "userComment": "Mr Smith had an MRI last week"}},
            {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": when,
             "acceptedSuggestions": [{"id": "s1"}]},
        ]}  # fmt: skip
        response = client.post(f"{SERVICE}/feedback", json=feedback)
        assert response.status_code == 200 and response.json() == {"received": 2}
        text = client.get("/metrics").text
        assert metric(text, "redflag_cds_feedback_total", outcome="overridden",
                      reason="already-assessed") == 1  # fmt: skip
        assert metric(text, "redflag_cds_feedback_total", outcome="accepted", reason="none") == 1
        assert metric(text, "redflag_cds_cards_total", indicator="critical") == 1
        bad = client.post(
            f"{SERVICE}/feedback", json={"feedback": [{"card": "x", "outcome": "maybe"}]}
        )
        assert bad.status_code == 422
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    events = [line for line in lines if line.get("event") == "cds_feedback"]
    assert [e["outcome"] for e in events] == ["overridden", "accepted"]
    assert "Smith" not in audit.read_text() and "MRI" not in audit.read_text()
    assert any("case_sha256" in line for line in lines)  # the card's prediction is audited too


# The client's JWT, checked by the verifier itself (end to end over HTTP: tests/e2e).
AUD = "https://cds.test/cds-services/redflag-spinal-malignancy"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Any, Any, CdsVerifier]:
    rsa, ec = rsa_key(), ec_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(rsa, ec)))
    return rsa, ec, CdsVerifier(frozenset({ISSUER}), KeySet(str(path)), max_lifetime_s=600)


def test_rs384_and_es384_tokens_are_accepted_once(keys: tuple[Any, Any, CdsVerifier]) -> None:
    rsa, ec, verifier = keys
    for key in (rsa, ec):
        token = key.token(AUD)
        assert verifier.verify(token, AUD)["iss"] == ISSUER
        with pytest.raises(CdsAuthError, match="jti already used") as replay:
            verifier.verify(token, AUD)
        assert replay.value.kind == "replay"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda rsa: rsa.token("https://cds.test/cds-services/other"), "aud"),
        (lambda rsa: unsigned_token(AUD), "alg"),
        (lambda rsa: hmac_token(AUD), "alg"),
        (lambda rsa: rsa.token(AUD, iat=1_000_000, exp=1_000_300), "expired"),
        (lambda rsa: rsa.token(AUD, issuer="https://stranger.example"), "iss"),
        (lambda rsa: rsa.token(AUD, jti=None), "claims"),
        (lambda rsa: rsa.token(AUD, exp=2_000_000_000), "lifetime"),
        (lambda rsa: rsa_key("rsa-1").token(AUD), "signature"),  # same kid, another key
        (lambda rsa: rsa_key("nobody").token(AUD), "kid"),
        (lambda rsa: "not-a-jwt", "malformed"),
    ],
)
def test_tokens_the_spec_refuses_are_refused(
    keys: tuple[Any, Any, CdsVerifier], make: Any, kind: str
) -> None:
    rsa, _, verifier = keys
    with pytest.raises(CdsAuthError) as refused:
        verifier.verify(make(rsa), AUD)
    assert refused.value.kind == kind


def test_the_replay_cache_is_bounded_in_size_and_time() -> None:
    cache = ReplayCache(max_entries=3)
    assert all(cache.first_use(f"j{i}", 100.0 + i, now=0.0) for i in range(5))
    assert len(cache) == 3 and cache.first_use("j0", 200.0, now=0.0)  # j0 was pushed out
    assert not cache.first_use("j4", 200.0, now=0.0)
    assert cache.first_use("j9", 500.0, now=300.0) and len(cache) == 1  # the rest expired


def test_with_keys_configured_the_routes_need_a_token(make_app: AppFactory, tmp_path: Path) -> None:
    rsa = rsa_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(rsa)))
    app = make_app(cds_issuers=ISSUER, cds_jwks=str(path))
    with TestClient(app) as client:
        assert client.get("/cds-services").status_code == 401
        token = rsa.token("http://testserver/cds-services")
        ok = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        service = rsa.token("http://testserver" + SERVICE)
        call = client.post(SERVICE, json=cds_call(), headers={"Authorization": f"Bearer {service}"})
        assert call.status_code == 200 and call.json()["cards"][0]["indicator"] == "critical"
        wrong = client.post(SERVICE, json=cds_call(), headers={"Authorization": f"Bearer {token}"})
        assert wrong.status_code == 401 and "aud" in wrong.json()["detail"]
        text = client.get("/metrics").text
        assert metric(text, "redflag_cds_auth_refusals_total", reason="aud") == 1
        assert client.get("/").status_code == 200  # the page is not a CDS route


def test_keys_without_issuers_are_refused_at_start(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="cds_issuers and cds_jwks go together"):
        make_app(cds_jwks="/nowhere.json")
    with pytest.raises(ValueError, match="cannot read /nowhere.json"):
        make_app(cds_issuers=ISSUER, cds_jwks="/nowhere.json")
