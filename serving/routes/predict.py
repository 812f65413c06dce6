"""Predictions: one case or a batch, each explained feature by feature."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from features.fhir_case import FhirCaseError, case_from_bundle
from features.loader import LoadedModel
from features.record import CaseRecord
from features.setting import ClinicalSetting, ServingSetting, prior_shift
from serving.audit import AuditLog
from serving.config import DEFAULT_NEXT_QUESTIONS, MAX_NEXT_QUESTIONS, Settings
from serving.deps import AuditDep, MetricsDep, ModelDep, RequestIdDep, SettingsDep
from serving.encoding import to_json
from serving.examples import BATCH_EXAMPLES, CASE_EXAMPLES, FHIR_BUNDLE, RISK_ASSESSMENT_EXAMPLE
from serving.fhir import FHIR_JSON, risk_assessment, wants_fhir
from serving.metrics import Metrics
from serving.monitoring import DriftMonitor
from serving.responses import explain_cases
from serving.schemas import BatchPrediction, BatchRequest, ErrorResponse, Prediction

router = APIRouter(prefix="/v1", tags=["predict"])


class Scoring:
    """How many single-case requests of one app are being scored now (its ``state.scoring``)."""

    def __init__(self) -> None:
        self.count = 0


SITE_NOT_CONFIGURED = (
    "setting 'site' needs the site's prevalence: set REDFLAG_SITE_PREVALENCE "
    "(`redflag prevalence --data FILE` estimates it)"
)

SettingQuery = Annotated[
    ServingSetting | None,
    Query(
        description="Shift the probability (and the explanation's base value) to this setting's "
        "prevalence; `site`: the site's own (REDFLAG_SITE_PREVALENCE); omitted: the prevalence "
        "the model was trained at."
    ),
]
NextQuestionsQuery = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_NEXT_QUESTIONS,
        description="How many unrecorded questions to rank, most informative first (0: none).",
    ),
]


@dataclass(frozen=True)
class PredictionQuery:
    """What a prediction request asks for beyond its cases."""

    setting: ServingSetting | None
    next_questions: int


async def prediction_query(
    setting: SettingQuery = None, next_questions: NextQuestionsQuery = DEFAULT_NEXT_QUESTIONS
) -> PredictionQuery:
    """The query parameters both predict routes take."""
    return PredictionQuery(setting, next_questions)


QueryDep = Annotated[PredictionQuery, Depends(prediction_query)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong API key (when keys are set)"},
    413: {"model": ErrorResponse, "description": "Body over REDFLAG_MAX_BODY_BYTES"},
    422: {"model": ErrorResponse, "description": "Invalid case: each error names the field"},
    503: {"model": ErrorResponse, "description": "No model loaded"},
}


def _json(payload: Any) -> Response:
    # The payload is built from validated cases and finite model output; serialising it directly
    # skips a second validation through the response model (a 1000-case batch: ~0.4 s saved).
    return Response(to_json(payload), media_type="application/json")


def at_setting(
    model: LoadedModel, setting: ServingSetting | ClinicalSetting | None, settings: Settings
) -> tuple[LoadedModel, str | None]:
    """(the model to score with, the clinical setting to shift to); ``site`` is the model moved
    to REDFLAG_SITE_PREVALENCE by a prior shift of its last calibration step (422 when unset)."""
    if setting is None or setting != ServingSetting.site:
        return model, None if setting is None else setting.value
    if settings.site_prevalence is None:
        # A field error like any other: the request is well formed, this service cannot serve it.
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "setting"),
                    "msg": SITE_NOT_CONFIGURED,
                    "type": "value_error",
                }
            ]
        )
    shift = prior_shift(model.train_prevalence, settings.site_prevalence)
    pipeline = model.pipeline.with_calibration(1.0, shift, settings.site_prevalence)
    return replace(model, pipeline=pipeline), None


def score(
    model: LoadedModel,
    cases: Sequence[CaseRecord],
    settings: Settings,
    query: PredictionQuery,
    request_id: str,
    key_id: str | None,
    metrics: Metrics,
    audit: AuditLog | None,
    monitor: DriftMonitor | None = None,
) -> list[dict[str, Any]]:
    """Explain ``cases`` with one model; count them, and audit them when an audit log is set."""
    setting = query.setting
    scoring, name = at_setting(model, setting, settings)
    observe = None if monitor is None else (lambda scores: monitor.observe(model, scores))
    explained = explain_cases(
        scoring, cases, settings.risk_thresholds, name, query.next_questions, observe
    )
    results = [{"request_id": request_id, **result} for result in explained]
    if setting == ServingSetting.site:
        for result in results:
            result["setting"] = ServingSetting.site.value
    setting_label = "none" if setting is None else setting.value
    for result in results:
        metrics.predictions.labels(result["risk_band"], setting_label).inc()
        if result["urgent"]["flag"]:
            metrics.urgent.inc()
    if audit is not None:
        audit.record(cases, results, request_id, key_id)
    return results


async def _score_one(
    request: Request,
    model: LoadedModel,
    case: CaseRecord,
    settings: Settings,
    query: PredictionQuery,
    request_id: str,
    metrics: Metrics,
    audit: AuditLog | None,
) -> dict[str, Any]:
    """One case scored for a request: counted, audited and watched for drift like a batch.

    Alone, it is scored in place: a trip to the thread pool costs more than a case on a busy
    machine. With other requests waiting it goes to the thread pool, like a batch: the booster's
    calls (most of a case's cost) release the GIL, so concurrent cases score on every core and
    the event loop stays free. Measured (bench_serving's client, same machine and minutes,
    interleaved, load ~12 on 2 cores), requests/s against always in place: 16 clients 179-196
    against 71-103, one client 84-103 against 88-105 (always in the pool: 18-58 at one client).
    """
    key_id = getattr(request.state, "key_id", None)
    monitor = request.app.state.drift_monitor
    request.state.cases = 1
    args = (model, [case], settings, query, request_id, key_id, metrics, audit, monitor)
    waiting = request.app.state.scoring
    waiting.count += 1
    try:
        await asyncio.sleep(0)  # requests already received reach this point and are counted
        scored = score(*args) if waiting.count == 1 else await run_in_threadpool(score, *args)
    finally:
        waiting.count -= 1
    return scored[0]


@router.post(
    "/predict",
    response_model=Prediction,
    responses=ERRORS,
    summary="Score one case",
)
async def predict(
    request: Request,
    case: Annotated[CaseRecord, Body(openapi_examples=CASE_EXAMPLES)],
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    audit: AuditDep,
    request_id: RequestIdDep,
    query: QueryDep,
) -> Response:
    """Probability of spinal malignancy for one case: risk band, urgent flag, explanation."""
    result = await _score_one(request, model, case, settings, query, request_id, metrics, audit)
    if wants_fhir(request.headers.get("accept")):
        return Response(pydantic_core.to_json(risk_assessment(result)), media_type=FHIR_JSON)
    return _json(result)


FHIR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {
        "description": "A FHIR RiskAssessment (or, with Accept: application/json, the prediction)",
        "content": {FHIR_JSON: {"example": RISK_ASSESSMENT_EXAMPLE}, "application/json": {}},
    },
    422: {
        "model": ErrorResponse,
        "description": "A resource that cannot be read, or an invalid case",
    },
}


@router.post(
    "/predict/fhir",
    responses=FHIR_RESPONSES,
    summary="Score a FHIR Bundle (Patient, Observations, Conditions)",
)
async def predict_fhir(
    request: Request,
    bundle: Annotated[
        dict[str, Any],
        Body(
            media_type=FHIR_JSON,
            openapi_examples={
                "worrying": {"summary": "Previous prostate cancer, weakness", "value": FHIR_BUNDLE}
            },
        ),
    ],
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    audit: AuditDep,
    request_id: RequestIdDep,
    query: QueryDep,
) -> Response:
    """The case read from the Bundle through the same code table as CDS Hooks; a RiskAssessment.

    ``Accept: application/json`` (without FHIR JSON) answers the usual prediction instead.
    """
    try:
        found = case_from_bundle(bundle)
        case = CaseRecord.model_validate(found.record)
    except FhirCaseError as error:
        raise HTTPException(422, f"invalid Bundle: {error}") from None
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    result = await _score_one(request, model, case, settings, query, request_id, metrics, audit)
    accept = request.headers.get("accept") or ""
    if "application/json" in accept and not wants_fhir(accept):
        return _json(result)
    resource = risk_assessment(result, found.patient, found.basis)
    return Response(pydantic_core.to_json(resource), media_type=FHIR_JSON)


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    responses=ERRORS,
    summary="Score a batch of cases",
)
async def predict_batch(
    request: Request,
    batch: Annotated[BatchRequest, Body(openapi_examples=BATCH_EXAMPLES)],
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    audit: AuditDep,
    request_id: RequestIdDep,
    query: QueryDep,
) -> Response:
    """Score up to REDFLAG_MAX_BATCH cases in one vectorised call; results keep the order sent.

    An invalid case refuses the whole batch with 422, each error naming ``cases[i].field``.
    """
    n = len(batch.cases)
    if n > settings.max_batch:
        raise HTTPException(
            status_code=413,
            detail=f"batch of {n} cases is over the limit of {settings.max_batch} "
            "(REDFLAG_MAX_BATCH); split it",
        )
    key_id = getattr(request.state, "key_id", None)
    request.state.cases = n
    metrics.batch_cases.observe(n)

    monitor = request.app.state.drift_monitor

    def score_batch() -> bytes:
        results = score(
            model, batch.cases, settings, query, request_id, key_id, metrics, audit, monitor
        )
        return to_json({"request_id": request_id, "count": n, "results": results})

    # Scoring and serialising both happen off the event loop: health checks and other requests
    # are answered meanwhile.
    body = await run_in_threadpool(score_batch)
    return Response(body, media_type="application/json")
