"""Load the registered model and explain cases with it; knows nothing of HTTP."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.model import RiskPipeline, setting_shift, sigmoid
from features.record import CaseRecord
from features.risk import risk_bands
from features.store import use_store
from features.urgent import urgent_reasons

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


class ModelUnavailableError(RuntimeError):
    """No model could be loaded from the configured URI; the message says how to get one."""


@dataclass(frozen=True)
class ModelIdentity:
    """Which model produced a prediction."""

    name: str | None
    version: str | None
    alias: str | None
    run_id: str | None
    uri: str

    def as_response(self) -> dict[str, str | None]:
        """The ``model`` object of a prediction response."""
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score, with what is known of its training run."""

    pipeline: RiskPipeline
    identity: ModelIdentity
    metrics: dict[str, float]
    params: dict[str, str]
    loaded_at: str

    @property
    def train_prevalence(self) -> float:
        """The prevalence the model's probabilities are calibrated to."""
        return float(self.pipeline[-1].train_prevalence_)


def load_model(uri: str, tracking_uri: str, threads: int = 0) -> LoadedModel:
    """Resolve ``uri`` (``models:/name@alias``, ``models:/name/version``, ``runs:/…``); load it.

    ``threads`` > 0 caps the booster's threads: one row gains nothing from a second thread, and on
    a busy machine waiting for one costs more than the work (README.md, "Performance").
    """
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name = version = alias = run_id = None
    load_uri = uri
    try:
        if match := _ALIAS_URI.match(uri):
            name, alias = match["name"], match["alias"]
            found = client.get_model_version_by_alias(name, alias)
            version, run_id = str(found.version), found.run_id
            load_uri = f"models:/{name}/{version}"  # pin it: the alias may move while we load
        elif match := _VERSION_URI.match(uri):
            name, version = match["name"], match["version"]
            run_id = client.get_model_version(name, version).run_id
        use_store(tracking_uri)
        pipeline = mlflow.sklearn.load_model(load_uri)
    except MlflowException as error:
        raise ModelUnavailableError(
            f"no model at {uri} ({error.message.splitlines()[0]}); train and register one with "
            "`redflag train`, or point REDFLAG_MODEL_URI / MLFLOW_TRACKING_URI at a store with one"
        ) from None
    except Exception as error:  # a missing, corrupt or foreign artifact fails in many ways
        first_line = (str(error).splitlines() or [""])[0][:300]
        raise ModelUnavailableError(
            f"cannot load {uri}: {type(error).__name__}: {first_line}"
        ) from None
    if not isinstance(pipeline, RiskPipeline):
        raise ModelUnavailableError(f"{uri} is not a redflag model (got {type(pipeline).__name__})")
    booster = getattr(pipeline[-1], "booster_", None)  # the linear and rule baselines have none
    if threads > 0 and booster is not None:
        booster.set_param({"nthread": threads})
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}
    if run_id:
        try:
            run = client.get_run(run_id)
            metrics, params = dict(run.data.metrics), dict(run.data.params)
        except MlflowException:
            pass  # the run may live in another store; identity and scoring still work
    return LoadedModel(
        pipeline=pipeline,
        identity=ModelIdentity(name, version, alias, run_id, uri),
        metrics=metrics,
        params=params,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def resolve_version(uri: str, tracking_uri: str) -> str | None:
    """The registry version an alias URI points at now; None for a URI that cannot move."""
    match = _ALIAS_URI.match(uri)
    if match is None:
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        return str(client.get_model_version_by_alias(match["name"], match["alias"]).version)
    except MlflowException as error:
        raise ModelUnavailableError(
            f"cannot resolve {uri} ({error.message.splitlines()[0]})"
        ) from None


def is_movable(uri: str) -> bool:
    """True for ``models:/name@alias``: the alias can move to another version."""
    return _ALIAS_URI.match(uri) is not None


def _value(x: float) -> float | int | None:
    if x != x:
        return None
    return int(x) if x.is_integer() else round(x, 6)


# Read once from the catalogue: per-request code indexes plain tuples, not dataclasses.
_LABELS = tuple(flag.label for flag in RED_FLAGS)
_INPUTS = tuple(flag.inputs for flag in RED_FLAGS)


def explain_cases(
    model: LoadedModel,
    cases: Sequence[CaseRecord],
    thresholds: tuple[float, float],
    setting: str | None = None,
) -> list[dict[str, Any]]:
    """Probability, risk band, urgent flag and explanation for each case, in order.

    With ``setting``, the log-odds are shifted from the training prevalence to that setting's, and
    the explanation's base value with them, so ``sigmoid(base + sum) == probability`` still holds.
    The whole list is scored in one call of the booster, then laid out per case.
    """
    if not cases:
        return []
    shift, prevalence = setting_shift(model.train_prevalence, setting)
    records = [case.model_dump() for case in cases]
    features, classifier = model.pipeline[0], model.pipeline[-1]
    matrix = features.transform(records)
    base, contributions = classifier.explain(matrix)
    log_odds = classifier.decision_function(matrix)
    scored = sigmoid(log_odds + shift)
    probabilities, bands = scored.tolist(), risk_bands(scored, thresholds).tolist()
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable").tolist()
    # Python lists index far faster than numpy scalars in the per-feature loop below.
    values, shares, bases = matrix.tolist(), contributions.tolist(), (base + shift).tolist()
    identity = model.identity.as_response()
    reasons_of = urgent_reasons(records)  # the safety rules, once for the whole list
    results = []
    for i, record in enumerate(records):
        probability, row, share = probabilities[i], values[i], shares[i]
        reasons = list(reasons_of[i])
        results.append(
            {
                "probability": probability,
                "risk_band": bands[i],
                "urgent": {"flag": bool(reasons), "reasons": reasons},
                "explanation": {
                    "space": "log_odds",
                    "base_value": bases[i],
                    "contributions": [
                        {
                            "feature": FEATURE_NAMES[j],
                            "label": _LABELS[j],
                            "value": _value(row[j]),
                            "inputs": {name: record[name] for name in _INPUTS[j]},
                            "contribution": share[j],
                        }
                        for j in order[i]
                    ],
                },
                "setting": setting,
                "prevalence": prevalence,
                "model": identity,
            }
        )
    return results
