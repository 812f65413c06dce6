"""The MLflow store and registry: experiments, what a run records, the logged model, aliases."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import AnyType, ColSpec, Schema, TensorSpec

from features import FIELD_KINDS, LABEL, REQUIRED_FIELDS
from features.model import RiskPipeline
from features.store import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    local_artifact_root,
    sqlite_database,
    use_store,
)
from features.store import tracking_uri as resolve_tracking_uri
from training.evaluation.external import ExternalValidity
from training.evaluation.metrics import Evaluation
from training.timing import timed

# Distributions whose versions decide the numbers a run produces (recorded as a tag).
RECORDED_PACKAGES = ("numpy", "pandas", "scikit-learn", "xgboost-cpu", "xgboost", "shap", "mlflow")
# MLflow infers a dataset's schema by visiting every value in Python (~10 s for 200k cases).
SCHEMA_SAMPLE = 5_000


@timed("connect")
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


# Which process, on which machine, is writing a run: a run left RUNNING by a process that is gone
# (killed, out of memory, machine restarted) is marked FAILED by the next training.
PID_TAG = "redflag.pid"
HOST_TAG = "redflag.host"
PARENT_TAG = "mlflow.parentRunId"


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the writer of the run it starts."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def fail_abandoned_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark FAILED the runs left RUNNING by a training process of this machine that is gone.

    Their nested trial runs too. Runs of other machines are left alone: their processes cannot be
    seen from here. Returns the run ids marked.
    """
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    host = socket.gethostname()
    abandoned = {
        run.info.run_id
        for run in running
        if run.data.tags.get(HOST_TAG) == host
        and run.data.tags.get(PID_TAG, "").isdigit()
        and not _process_alive(int(run.data.tags[PID_TAG]))
    }
    abandoned |= {run.info.run_id for run in running if run.data.tags.get(PARENT_TAG) in abandoned}
    for run_id in sorted(abandoned):
        client.set_tag(run_id, "redflag.failure", "the training process ended before the run did")
        client.set_terminated(run_id, status="FAILED")
    return sorted(abandoned)


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


# --- what a run records -----------------------------------------------------------------------


def input_signature() -> ModelSignature:
    """Every case field by name, optional except ``age``: a record may leave any field out.

    Column types are ``Any``: MLflow's typed columns refuse a boolean or integer column with a
    missing value ("cannot safely convert float64 to bool"); the pipeline's own transformer checks
    and converts each field's type instead.
    """
    inputs = Schema(
        [
            ColSpec(AnyType(), name, required=name in REQUIRED_FIELDS)  # type: ignore[no-untyped-call]
            for name in FIELD_KINDS
        ]
    )
    # predict_proba: column 1 is the calibrated probability of malignancy, as the API reports it.
    outputs = Schema([TensorSpec(np.dtype(np.float64), (-1, 2))])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(cases: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """A few real cases, as plain Python values with missing fields left out of each column."""
    sample = cases[[name for name in FIELD_KINDS if name in cases]].head(n)
    return sample.astype(object).where(sample.notna(), None)


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model (inferring them spawns a slow subprocess)."""
    wanted = ["numpy", "pandas", "scikit-learn", "cloudpickle", "mlflow", "pydantic"]
    xgb_dist = "xgboost-cpu"
    try:
        importlib.metadata.version(xgb_dist)
    except importlib.metadata.PackageNotFoundError:
        xgb_dist = "xgboost"
    return [f"{name}=={importlib.metadata.version(name)}" for name in [*wanted, xgb_dist]]


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that decide a run's numbers."""
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=True)
    return out.stdout.strip()


def git_commit() -> str:
    """The commit of the working tree, or 'unknown' outside a git checkout."""
    try:
        commit = _git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    try:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return f"{commit}-dirty" if dirty else commit


@timed("dataset")
def training_dataset(cases: pd.DataFrame, name: str) -> Any:
    """The MLflow dataset of the cohort, its schema inferred from a sample of rows.

    The digest still covers the whole cohort as MLflow computes it.
    """
    from mlflow.models.signature import infer_signature

    dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
        cases, name=name, targets=LABEL, digest=pandas_digest(cases)
    )
    vars(dataset)["schema"] = infer_signature(cases.head(SCHEMA_SAMPLE)).inputs
    return dataset


