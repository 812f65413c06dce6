"""Generated requests from the app's own OpenAPI schema, with API keys on and off.

No answer may be a 5xx, and every answer must conform to the schema (status, content type,
headers, body). ``make test`` sends a few hundred to the app in this process; ``make
reliability`` thousands to a real ``redflag serve``. Valid (positive) and invalid (negative)
requests both: an invalid one must be refused with a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from features.record import CONSISTENCY_RULES
from serving.app import create_app
from serving.config import Settings
from serving.routes.predict import SITE_NOT_CONFIGURED
from tests.reliability.conftest import full_scale, record
from tests.reliability.processes import ServeFn, Store, pointed_at

KEY = "fuzz-key-0123456789abcdef"
# Examples per operation and generation mode (schemathesis's own pytest integration needs a
# pytest older than ours, so the operations are driven here, one Hypothesis search each).
EXAMPLES = 200 if full_scale() else 15
SENT = {"requests": 0, "server_errors": 0, "nonconforming": 0}
# Cross-field rules (weight lost below weight, a cancer's details only with a history of one)
# cannot be said in JSON Schema: a schema-valid case may still be refused, for those alone.
CROSS_FIELD = {(rule.field, rule.reason) for rule in CONSISTENCY_RULES}
# Refusals a valid request may still get: no key or a wrong one, a batch over REDFLAG_MAX_BATCH.
ALLOWED_REFUSALS = {401, 403, 404, 413}


def _cross_field(error: dict[str, str]) -> bool:
    return (error["field"].rsplit(".", 1)[-1], error["reason"]) in CROSS_FIELD


def _site_unset(error: dict[str, str]) -> bool:
    """``?setting=site`` on a service told no site prevalence: documented, and said so."""
    return error["field"] == "query.setting" and error["reason"] == SITE_NOT_CONFIGURED


def _standard_refusal(path: str, status: int, detail: str) -> bool:
    """Refusals the clinical standards define beyond what a JSON schema can say: a Bundle that is
    no FHIR Bundle (the schema can only say "an object"), and CDS Hooks' 412 when the prefetch is
    missing and no fhirServer is given to fetch it from."""
    if path == "/v1/predict/fhir":
        return status == 422 and detail.startswith("invalid Bundle")
    return path.startswith("/cds-services/") and status == 412


def _refused_for_schema_valid_data(response: Any, path: str = "") -> str | None:
    """Why a schema-valid request was refused for anything but a cross-field rule, or None."""
    status = response.status_code
    if status < 400 or status in ALLOWED_REFUSALS:
        return None
    if _standard_refusal(path, status, str(response.json().get("detail", ""))):
        return None
    errors = response.json().get("errors", []) if status == 422 else []
    if errors and all(_cross_field(error) or _site_unset(error) for error in errors):
        return None
    return f"schema-valid request refused with {status}: {response.text[:500]}"


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    record("fuzz", **SENT)


@pytest.fixture(params=["keys off", "keys on"])
def api(
    request: pytest.FixtureRequest, reliability_store: Store, serve: ServeFn
) -> Iterator[tuple[Any, str]]:
    """(the schema, with its app or the URL of a real server; the key to send)."""
    keyed = request.param == "keys on"
    env = reliability_store.env(**({"REDFLAG_API_KEYS": f"fuzzer:{KEY}"} if keyed else {}))
    key = KEY if keyed else ""
    if full_scale():
        served = serve(env)
        yield schemathesis.openapi.from_url(served.url + "/openapi.json"), key
        assert "Traceback" not in served.log_text()
        return
    with pointed_at(env), TestClient(create_app(Settings())) as client:
        yield schemathesis.openapi.from_asgi("/openapi.json", client.app), key


def _search(operation: Any, mode: GenerationMode, key: str, failures: list[str]) -> None:
    """Send ``EXAMPLES`` generated requests to one operation; failures are collected."""
    headers = {"Authorization": f"Bearer {key}"} if key else None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def send(case: Any) -> None:
        response = case.call(headers=headers)
        SENT["requests"] += 1
        SENT["server_errors"] += response.status_code >= 500
        problem = None
        if mode is GenerationMode.POSITIVE:
            problem = _refused_for_schema_valid_data(response, operation.path)
        try:
            case.validate_response(
                response, headers=headers, excluded_checks=[positive_data_acceptance]
            )
            assert problem is None, problem
        except BaseException:
            SENT["nonconforming"] += 1
            raise

    try:
        send()
    except Unsatisfiable:
        pass  # an operation without parameters or body has no invalid request to make
    except BaseException as error:  # collected, so that one failing operation hides no other
        failures.append(f"{operation.label} ({mode.value}): {str(error)[:2000]}")


def test_no_server_error_and_every_answer_conforms(api: tuple[Any, str]) -> None:
    schema, key = api
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _search(operation, mode, key, failures)
    assert not failures, "\n\n".join(failures)
