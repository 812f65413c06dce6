"""The one loader of a registered model: serving, compare, promote and batch scoring call it.

It lives in ``features`` because serving must load models without importing training, and the
pipeline it unpickles is made of ``features`` classes anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from features import registry
from features.model import RiskPipeline
from features.store import use_store

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_RUN_URI = re.compile(r"^runs:/(?P<run_id>[^/]+)/")


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
    tags: dict[str, str]
    loaded_at: str

    @property
    def train_prevalence(self) -> float:
        """The prevalence the model's probabilities are calibrated to."""
        return float(self.pipeline[-1].train_prevalence_)

    @property
    def kind(self) -> str:
        """Which model family the run trained (xgboost, logistic, deyo-rule, red-flag-count)."""
        return self.tags.get("model", self.params.get("model", "xgboost"))


def load_model(uri: str, tracking_uri: str, threads: int = 0) -> LoadedModel:
    """Resolve ``uri`` (``models:/name@alias``, ``models:/name/version``, ``runs:/id/model``); load.

    ``threads`` > 0 caps the booster's threads: one row gains nothing from a second thread, and on
    a busy machine waiting for one costs more than the work (docs/performance.md). The embedded
    store is read without MLflow where it can be (``features.registry``); MLflow reads the rest.
    """
    loaded = _load_directly(uri, tracking_uri)
    if loaded is None:
        loaded = _load_through_mlflow(uri, tracking_uri)
    pipeline, identity, (metrics, params, tags) = loaded
    if threads > 0:
        _cap_threads(pipeline, threads)
    return LoadedModel(
        pipeline=pipeline,
        identity=identity,
        metrics=metrics,
        params=params,
        tags=tags,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


_RunRecord = tuple[dict[str, float], dict[str, str], dict[str, str]]
_Loaded = tuple[RiskPipeline, ModelIdentity, _RunRecord]


def _load_directly(uri: str, tracking_uri: str) -> _Loaded | None:
    """A registry URI loaded from the embedded store without MLflow; None where that cannot be."""
    if match := _ALIAS_URI.match(uri):
        name, alias = match["name"], match["alias"]
        found = registry.alias_version(tracking_uri, name, alias)
    elif match := _VERSION_URI.match(uri):
        name, alias = match["name"], None
        found = registry.model_version(tracking_uri, name, match["version"])
    else:
        return None
    if found is None or found.run_id is None:
        return None
    record = registry.run_record(tracking_uri, found.run_id)
    try:
        pipeline = registry.load_sklearn(found.storage_location)
    except Exception:  # a corrupt artifact: MLflow's load words the error the same way as ever
        return None
    if record is None or not isinstance(pipeline, RiskPipeline):
        return None
    return pipeline, ModelIdentity(name, found.version, alias, found.run_id, uri), record


def _load_through_mlflow(uri: str, tracking_uri: str) -> _Loaded:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name, version, alias, run_id, load_uri = _resolve(client, uri)
    pipeline = _load_pipeline(uri, load_uri, tracking_uri)
    identity = ModelIdentity(name, version, alias, run_id, uri)
    return pipeline, identity, _run_record(client, run_id)


def _cap_threads(pipeline: RiskPipeline, threads: int) -> None:
    """Cap the booster threads of the model and of its interval's members."""
    interval = pipeline.interval
    steps = [pipeline[-1], *(interval.members if interval is not None else [])]
    for step in steps:
        booster = getattr(step, "booster_", None)  # the linear and rule baselines have none
        if booster is not None:
            booster.set_param({"nthread": threads})


def _resolve(client: Any, uri: str) -> tuple[str | None, str | None, str | None, str | None, str]:
    """(name, version, alias, run id, URI to load) of ``uri``; an alias is pinned to its version."""
    from mlflow.exceptions import MlflowException

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
        elif match := _RUN_URI.match(uri):
            run_id = match["run_id"]
            client.get_run(run_id)
    except MlflowException as error:
        raise _unavailable(uri, error) from None
    return name, version, alias, run_id, load_uri


def _load_pipeline(uri: str, load_uri: str, tracking_uri: str) -> RiskPipeline:
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    try:
        use_store(tracking_uri)
        pipeline = mlflow.sklearn.load_model(load_uri)
    except MlflowException as error:
        raise _unavailable(uri, error) from None
    except Exception as error:  # a missing, corrupt or foreign artifact fails in many ways
        first_line = (str(error).splitlines() or [""])[0][:300]
        raise ModelUnavailableError(
            f"cannot load {uri}: {type(error).__name__}: {first_line}"
        ) from None
    if not isinstance(pipeline, RiskPipeline):
        raise ModelUnavailableError(f"{uri} is not a redflag model (got {type(pipeline).__name__})")
    return pipeline


def _unavailable(uri: str, error: Any) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"no model at {uri} ({error.message.splitlines()[0]}); train and register one with "
        "`redflag train`, or point REDFLAG_MODEL_URI / MLFLOW_TRACKING_URI at a store with one"
    )


def _run_record(client: Any, run_id: str | None) -> _RunRecord:
    """(metrics, params, tags) of the training run; empty when it cannot be read."""
    from mlflow.exceptions import MlflowException

    if not run_id:
        return {}, {}, {}
    try:
        data = client.get_run(run_id).data
    except MlflowException:
        return {}, {}, {}  # the run may live in another store; identity and scoring still work
    return dict(data.metrics), dict(data.params), dict(data.tags)


def resolve_version(uri: str, tracking_uri: str) -> str | None:
    """The registry version an alias URI points at now; None for a URI that cannot move."""
    match = _ALIAS_URI.match(uri)
    if match is None:
        return None
    found = registry.alias_version(tracking_uri, match["name"], match["alias"])
    if found is not None:
        return found.version
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
