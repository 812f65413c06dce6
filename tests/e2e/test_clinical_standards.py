"""End to end on a real `redflag serve`: CDS Hooks with JWTs, FHIR in and out, and the page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

from tests.clinical import (
    ISSUER,
    ClientKey,
    cds_call,
    ec_key,
    empty_values,
    hmac_token,
    jwks,
    rsa_key,
    unsigned_token,
    worrying_bundle,
)
from tests.conftest import ChampionStore
from tests.e2e.test_serve_process import free_port
from tests.serving.conftest import stop

SERVICE = "/cds-services/redflag-spinal-malignancy"
API_KEY = "page-test-key-0123456789"


def serve(home: Path, folder: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `redflag serve` with extra settings; (process, base URL) once it is ready."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "REDFLAG_"))}
    log = folder / f"serve-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "training.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**clean, "REDFLAG_HOME": str(home), **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("redflag serve was not ready in 90 s")


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"
    fetched = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).fetched += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def client_keys() -> tuple[ClientKey, ClientKey]:
    """The CDS client's RS384 and ES384 keys."""
    return rsa_key(), ec_key()


@pytest.fixture(scope="module")
def secured(
    champion_store: ChampionStore,
    client_keys: tuple[ClientKey, ClientKey],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path]]:
    """A server requiring the client's JWT, its keys from a JWKS URL on 127.0.0.1; audit log on."""
    _Jwks.body = json.dumps(jwks(*client_keys)).encode()
    keys = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=keys.serve_forever, daemon=True)
    thread.start()
    folder = tmp_path_factory.mktemp("cds-e2e")
    audit = folder / "audit.jsonl"
    process, base = serve(
        champion_store.home, folder,
        REDFLAG_CDS_ISSUERS=ISSUER,
        REDFLAG_CDS_JWKS=f"http://127.0.0.1:{keys.server_address[1]}/jwks.json",
        REDFLAG_AUDIT_LOG=str(audit),
    )  # fmt: skip
    try:
        yield base, audit
    finally:
        stop(process)
        keys.shutdown()
        thread.join(timeout=5)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_discovery_and_a_spec_valid_card_with_the_clients_jwt(
    secured: tuple[str, Path], client_keys: tuple[ClientKey, ClientKey]
) -> None:
    base, audit = secured
    rsa, ec = client_keys
    discovery = httpx.get(f"{base}/cds-services", headers=bearer(rsa.token(f"{base}/cds-services")))
    assert discovery.status_code == 200
    assert discovery.json()["services"][0]["id"] == "redflag-spinal-malignancy"

    token = ec.token(base + SERVICE)
    response = httpx.post(base + SERVICE, json=cds_call(), headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert empty_values(card) == [] and len(card["summary"]) < 140
    assert card["indicator"] == "critical" and card["uuid"]
    assert {"summary", "indicator", "source", "detail", "uuid"} <= set(card)
    (Path(audit.parent) / "card.json").write_text(json.dumps(card, indent=2))  # for the note

    model_card = httpx.get(card["source"]["url"], timeout=30)
    assert model_card.status_code == 200 and "#" in model_card.text

    failure = cds_call({"patient": None, "findings": None, "cancers": None})
    (fail,) = httpx.post(
        base + SERVICE, json=failure, headers=bearer(ec.token(base + SERVICE)), timeout=10
    ).json()["cards"]
    assert (
        fail["summary"].startswith("Spinal malignancy risk unavailable")
        and empty_values(fail) == []
    )

    missing = httpx.post(base + SERVICE, json=cds_call({"patient": None}),
                         headers=bearer(ec.token(base + SERVICE)), timeout=10)  # fmt: skip
    assert missing.status_code == 412

    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": "2026-12-01T10:00:00Z"}]}  # fmt: skip
    url = f"{base}{SERVICE}/feedback"
    assert httpx.post(url, json=feedback, headers=bearer(rsa.token(url))).status_code == 200
    assert '"event":"cds_feedback"' in audit.read_text()


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda rsa, base: rsa.token(f"{base}/cds-services/another-service"), "aud"),
        (lambda rsa, base: unsigned_token(base + SERVICE), "alg 'none' refused"),
        (lambda rsa, base: hmac_token(base + SERVICE), "alg 'HS256' refused"),
        (lambda rsa, base: rsa.token(base + SERVICE, iat=1_700_000_000, exp=1_700_000_300),
         "expired"),
        (lambda rsa, base: rsa.token(base + SERVICE, issuer="https://unknown.example"),
         "not in REDFLAG_CDS_ISSUERS"),
    ],
)  # fmt: skip
def test_tokens_are_refused_over_http(
    secured: tuple[str, Path],
    client_keys: tuple[ClientKey, ClientKey],
    make: Callable[[ClientKey, str], str],
    says: str,
) -> None:
    base, _ = secured
    response = httpx.post(
        base + SERVICE, json=cds_call(), headers=bearer(make(client_keys[0], base))
    )
    assert response.status_code == 401
    assert says in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_replayed_token_is_refused_over_http(
    secured: tuple[str, Path], client_keys: tuple[ClientKey, ClientKey]
) -> None:
    base, _ = secured
    token = client_keys[0].token(base + SERVICE)
    assert httpx.post(base + SERVICE, json=cds_call(), headers=bearer(token)).status_code == 200
    again = httpx.post(base + SERVICE, json=cds_call(), headers=bearer(token))
    assert again.status_code == 401 and "jti already used" in again.json()["detail"]
    assert httpx.post(base + SERVICE, json=cds_call()).status_code == 401  # no token at all
    metrics = httpx.get(f"{base}/metrics").text
    assert 'redflag_cds_auth_refusals_total{reason="replay"}' in metrics


