"""The online drift window: engineered values and log-odds of the last cases scored, compared
with the served model's reference profile (``features.drift``), and per-feature counters.

It holds no identifier and no raw case: one row of engineered red-flag values and the predicted
log-odds (at the model's own prevalence) per case, in a ring buffer of fixed size. The counters
(present / absent / not recorded; reference bins for numbers) are Prometheus counters, so a fleet
of replicas is summed in Prometheus; the window and its tests are per process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from features.catalogue import FEATURE_NAMES
from features.drift import compare_with_profile, load_profile, reference_shares, value_counts
from features.loader import LoadedModel
from features.log_odds import logit
from features.scoring import Scores

FloatArray = npt.NDArray[np.float64]
# Counted in blocks: a request only copies its rows; the counting is vectorised over many.
_COUNT_EVERY = 256


class DriftMonitor(Collector):
    """A bounded window of the last ``capacity`` cases scored by one model, and its counters."""

    def __init__(self, capacity: int, min_cases: int, tracking_uri: str) -> None:
        self.capacity, self.min_cases, self.tracking_uri = capacity, min_cases, tracking_uri
        self._lock = threading.Lock()
        self._profiles: dict[str, dict[str, Any] | None] = {}
        self._run_id: str | None = None
        self._rows = np.empty((capacity, len(FEATURE_NAMES) + 1), dtype=np.float64)
        self._seen = 0  # cases added since the window was last reset
        self._counted = 0
        self._counts: dict[tuple[str, str], int] = {}

    def prepare(self, model: LoadedModel) -> None:
        """Read ``model``'s reference profile (while it loads, off the request path)."""
        run_id = model.identity.run_id or ""
        if run_id not in self._profiles:
            self._profiles[run_id] = load_profile(run_id, self.tracking_uri)

    def profile(self, model: LoadedModel) -> dict[str, Any] | None:
        """The reference profile of ``model``; None when it has none."""
        return self._profiles.get(model.identity.run_id or "")

    def observe(self, model: LoadedModel, scores: Scores) -> None:
        """Add the cases of ``scores`` (scored by ``model``, at any setting) to the window."""
        if self.profile(model) is None:
            return
        # Back to the model's own prevalence: a setting or site shift is not drift.
        shift = logit(scores.prevalence) - logit(model.train_prevalence)
        log_odds = logit(np.clip(scores.probability, 1e-15, 1 - 1e-15)) - shift
        rows = np.column_stack([scores.values, log_odds])[-self.capacity :]
        with self._lock:
            if model.identity.run_id != self._run_id:  # a new model: a new reference
                self._count_pending()
                self._run_id, self._seen, self._counted = model.identity.run_id, 0, 0
            start = self._seen % self.capacity
            first = min(len(rows), self.capacity - start)
            self._rows[start : start + first] = rows[:first]
            self._rows[: len(rows) - first] = rows[first:]
            self._seen += len(rows)
            if self._seen - self._counted >= _COUNT_EVERY:
                self._count_pending()

    def _window(self) -> FloatArray:
        return self._rows[: min(self._seen, self.capacity)]

    def _count_pending(self) -> None:
        """Add the rows not yet counted to the counters (lock held)."""
        profile = self._profiles.get(self._run_id or "")
        pending = min(self._seen - self._counted, self.capacity)
        if profile is None or pending <= 0:
            self._counted = self._seen
            return
        indices = np.arange(self._seen - pending, self._seen) % self.capacity
        block = self._rows[indices]
        for j, feature in enumerate([*profile["features"], profile["score"]]):
            for value, count in value_counts(feature, block[:, j]).items():
                key = (feature["name"], value)
                self._counts[key] = self._counts.get(key, 0) + count
        self._counted = self._seen

    def report(self, model: LoadedModel) -> dict[str, Any]:
        """The drift of the window against ``model``'s reference (the body of the endpoint)."""
        profile = self.profile(model)
        identity = model.identity.as_response()
        if profile is None:
            return {
                "status": "no_reference",
                "model": identity,
                "window": 0,
                "drift": False,
                "detail": "this model was registered without a drift reference profile "
                "(models trained before profiles were logged have none); retrain or "
                "recalibrate it to get one",
            }
        with self._lock:
            same = model.identity.run_id == self._run_id
            window = self._window().copy() if same else np.empty((0, len(FEATURE_NAMES) + 1))
        report = compare_with_profile(
            profile, window[:, :-1], window[:, -1], min_cases=self.min_cases
        )
        return {**report, "model": identity, "capacity": self.capacity}

    def collect(self) -> Iterator[Any]:
        """Prometheus: cases per feature and value, and the reference's share of each value."""
        with self._lock:
            self._count_pending()
            counts = dict(self._counts)
            profile = self._profiles.get(self._run_id or "")
        values = CounterMetricFamily(
            "redflag_feature_values",
            "Cases scored per engineered feature and value (present, absent, not_recorded; "
            "reference bins for numbers).",
            labels=["feature", "value"],
        )
        for (feature, value), count in sorted(counts.items()):
            values.add_metric([feature, value], count)
        yield values
        shares = GaugeMetricFamily(
            "redflag_feature_reference_share",
            "Share of the served model's training cases per feature and value.",
            labels=["feature", "value"],
        )
        for feature in [*profile["features"], profile["score"]] if profile else []:
            for value, share in reference_shares(feature).items():
                shares.add_metric([feature["name"], value], share)
        yield shares
