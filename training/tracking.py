"""The MLflow store and model registry: experiments, registration and aliases."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from features.store import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    local_artifact_root,
    sqlite_database,
    use_store,
)
from features.store import tracking_uri as resolve_tracking_uri


def connect() -> MlflowClient:
    """Point MLflow at the configured store (creating the embedded one if needed)."""
    uri = resolve_tracking_uri()
    database = sqlite_database(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    use_store(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The id of experiment ``name``, created (with artifacts under ``mlruns/``) when missing."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise ValueError(
                f"experiment '{name}' is deleted; restore it or pick another --experiment"
            )
        return str(experiment.experiment_id)
    root = local_artifact_root(client.tracking_uri)
    artifact_location = (root / name).as_uri() if root is not None else None
    return str(client.create_experiment(name, artifact_location=artifact_location))


def version_by_alias(
    client: MlflowClient, alias: str, name: str = MODEL_NAME
) -> ModelVersion | None:
    """The model version holding ``alias``, or None when the model or alias does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def assign_new_version_alias(client: MlflowClient, version: str, name: str = MODEL_NAME) -> str:
    """``champion`` for the first model registered, ``challenger`` after that."""
    alias = CHALLENGER if version_by_alias(client, CHAMPION, name) is not None else CHAMPION
    client.set_registered_model_alias(name, alias, version)
    return alias