def test_fhir_in_and_out_over_http(secured: tuple[str, Path]) -> None:
    base, audit = secured
    response = httpx.post(
        f"{base}/v1/predict/fhir",
        content=json.dumps(worrying_bundle()),
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    resource = response.json()
    RiskAssessment.model_validate(resource)
    assert resource["subject"] == {"reference": "Patient/p1"}
    (audit.parent / "risk_assessment.json").write_text(json.dumps(resource, indent=2))
    case = {"age": 58, "history_of_cancer": True, "cancer_type": "lung", "night_pain": True}
    out = httpx.post(f"{base}/v1/predict", json=case, headers={"Accept": "application/fhir+json"})
    assert out.headers["content-type"].startswith("application/fhir+json")
    RiskAssessment.model_validate(out.json())


# The page in a real headless Chromium (Debian's), driven by Playwright.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def keyed(champion_store: ChampionStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose /v1 routes need an API key."""
    folder = tmp_path_factory.mktemp("page-e2e")
    process, base = serve(champion_store.home, folder, REDFLAG_API_KEYS=f"clinic:{API_KEY}")
    try:
        yield base
    finally:
        stop(process)


def test_the_page_in_a_real_browser(keyed: str, tmp_path: Path) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        requests: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []

        def record(route: Route) -> None:
            # What the page sends and what the real service answers, passed through unchanged.
            requests.append(json.loads(route.request.post_data or "{}"))
            response = route.fetch()
            answers.append(response.json())
            route.fulfill(response=response)

        page.route("**/v1/predict*", record)
        page.goto(keyed + "/")
        expect(page.locator("#notice")).to_contain_text("Not a medical device")
        page.get_by_label("Age (required)").fill("71")
        page.get_by_role("button", name="Estimate the risk").click()
        expect(page.locator("#errors")).to_contain_text("API key")  # no key yet: 401 explained

        page.get_by_label("API key (kept in this browser tab only)").fill(API_KEY)
        page.get_by_label("Sex").select_option("male")
        page.locator("#field-history_of_cancer").get_by_label("Yes").check()
        page.get_by_label("Cancer type").select_option("prostate")
        page.locator("#field-limb_weakness").get_by_label("Yes").check()
        page.locator("#field-night_pain").get_by_label("Yes").check()
        page.get_by_label("Pain region").select_option("thoracic")
        page.get_by_label("ESR").fill("64")
        page.keyboard.press("Enter")  # submit from the keyboard

        expect(page.locator("#probability")).to_contain_text("%")
        expect(page.locator("#urgent")).to_be_visible()
        expect(page.locator("#reasons li").first).to_contain_text("the estimate")
        expect(page.locator("#waterfall svg rect")).to_have_count(13)  # base, 10, others, estimate
        first = page.locator("#probability").text_content()
        assert requests[-1]["history_of_cancer"] is True and "fever" not in requests[-1]

        expect(page.locator("#interval")).to_contain_text("90% interval")
        expect(page.locator("#unrecorded")).to_contain_text("not recorded")
        finding = next(q for q in answers[-1]["next_questions"] if q["kind"] == "finding")
        name = f"{finding['label']}: Yes"
        page.get_by_role("button", name=name).click()  # answer a next question
        expect(page.locator(f"#field-{finding['field']}").get_by_label("Yes")).to_be_checked()
        page.wait_for_function("document.querySelectorAll('#next-questions li').length > 0")
        assert requests[-1][finding["field"]] is True and len(requests) == 3
        expect(page.locator("#notice")).to_be_in_viewport()
        shot = tmp_path / "page.png"
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shot))  # the viewport: the notice stays at its top
        assert shot.stat().st_size > 10_000 and first
        browser.close()
