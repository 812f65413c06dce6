"""FHIR out (a RiskAssessment for Accept: application/fhir+json) and in (a Bundle), and reasons."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.riskassessment import RiskAssessment

from serving.fhir import RISK_PROBABILITY, risk_assessment, wants_fhir
from tests.clinical import patient, worrying_bundle

FHIR = {"Accept": "application/fhir+json"}


def test_predictions_carry_reasons_of_recorded_findings(
    client: TestClient, case: dict[str, Any]
) -> None:
    body = client.post("/v1/predict", json=case).json()
    reasons = body["reasons"]
    assert 1 <= len(reasons) <= 3
    contributions = {c["feature"]: c for c in body["explanation"]["contributions"]}
    for reason in reasons:
        c = contributions[reason["feature"]]
        assert reason["contribution"] == pytest.approx(c["contribution"])
        assert any(value is not None for value in c["inputs"].values())  # recorded
        assert reason["sentence"].endswith(
            f"{reason['direction']} the estimate {reason['strength']}"
        )
    sizes = [abs(r["contribution"]) for r in reasons]
    assert sizes == sorted(sizes, reverse=True)


def test_a_minimal_case_never_gives_an_unrecorded_reason(client: TestClient) -> None:
    body = client.post("/v1/predict", json={"age": 45}).json()
    # Only age is known: "Deyo rule negative" or "No red flags" would present the unasked as "no".
    assert {r["feature"] for r in body["reasons"]} <= {"age", "age_50_or_over"}


def test_accept_fhir_json_answers_a_valid_risk_assessment(
    client: TestClient, case: dict[str, Any]
) -> None:
    plain = client.post("/v1/predict", json=case).json()
    response = client.post("/v1/predict", json=case, headers=FHIR)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource = response.json()
    RiskAssessment.model_validate(resource)  # raises on anything R4B does not allow
    (prediction,) = resource["prediction"]
    assert prediction["probabilityDecimal"] == pytest.approx(plain["probability"], abs=1e-6)
    coding = prediction["qualitativeRisk"]["coding"][0]
    assert coding == {"system": RISK_PROBABILITY, "code": plain["risk_band"],
                      "display": coding["display"]}  # fmt: skip
    assert plain["reasons"][0]["sentence"] in prediction["rationale"]
    assert resource["status"] == "final" and resource["subject"]["display"]
    assert resource["method"]["coding"][0]["version"] == plain["model"]["version"]
    assert any("0-1 scale" in note["text"] for note in resource["note"])
    (extension,) = prediction["extension"]  # the evidence interval, as a Range
    low, high = extension["valueRange"]["low"]["value"], extension["valueRange"]["high"]["value"]
    assert low - 1e-6 <= prediction["probabilityDecimal"] <= high + 1e-6
    assert plain["interval"]["low"] == pytest.approx(low, abs=1e-6)


def test_an_interval_when_there_is_one_goes_into_the_resource() -> None:
    result = {
        "request_id": "r_1:x", "probability": 0.12, "risk_band": "high", "prevalence": 0.01,
        "urgent": {"flag": False, "reasons": []}, "reasons": [],
        "interval": {"low": 0.08, "high": 0.17, "level": 0.9, "method": "evidence"},
        "model": {"name": "m", "version": "3", "alias": None, "run_id": None},
    }  # fmt: skip
    resource = risk_assessment(result, "Patient/p1", ["Observation/o1"])
    RiskAssessment.model_validate(resource)
    extension = resource["prediction"][0]["extension"][0]
    assert extension["valueRange"]["low"]["value"] == 0.08
    assert "90% interval 8.0% to 17%" in resource["prediction"][0]["rationale"]
    assert resource["id"] == "r-1-x" and resource["subject"] == {"reference": "Patient/p1"}


def test_a_bundle_in_is_scored_through_the_same_mapping(client: TestClient) -> None:
    body = json.dumps(worrying_bundle())
    response = client.post(
        "/v1/predict/fhir", content=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 200, response.text
    resource = response.json()
    RiskAssessment.model_validate(resource)
    assert resource["subject"] == {"reference": "Patient/p1"}
    assert {"reference": "Condition/c1"} in resource["basis"]
    assert "Urgent" in resource["prediction"][0]["rationale"]
    plain = client.post(
        "/v1/predict/fhir", content=body, headers={"Accept": "application/json",
                                                   "Content-Type": "application/json"}
    ).json()  # fmt: skip
    assert plain["urgent"]["flag"] is True
    assert plain["probability"] == pytest.approx(resource["prediction"][0]["probabilityDecimal"])


def test_a_bundle_that_cannot_be_read_is_a_422_naming_the_resource(client: TestClient) -> None:
    no_patient = {"resourceType": "Bundle", "type": "collection", "entry": []}
    response = client.post("/v1/predict/fhir", json=no_patient)
    assert response.status_code == 422 and "Patients" in response.json()["detail"]
    child = {"resourceType": "Bundle", "type": "collection",
             "entry": [{"resource": patient(birth="2020-01-01")}]}  # fmt: skip
    response = client.post("/v1/predict/fhir", json=child)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "age"


@pytest.mark.parametrize(
    ("accept", "fhir"),
    [("application/fhir+json", True), ("application/json", False), (None, False),
     ("application/fhir+json;q=0.9, application/json", True), ("*/*", False)],
)  # fmt: skip
def test_accept_header(accept: str | None, fhir: bool) -> None:
    assert wants_fhir(accept) is fhir


def test_the_clinical_examples_are_valid_and_match_the_service(client: TestClient) -> None:
    from serving.examples import CDS_CARDS_EXAMPLE, FHIR_BUNDLE, RISK_ASSESSMENT_EXAMPLE
    from tests.clinical import empty_values

    RiskAssessment.model_validate(RISK_ASSESSMENT_EXAMPLE)
    (card,) = CDS_CARDS_EXAMPLE["cards"]
    assert empty_values(card) == [] and len(card["summary"]) < 140
    assert FHIR_BUNDLE == worrying_bundle()
    live = client.post("/v1/predict/fhir", json=FHIR_BUNDLE).json()
    assert set(live) == set(RISK_ASSESSMENT_EXAMPLE)
    assert live["prediction"][0].keys() == RISK_ASSESSMENT_EXAMPLE["prediction"][0].keys()
