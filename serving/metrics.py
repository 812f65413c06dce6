"""Prometheus metrics of one app, in a registry of its own so that apps (and tests) never clash."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from features.loader import LoadedModel

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric the service exposes on ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "redflag_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "redflag_http_request_duration_seconds",
            "Time from request start to the end of the response, by route template and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "redflag_predictions",
            "Cases scored, by risk band and setting applied ('none': training prevalence).",
            ["risk_band", "setting"],
            registry=r,
        )
        self.urgent = Counter(
            "redflag_urgent_flags", "Cases flagged urgent by the emergency rules.", registry=r
        )
        # What a graceful stop waits for; a load balancer's drain can be watched on it.
        self.in_flight = Gauge(
            "redflag_http_requests_in_flight", "HTTP requests being answered now.", registry=r
        )
        self.batch_cases = Histogram(
            "redflag_batch_cases",
            "Cases per batch request.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.model_info = Gauge(
            "redflag_model_info",
            "The model version being served (value 1).",
            ["name", "version", "alias", "run_id"],
            registry=r,
        )
        self.model_loaded = Gauge(
            "redflag_model_loaded", "1 while a model is loaded and can score.", registry=r
        )
        self.reloads = Counter(
            "redflag_model_reloads", "Models loaded and swapped in after start-up.", registry=r
        )
        self.reload_failures = Counter(
            "redflag_model_reload_failures",
            "Attempts to load a model that failed (the previous one kept serving).",
            registry=r,
        )
        self.audit_failures = Counter(
            "redflag_audit_write_failures",
            "Prediction audit records that could not be written.",
            registry=r,
        )
        self.cds_cards = Counter(
            "redflag_cds_cards",
            "CDS Hooks cards returned, by indicator ('unavailable': the failure card).",
            ["indicator"],
            registry=r,
        )
        self.cds_feedback = Counter(
            "redflag_cds_feedback",
            "CDS Hooks feedback on cards, by outcome and override reason code ('none', 'other').",
            ["outcome", "reason"],
            registry=r,
        )
        self.cds_refusals = Counter(
            "redflag_cds_auth_refusals",
            "CDS client tokens refused, by reason (alg, iss, aud, expired, replay, ...).",
            ["reason"],
            registry=r,
        )

    def served(self, model: LoadedModel) -> None:
        """Name ``model`` as the one served, replacing the previous one."""
        identity = model.identity
        self.model_info.clear()
        self.model_info.labels(
            identity.name or "", identity.version or "", identity.alias or "", identity.run_id or ""
        ).set(1)
        self.model_loaded.set(1)
