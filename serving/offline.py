"""Scoring without HTTP: the JSON the API would answer, for ``redflag predict``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import TypeAdapter, ValidationError

from features.loader import LoadedModel
from features.record import CaseRecord
from serving.config import DEFAULT_NEXT_QUESTIONS
from serving.errors import field_errors
from serving.responses import explain_cases

_CASES = TypeAdapter(list[CaseRecord])


class CaseInputError(ValueError):
    """Input that is not a case or a list of cases; the message names the field."""


def parse_cases(text: str) -> tuple[list[CaseRecord], bool]:
    """(cases, is_batch) from JSON text: one case object, or a list of them."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CaseInputError(
            f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    if isinstance(data, dict):
        try:
            return [CaseRecord.model_validate(data)], False
        except ValidationError as error:
            raise CaseInputError(_describe(error.errors(), ())) from None
    if isinstance(data, list):
        if not data:
            raise CaseInputError("the list of cases is empty")
        try:
            return _CASES.validate_python(data), True
        except ValidationError as error:
            raise CaseInputError(_describe(error.errors(), ("cases",))) from None
    raise CaseInputError(f"expected a case object or a list of cases, got {type(data).__name__}")


def _describe(errors: list[Any], prefix: tuple[str, ...]) -> str:
    located = [{**error, "loc": (*prefix, *error.get("loc", ()))} for error in errors]
    problems = field_errors(located)
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first['field']}: {first['reason']}{more}"


def predict_offline(
    model: LoadedModel,
    cases: list[CaseRecord],
    batch: bool,
    thresholds: tuple[float, float],
    setting: str | None = None,
    next_questions: int = DEFAULT_NEXT_QUESTIONS,
) -> dict[str, Any]:
    """The body ``POST /v1/predict`` (one case) or ``/v1/predict/batch`` (a list) would return."""
    request_id = uuid.uuid4().hex
    results = [
        {"request_id": request_id, **result}
        for result in explain_cases(model, cases, thresholds, setting, next_questions)
    ]
    if not batch:
        return results[0]
    return {"request_id": request_id, "count": len(results), "results": results}
