"""The embedded store's registry read directly, so that serving starts without importing MLflow.

Importing MLflow and opening its sqlite store (SQLAlchemy, the schema check) took 3.3 s of a
6 s start-up and ~90 MB of the service's memory (docs/performance.md). For the embedded
``sqlite:///`` store with ``file:`` artifacts this module reads the same registry tables (the
alias, the model version, the run's metrics, params and tags) with the standard library and
unpickles the model from its artifact directory as ``mlflow.sklearn.load_model`` does.

Every function answers None when the fast path does not apply (another kind of store, a name
or alias not found, a schema or artifact it does not recognise); the caller then asks MLflow,
which also words the error. The registry is only read here; MLflow stays its one writer.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from features.store import sqlite_database

# MLflow's own default workspace; a store used with another one is read through MLflow.
_WORKSPACE = "default"
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class VersionRecord:
    """One registered model version as the registry holds it."""

    version: str
    run_id: str | None
    storage_location: str


def _database(tracking_uri: str) -> Path | None:
    """The sqlite file to read, or None when this store must be read through MLflow."""
    if os.environ.get("MLFLOW_WORKSPACE") or os.environ.get("MLFLOW_REGISTRY_URI"):
        return None
    database = sqlite_database(tracking_uri)
    return database if database is not None and database.is_file() else None


def _query(tracking_uri: str, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]] | None:
    """Rows of ``sql`` on the store's database (read-only); None when it cannot be read."""
    database = _database(tracking_uri)
    if database is None:
        return None
    try:
        with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql, args).fetchall()
    except sqlite3.Error:
        return None  # a schema this reader does not know: MLflow reads it


def alias_version(tracking_uri: str, name: str, alias: str) -> VersionRecord | None:
    """The version ``name@alias`` points at now, or None (not found, or not readable here)."""
    rows = _query(
        tracking_uri,
        "SELECT v.version, v.run_id, v.storage_location FROM registered_model_aliases a "
        "JOIN model_versions v ON v.name = a.name AND v.version = a.version "
        "AND v.workspace = a.workspace "
        "WHERE a.name = ? AND a.alias = ? AND a.workspace = ? AND v.status = 'READY'",
        (name, alias, _WORKSPACE),
    )
    return _version(rows)


def model_version(tracking_uri: str, name: str, version: str) -> VersionRecord | None:
    """Version ``version`` of ``name``, or None (not found, or not readable here)."""
    rows = _query(
        tracking_uri,
        "SELECT version, run_id, storage_location FROM model_versions "
        "WHERE name = ? AND version = ? AND workspace = ? AND status = 'READY'",
        (name, int(version), _WORKSPACE),
    )
    return _version(rows)


def _version(rows: list[tuple[Any, ...]] | None) -> VersionRecord | None:
    if not rows or not rows[0][2]:
        return None
    version, run_id, location = rows[0]
    return VersionRecord(str(version), run_id or None, str(location))


def run_record(
    tracking_uri: str, run_id: str
) -> tuple[dict[str, float], dict[str, str], dict[str, str]] | None:
    """(latest metrics, params, tags) of run ``run_id``; None when not readable here."""
    rows = _query(
        tracking_uri,
        "SELECT 'metric', key, value FROM latest_metrics WHERE run_uuid = ? "
        "UNION ALL SELECT 'param', key, value FROM params WHERE run_uuid = ? "
        "UNION ALL SELECT 'tag', key, value FROM tags WHERE run_uuid = ?",
        (run_id, run_id, run_id),
    )
    if rows is None:
        return None
    metrics = {key: float(value) for kind, key, value in rows if kind == "metric"}
    params = {key: str(value) for kind, key, value in rows if kind == "param"}
    tags = {key: str(value) for kind, key, value in rows if kind == "tag"}
    return metrics, params, tags


def run_artifact(tracking_uri: str, run_id: str, name: str) -> str | None:
    """The text of artifact ``name`` of run ``run_id``; None when not readable here."""
    rows = _query(tracking_uri, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", (run_id,))
    folder = _local_folder(rows[0][0]) if rows else None
    if folder is None:
        return None
    try:
        return (folder / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _local_folder(uri: str | None) -> Path | None:
    """The directory a ``file:`` artifact URI names, when it is one on this machine."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme not in ("file", "") or parsed.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parsed.path))
    return path if path.is_dir() else None


def load_sklearn(storage_location: str) -> Any | None:
    """Unpickle the sklearn flavour of the model stored at ``storage_location``, as MLflow does.

    None when the artifact is not a local pickle this reader knows; MLflow then loads it (and
    refuses it, when ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` says so).
    """
    if os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").strip().lower() in _FALSE:
        return None
    folder = _local_folder(storage_location)
    flavor = _sklearn_flavor(folder) if folder is not None else None
    if folder is None or flavor is None:
        return None
    fmt = flavor.get("serialization_format", "pickle")
    pickled = flavor.get("pickled_model")
    if fmt not in ("pickle", "cloudpickle") or not isinstance(pickled, str) or flavor.get("code"):
        return None
    with (folder / pickled).open("rb") as file:
        if fmt == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(file)
        return pickle.load(file)


def _sklearn_flavor(folder: Path) -> dict[str, Any] | None:
    import yaml

    try:
        text = (folder / "MLmodel").read_text(encoding="utf-8")
        flavor = yaml.safe_load(text).get("flavors", {}).get("sklearn")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return None
    return flavor if isinstance(flavor, dict) else None
