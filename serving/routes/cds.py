"""CDS Hooks 2.0 routes: discovery, the patient-view service and its feedback."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from features.fhir_case import FhirCaseError, case_from_resources, resources_in
from features.record import CaseRecord
from serving.cds.auth import CdsAuthError, CdsVerifier
from serving.cds.cards import (
    OVERRIDE_REASONS,
    SERVICE_ID,
    UNAVAILABLE,
    failure_card,
    risk_card,
    source,
)
from serving.cds.service import HOOK, CdsRequest, DataUnavailableError, discovery, gather
from serving.config import DEFAULT_NEXT_QUESTIONS
from serving.deps import AuditDep, MetricsDep, RequestIdDep
from serving.errors import field_errors
from serving.examples import CDS_CARDS_EXAMPLE
from serving.metrics import Metrics
from serving.routes.predict import PredictionQuery, score
from serving.schemas import ErrorResponse

log = logging.getLogger("redflag.cds")
SERVICE_PATH = f"/cds-services/{SERVICE_ID}"
_REASON_CODES = frozenset(code for code, _ in OVERRIDE_REASONS)


def base_url(request: Request) -> str:
    """The public base URL: REDFLAG_CDS_BASE_URL, else the one this request reached."""
    configured: str | None = request.app.state.settings.cds_base_url
    return configured or str(request.base_url).rstrip("/")


async def cds_client(request: Request) -> str | None:
    """The calling CDS client's issuer when JWTs are required (401 otherwise); None when open."""
    verifier: CdsVerifier | None = request.app.state.cds_verifier
    if verifier is None:
        return None
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    metrics: Metrics = request.app.state.metrics
    audience = base_url(request) + request.url.path
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise CdsAuthError("missing", "send the CDS client's JWT as 'Authorization: Bearer'")
        # A JWKS URL may be fetched: off the event loop.
        claims = await run_in_threadpool(verifier.verify, token.strip(), audience)
    except CdsAuthError as error:
        metrics.cds_refusals.labels(error.kind).inc()
        raise HTTPException(401, str(error), headers={"WWW-Authenticate": "Bearer"}) from None
    return str(claims["iss"])


CdsClient = Annotated[str | None, Depends(cds_client)]
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "CDS client JWT missing or refused (when set)"},
}
router = APIRouter(tags=["cds-hooks"], responses=AUTH_ERRORS)


@router.get(
    "/cds-services",
    summary="CDS Hooks discovery",
    responses={200: {"content": {"application/json": {"example": discovery()}}}},
)
async def cds_discovery(client: CdsClient) -> dict[str, Any]:
    """The one service, on patient-view, with its prefetch templates."""
    return discovery()


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{e['field']}: {e['reason']}" for e in field_errors(error.errors()))


def _card_for(
    request: Request, call: CdsRequest, data: dict[str, Any], client: str | None, request_id: str
) -> dict[str, Any]:
    card_source = source(None, base_url(request))
    if call.hook != HOOK:
        return failure_card(f"this service runs on {HOOK}, not {call.hook}", card_source)
    model = request.app.state.slot.current
    if model is None:
        return failure_card("no model is loaded", card_source)
    card_source = source(model.identity.as_response(), base_url(request))
    try:
        patients = resources_in(data["patient"])
        case = case_from_resources(
            patients[0] if patients else None,
            resources_in(data["findings"]),
            resources_in(data["cancers"]),
        )
        record = CaseRecord.model_validate(case.record)
    except FhirCaseError as error:
        return failure_card(str(error), card_source)
    except ValidationError as error:
        return failure_card(_problems(error), card_source)
    state = request.app.state
    key = f"cds:{client}" if client else None
    query = PredictionQuery(setting=None, next_questions=DEFAULT_NEXT_QUESTIONS)
    result = score(
        model, [record], state.settings, query, request_id, key, state.metrics, state.audit
    )
    return risk_card(result[0], card_source)


@router.post(
    SERVICE_PATH,
    summary="Spinal malignancy risk on patient-view",
    responses={
        200: {"content": {"application/json": {"example": CDS_CARDS_EXAMPLE}}},
        412: {"model": ErrorResponse, "description": "Data neither prefetched nor fetchable"},
    },
)
async def cds_service(
    request: Request,
    call: CdsRequest,
    client: CdsClient,
    metrics: MetricsDep,
    request_id: RequestIdDep,
) -> dict[str, Any]:
    """One card: the estimate, or why there is none (never an empty list)."""
    try:
        data = await run_in_threadpool(gather, call)
    except DataUnavailableError as error:
        raise HTTPException(412, str(error)) from None
    try:
        card = _card_for(request, call, data, client, request_id)
    except Exception:  # whatever fails, the clinician sees that there is no estimate
        log.exception("CDS card failed")
        card = failure_card("internal error", source(None, base_url(request)))
    unavailable = card["summary"].startswith(UNAVAILABLE)
    indicator = "unavailable" if unavailable else card["indicator"]
    metrics.cds_cards.labels(indicator).inc()
    return {"cards": [card]}


class Coding(BaseModel):
    """A FHIR Coding, as CDS Hooks carries it."""

    system: str | None = None
    code: str | None = None
    display: str | None = None


class OverrideReason(BaseModel):
    """Why a card was overridden; the free-text comment is read and never kept."""

    reason: Coding | None = None
    userComment: str | None = None  # noqa: N815


class Feedback(BaseModel):
    """One piece of feedback on a card."""

    model_config = ConfigDict(extra="allow")

    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    overrideReason: OverrideReason | None = None  # noqa: N815
    outcomeTimestamp: str = Field(min_length=1)  # noqa: N815


class FeedbackRequest(BaseModel):
    """The body of the feedback route."""

    feedback: list[Feedback] = Field(min_length=1)


def _reason_code(item: Feedback) -> str:
    coding = item.overrideReason.reason if item.overrideReason else None
    if coding is None or coding.code is None:
        return "none"
    return coding.code if coding.code in _REASON_CODES else "other"


@router.post(
    f"{SERVICE_PATH}/feedback",
    summary="Feedback on cards",
    responses={200: {"content": {"application/json": {"example": {"received": 1}}}}},
)
async def cds_feedback(
    body: FeedbackRequest, client: CdsClient, metrics: MetricsDep, audit: AuditDep
) -> dict[str, Any]:
    """Outcomes and override reasons counted, and kept in the audit log (no patient data)."""
    entries = []
    for item in body.feedback:
        reason = _reason_code(item)
        metrics.cds_feedback.labels(item.outcome, reason).inc()
        entries.append(
            {
                "card": item.card[:64],
                "outcome": item.outcome,
                "override_reason": reason,
                "outcome_timestamp": item.outcomeTimestamp[:40],
                "client": client,
            }
        )
    if audit is not None:
        audit.record_event("cds_feedback", entries)
    return {"received": len(entries)}
