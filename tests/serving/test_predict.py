"""POST /v1/predict: the contract documented in docs/api.md, settings, bands and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.risk import RISK_BANDS
from features.setting import SETTING_PREVALENCE, prior_shift
from features.store import MODEL_NAME
from tests.serving.conftest import AppFactory, Store, assert_additive, logit

RED_FLAGS_BY_NAME = {flag.name: flag for flag in RED_FLAGS}


def test_response_follows_the_contract(
    client: TestClient, store: Store, case: dict[str, Any]
) -> None:
    response = client.post("/v1/predict", json=case)
    assert response.status_code == 200
    body = response.json()
    assert {"request_id", "probability", "risk_band", "urgent", "explanation", "model"} <= set(body)
    assert body["request_id"] == response.headers["x-request-id"]
    assert 0 < body["probability"] < 1
    assert body["risk_band"] in RISK_BANDS
    assert body["model"] == {
        "name": MODEL_NAME,
        "version": store.version,
        "alias": "champion",
        "run_id": store.run_id,
    }
    contributions = body["explanation"]["contributions"]
    assert sorted(c["feature"] for c in contributions) == sorted(FEATURE_NAMES)
    sizes = [abs(c["contribution"]) for c in contributions]
    assert sizes == sorted(sizes, reverse=True)
    for item in contributions:
        flag = RED_FLAGS_BY_NAME[item["feature"]]
        assert item["recorded"] == any(item["inputs"][name] is not None for name in flag.inputs)
        assert item["label"] == flag.label if item["recorded"] else "not recorded" in item["label"]
        assert set(item["inputs"]) == set(flag.inputs)
    assert_additive(body)
    # The lung-cancer case has sensory loss: the emergency rule fires whatever the model says.
    assert body["urgent"]["flag"] is True and body["urgent"]["reasons"]


@pytest.mark.parametrize("setting", sorted(SETTING_PREVALENCE))
def test_setting_shifts_the_prior_and_keeps_additivity(
    client: TestClient, case: dict[str, Any], setting: str
) -> None:
    plain = client.post("/v1/predict", json=case).json()
    shifted = client.post("/v1/predict", params={"setting": setting}, json=case).json()
    info = client.get("/v1/model").json()
    expected = prior_shift(info["training"]["train_prevalence"], SETTING_PREVALENCE[setting])
    assert logit(shifted["probability"]) - logit(plain["probability"]) == pytest.approx(
        expected, abs=1e-6
    )
    assert shifted["explanation"]["base_value"] - plain["explanation"]["base_value"] == (
        pytest.approx(expected, abs=1e-9)
    )
    assert_additive(shifted)
    assert shifted["setting"] == setting
    assert shifted["prevalence"] == SETTING_PREVALENCE[setting]
    assert plain["setting"] is None
    assert plain["prevalence"] == pytest.approx(info["training"]["train_prevalence"])


def test_unknown_setting_is_refused(client: TestClient, case: dict[str, Any]) -> None:
    response = client.post("/v1/predict", params={"setting": "moon_base"}, json=case)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith("setting")


def test_risk_bands_follow_configured_thresholds(
    make_app: AppFactory, cohort: list[dict[str, Any]]
) -> None:
    thresholds = (0.02, 0.3)
    with TestClient(make_app(risk_thresholds=thresholds)) as client:
        results = client.post("/v1/predict/batch", json={"cases": cohort[:100]}).json()["results"]
        info = client.get("/v1/model").json()
    assert info["risk_bands"]["thresholds"] == {"moderate_from": 0.02, "high_from": 0.3}
    for result in results:
        p = result["probability"]
        expected = "low" if p < thresholds[0] else "moderate" if p < thresholds[1] else "high"
        assert result["risk_band"] == expected
    assert len({r["risk_band"] for r in results}) >= 2  # the cohort spans the bands


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"age": NaN}', "age"),
        ('{"age": 60, "pain_duration_weeks": Infinity}', "pain_duration_weeks"),
        ('{"age": 60, "esr_mm_per_h": -Infinity}', "esr_mm_per_h"),
        ('{"age": 60,', "body"),
        ("null", "body"),
        ("[]", "body"),
        ('{"age": 60, "blood_type": "O"}', "blood_type"),
        ('{"age": 12}', "age"),
        ('{"age": 60, "cancer_type": "lung"}', "cancer_type"),
        ('{"age": 60, "night_pain": "yes"}', "night_pain"),
    ],
)
def test_invalid_input_is_a_4xx_naming_the_field(client: TestClient, body: str, field: str) -> None:
    response = client.post(
        "/v1/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert field in [error["field"] for error in errors]
    assert "NaN" not in response.text and "Infinity" not in response.text


def test_client_request_id_is_kept_when_well_formed(
    client: TestClient, case: dict[str, Any]
) -> None:
    good = client.post("/v1/predict", json=case, headers={"X-Request-ID": "intake-42.a_b:c"})
    assert good.headers["x-request-id"] == "intake-42.a_b:c"
    assert good.json()["request_id"] == "intake-42.a_b:c"
    for bad in ("has spaces", "x" * 200, "<script>"):
        response = client.post("/v1/predict", json=case, headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert response.json()["request_id"] == response.headers["x-request-id"]


def test_model_metadata(client: TestClient, store: Store) -> None:
    info = client.get("/v1/model").json()
    assert info["version"] == store.version and info["run_id"] == store.run_id
    for name, value in store.metrics.items():
        # The run logs the test split's figures as test_*, the external cohort's as they are named.
        logged = name if name.startswith("external_") else f"test_{name}"
        assert info["metrics"][logged] == pytest.approx(value)
    assert 0.5 < info["metrics"]["external_auroc"] <= 1
    assert [f["name"] for f in info["features"]] == list(FEATURE_NAMES)
    assert all(f["label"] for f in info["features"])
    assert "Not a medical device" in info["not_a_medical_device"]
    assert "simulated" in info["training_data"]
    assert info["intended_use"]
    assert info["risk_bands"]["bands"] == list(RISK_BANDS)
    assert info["settings"]["prevalence"] == SETTING_PREVALENCE
    assert info["limits"]["max_batch"] == 1000


def test_missing_model_is_503_not_500(make_app: AppFactory, case: dict[str, Any]) -> None:
    with TestClient(make_app(model_uri=f"models:/{MODEL_NAME}@no_such_alias")) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "no_such_alias" in ready.json()["detail"]
        for response in (
            client.post("/v1/predict", json=case),
            client.post("/v1/predict/batch", json={"cases": [case]}),
            client.get("/v1/model"),
        ):
            assert response.status_code == 503
            assert "no model is loaded" in response.json()["detail"]


def test_openapi_documents_every_route_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    routes = {
        (path, method) for path, operations in schema["paths"].items() for method in operations
    }
    assert {
        ("/v1/predict", "post"),
        ("/v1/predict/batch", "post"),
        ("/v1/model", "get"),
        ("/v1/admin/reload", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    } <= routes
    components = schema["components"]["schemas"]

    def has_example(content: dict[str, Any]) -> bool:
        for media in content.values():
            if media.get("example") is not None or media.get("examples"):
                return True
            ref = media.get("schema", {}).get("$ref", "")
            if ref and components[ref.rsplit("/", 1)[-1]].get("examples"):
                return True
        return False

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description") or operation.get("summary"), (path, method)
            success = operation["responses"]["200"]
            assert has_example(success.get("content", {})), ("response example", path, method)
    for path in ("/v1/predict", "/v1/predict/batch"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["examples"], path
    prediction = schema["components"]["schemas"]["Prediction"]
    assert prediction.get("examples"), "a real response example"
    example = prediction["examples"][0]
    assert_additive(example)


def test_the_setting_parameter_knows_every_setting_of_the_model(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    parameters = schema["paths"]["/v1/predict"]["post"]["parameters"]
    (parameter,) = [p for p in parameters if p["name"] == "setting"]
    reference = parameter["schema"]["anyOf"][0]["$ref"].rsplit("/", 1)[-1]
    # The clinical settings, and the site's own prevalence (REDFLAG_SITE_PREVALENCE).
    enum = set(schema["components"]["schemas"][reference]["enum"])
    assert enum == set(SETTING_PREVALENCE) | {"site"}
