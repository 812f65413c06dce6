"""The patient-view service: discovery, the request, and the data it needs (prefetch or fetched)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from features.codes import PREFETCH
from serving.cds.cards import SERVICE_ID

HOOK = "patient-view"
MAX_PAGES = 5  # of one search fetched from a FHIR server
FETCH_TIMEOUT_S = 5.0


def discovery() -> dict[str, Any]:
    """The body of ``GET /cds-services``."""
    return {
        "services": [
            {
                "hook": HOOK,
                "id": SERVICE_ID,
                "title": "Spinal malignancy risk in back pain",
                "description": (
                    "Estimates the probability that a patient's back pain comes from a spinal "
                    "malignancy (metastasis, myeloma or primary tumour) from the red flags in the "
                    "chart, with the reasons, and flags suspected spinal cord compression. "
                    "Research use; trained on simulated cases; not a medical device."
                ),
                "prefetch": dict(PREFETCH),
            }
        ]
    }


class FhirAuthorization(BaseModel):
    """The bearer token a CDS client lends for its FHIR server."""

    # Strict: JSON's false is no lifetime and 300 is no token (found by the API fuzzing).
    model_config = ConfigDict(strict=True)

    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None


class CdsRequest(BaseModel):
    """A CDS Hooks call (the fields this service reads; others are allowed and ignored)."""

    model_config = ConfigDict(extra="allow")

    hook: str
    hookInstance: str = Field(min_length=1)  # noqa: N815 (the spec's name)
    fhirServer: str | None = None  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class DataUnavailableError(Exception):
    """The data the service needs is neither prefetched nor fetchable: 412, as the spec says."""


def _query(template: str, context: Mapping[str, Any]) -> str:
    patient = context.get("patientId")
    if not isinstance(patient, str) or not patient:
        raise DataUnavailableError("context.patientId is missing, so nothing can be fetched")
    return template.replace("{{context.patientId}}", urllib.parse.quote(patient, safe=""))


def _get(url: str, token: str | None) -> Any:
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310
        return json.loads(response.read())


def _fetch(server: str, query: str, token: str | None) -> Any:
    """One read, or a search with its pages gathered into one searchset Bundle."""
    first = _get(f"{server.rstrip('/')}/{query}", token)
    if not isinstance(first, dict) or first.get("resourceType") != "Bundle":
        return first
    entries = list(first.get("entry") or [])
    page, pages = first, 1
    while pages < MAX_PAGES:
        following = [
            link["url"] for link in page.get("link") or [] if link.get("relation") == "next"
        ]
        if not following:
            break
        page, pages = _get(following[0], token), pages + 1
        if not isinstance(page, dict):
            raise ValueError("a page of the search is not a Bundle")
        entries.extend(page.get("entry") or [])
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def gather(call: CdsRequest) -> dict[str, Any]:
    """The data of every prefetch key: from the request, else fetched from ``fhirServer``.

    A key present with ``null`` means the client has no such data, which is an answer; a key left
    out must be fetched, and without a FHIR server to fetch it from the call fails with 412.
    """
    given = dict(call.prefetch or {})
    missing = [key for key in PREFETCH if key not in given]
    if not missing:
        return given
    if not call.fhirServer:
        raise DataUnavailableError(
            f"prefetch {', '.join(missing)} not given and no fhirServer to fetch them from"
        )
    if not call.fhirServer.startswith(("https://", "http://")):
        raise DataUnavailableError("fhirServer is not an http(s) URL")
    token = call.fhirAuthorization.access_token if call.fhirAuthorization else None
    for key in missing:
        try:
            given[key] = _fetch(call.fhirServer, _query(PREFETCH[key], call.context), token)
        except DataUnavailableError:
            raise
        except Exception as error:  # unreachable, refused, not JSON, not FHIR: the data is not had
            reason = getattr(error, "reason", None) or error
            raise DataUnavailableError(
                f"{key} could not be fetched from fhirServer: {reason}"
            ) from None
    return given
