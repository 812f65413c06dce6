"""Properties of the case record, over records generated from the API's own schema.

Any record the schema accepts is scored (or refused for a cross-field rule alone, which JSON
Schema cannot state), its explanation adds up to its probability, its risk band follows the
thresholds, and the urgent rules hold whatever the probability.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from features.record import CONSISTENCY_RULES
from features.risk import DEFAULT_RISK_THRESHOLDS
from serving.app import create_app
from serving.config import Settings
from serving.routes.predict import SITE_NOT_CONFIGURED
from tests.reliability.conftest import full_scale, record
from tests.reliability.processes import Store, pointed_at

EXAMPLES = 2_000 if full_scale() else 150
CROSS_FIELD = {rule.reason for rule in CONSISTENCY_RULES}
# Refusals of schema-valid records: a cross-field rule, or ?setting=site on a service told no site
# prevalence (the schema cannot know the service's configuration).
ALLOWED_REASONS = CROSS_FIELD | {SITE_NOT_CONFIGURED}
DEFICITS = ("limb_weakness", "sensory_loss", "gait_difficulty", "numbness_tingling")
SEEN = {"scored": 0, "refused_cross_field": 0}


@pytest.fixture(scope="module")
def client(reliability_store: Store) -> Iterator[TestClient]:
    with pointed_at(reliability_store.env()), TestClient(create_app(Settings())) as test_client:
        yield test_client
    record("properties", records=sum(SEEN.values()), **SEEN)


def _expected_urgent(case: dict[str, Any]) -> int:
    """How many urgent rules the case meets, read from its raw fields (NICE CG75 / NG234)."""
    neuro = any(case.get(name) is True for name in DEFICITS)
    sphincter = case.get("bowel_bladder_dysfunction") is True
    cancer = case.get("history_of_cancer") is True
    return (neuro and cancer) + (sphincter and cancer) + (sphincter and neuro)


def _band(p: float) -> str:
    low, high = DEFAULT_RISK_THRESHOLDS
    return "high" if p >= high else "moderate" if p >= low else "low"


def _check(case: dict[str, Any], result: dict[str, Any]) -> None:
    p = result["probability"]
    assert 0 < p < 1
    assert result["risk_band"] == _band(p)
    explanation = result["explanation"]
    total = explanation["base_value"] + sum(c["contribution"] for c in explanation["contributions"])
    assert abs(1 / (1 + math.exp(-total)) - p) < 1e-6
    urgent = _expected_urgent(case)
    assert result["urgent"]["flag"] is (urgent > 0)
    assert len(result["urgent"]["reasons"]) == urgent


def test_every_record_the_schema_accepts_is_scored_and_explained(client: TestClient) -> None:
    schema = schemathesis.openapi.from_dict(client.app.openapi())  # type: ignore[attr-defined]
    operation = schema["/v1/predict"]["POST"]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def holds(case: Any) -> None:
        response = client.post("/v1/predict", json=case.body, params=case.query)
        if response.status_code == 422:
            reasons = {error["reason"] for error in response.json()["errors"]}
            assert reasons <= ALLOWED_REASONS, response.text
            SEEN["refused_cross_field"] += 1
            return
        assert response.status_code == 200, response.text
        SEEN["scored"] += 1
        _check(case.body, response.json())

    holds()
    assert SEEN["scored"] > SEEN["refused_cross_field"]
