"""The optional prediction audit log: one JSON line per case scored, never the case itself."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.record import CaseRecord
from serving.metrics import Metrics

log = logging.getLogger("redflag.audit")

# One failing disk under load would otherwise write an error line per request.
_FAILURE_LOG_INTERVAL_S = 60.0


def case_digest(case: CaseRecord) -> str:
    """SHA-256 of the case's canonical JSON (every field, keys sorted, no spaces).

    A field left out and a field sent as null are the same case, so they hash the same.
    """
    canonical = json.dumps(
        case.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """Appends audit records to ``path``; a failure is counted and logged, never raised."""

    def __init__(self, path: Path, metrics: Metrics) -> None:
        self.path = path
        self._metrics = metrics
        self._lock = threading.Lock()
        self._last_failure_log = -_FAILURE_LOG_INTERVAL_S

    def record(
        self,
        cases: Sequence[CaseRecord],
        results: Sequence[dict[str, Any]],
        request_id: str,
        key_id: str | None,
    ) -> bool:
        """Write one line per case; True when written."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = []
        for index, (case, result) in enumerate(zip(cases, results, strict=True)):
            entry = {
                "timestamp": now,
                "request_id": request_id,
                "index": index,
                "key_id": key_id,
                "model_version": result["model"]["version"],
                "model_name": result["model"]["name"],
                "setting": result["setting"],
                "probability": result["probability"],
                "risk_band": result["risk_band"],
                "urgent": result["urgent"]["flag"],
                "case_sha256": case_digest(case),
            }
            lines.append(json.dumps(entry, separators=(",", ":")))
        return self._append("\n".join(lines) + "\n", len(lines))

    def record_event(self, kind: str, entries: Sequence[dict[str, Any]]) -> bool:
        """Write one line per entry of an event ``kind`` (e.g. CDS feedback); True when written."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = [
            json.dumps({"timestamp": now, "event": kind, **entry}, separators=(",", ":"))
            for entry in entries
        ]
        return self._append("\n".join(lines) + "\n", len(lines)) if lines else True

    def _append(self, text: str, count: int) -> bool:
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write(text)
            return True
        except OSError as error:
            self._metrics.audit_failures.inc(count)
            now_s = time.monotonic()
            if now_s - self._last_failure_log >= _FAILURE_LOG_INTERVAL_S:
                self._last_failure_log = now_s
                log.error(
                    "audit log %s cannot be written (%s); predictions continue unaudited",
                    self.path,
                    error.strerror or type(error).__name__,
                )
            return False