def pandas_digest(cases: pd.DataFrame) -> str:
    """MLflow's digest of a DataFrame (``compute_pandas_digest``), without its Python call per
    cell: it keeps the columns whose every value is a ``str``, found here from the dtypes (10 s
    at a million cases before)."""
    from mlflow.data.digest_utils import MAX_ROWS, get_normalized_md5_digest

    trimmed = cases.head(MAX_ROWS)
    strings = [name for name in cases.columns if _all_strings(cases[name])]
    numbers = trimmed.select_dtypes(include=[np.number]).columns
    trimmed = trimmed[pd.Index(strings).union(numbers)]
    return str(
        get_normalized_md5_digest(
            [pd.util.hash_pandas_object(trimmed).values, np.int64(len(cases))]
            + [str(x).encode() for x in cases.columns]
        )
    )


def _all_strings(column: pd.Series) -> bool:
    """Whether every value of ``column`` is a ``str`` (as ``type(value) == str`` sees it)."""
    if isinstance(column.dtype, pd.StringDtype):
        return not column.isna().any()
    if column.dtype == object:
        return bool(column.map(lambda value: type(value) is str).all())
    return False


def _metric_key(name: str) -> str:
    """An MLflow-safe metric name ('80+' becomes '80plus')."""
    return re.sub(r"[^A-Za-z0-9_.\-/ ]", "_", name.replace("+", "plus"))


def evaluation_metrics(
    evaluation: Evaluation, external: ExternalValidity | None = None
) -> dict[str, float]:
    """The run's MLflow metrics: ``test_*`` overall and ``test_<metric>__<variable>_<group>``,
    and the external cohort's ``external_*`` when it was scored.

    Undefined values (an AUROC with one class, a PPV with nobody flagged) are left out here; they
    are null in ``evaluation.json``.
    """
    metrics = {f"test_{k}": v for k, v in evaluation.metrics.items()}
    for row in evaluation.subgroups:
        for name in ("auroc", "calibration_intercept", "calibration_slope"):
            value = row[name]
            if value is not None:
                key = _metric_key(f"test_{name}__{row['variable']}_{row['group']}")
                metrics[key] = float(value)
    if external is not None:
        metrics |= external.metrics()
    return {k: v for k, v in metrics.items() if math.isfinite(v)}


@dataclass(frozen=True)
class RunReport:
    """The human-readable artifacts of a run: plots, the evaluation table, the model card."""

    plots: list[Path]
    evaluation: Evaluation
    model_card: str
    cohort_report: str


@timed("log_report")
def log_run_report(report: RunReport, directory: Path) -> None:
    """Write the report's files into ``directory`` and log them as the active run's artifacts."""
    for plot in report.plots:
        mlflow.log_artifact(str(plot), artifact_path="plots")
    files = {
        "evaluation.json": json.dumps(report.evaluation.as_json(), indent=2, allow_nan=False),
        "model_card.md": report.model_card,
        "cohort_report.txt": report.cohort_report,
    }
    for name, text in files.items():
        (directory / name).write_text(text)
        mlflow.log_artifact(str(directory / name))


@timed("log_model")
def log_model(pipeline: RiskPipeline, example_cases: pd.DataFrame) -> Any:
    """Log and register ``pipeline`` as the run's model; MLflow's ``ModelInfo``."""
    return mlflow.sklearn.log_model(
        pipeline,
        name="model",
        serialization_format="cloudpickle",
        signature=input_signature(),
        input_example=input_example(example_cases),
        pip_requirements=pip_requirements(),
        pyfunc_predict_fn="predict_proba",
        registered_model_name=MODEL_NAME,
    )


def log_stage_times(run_id: str, times: dict[str, float]) -> None:
    """Log a run's stage times (``training.timing``) as its ``time_<stage>_s`` metrics."""
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    metrics = [Metric(f"time_{stage}_s", round(s, 3), stamp, 0) for stage, s in times.items()]
    MlflowClient().log_batch(run_id, metrics=metrics)
