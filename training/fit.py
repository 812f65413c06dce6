"""Fit the model on a cohort, evaluate it on held-out cases, log it to MLflow and register it."""

from __future__ import annotations

import importlib.metadata
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import AnyType, ColSpec, Schema, TensorSpec
from sklearn.model_selection import train_test_split

from features import FIELD_KINDS, LABEL, REQUIRED_FIELDS
from features.model import (
    SETTING_PREVALENCE,
    CalibratedBoostedClassifier,
    RiskPipeline,
    make_pipeline,
)
from features.store import DEFAULT_EXPERIMENT, MODEL_NAME
from training.evaluate import core_metrics
from training.registry import assign_new_version_alias, connect, ensure_experiment

ProgressFn = Callable[[int, int], None]

MIN_CASES = 1_000
MIN_PER_CLASS = 10


class TrainingError(ValueError):
    """Options or data that training cannot use; the message says what to change."""


@dataclass(frozen=True)
class TrainOptions:
    """What to train on and where to record it."""

    n_cases: int = 200_000
    seed: int = 42
    setting: str = "primary_care"
    experiment: str = DEFAULT_EXPERIMENT
    data: Path | None = None
    label: str = LABEL
    params: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Refuse options that cannot work, before anything is written to the store."""
        if self.data is None and self.n_cases < MIN_CASES:
            raise TrainingError(f"--n-cases must be at least {MIN_CASES}, got {self.n_cases}")
        if self.seed < 0:
            raise TrainingError(f"--seed must be 0 or more, got {self.seed}")
        if self.setting not in SETTING_PREVALENCE:
            known = ", ".join(SETTING_PREVALENCE)
            raise TrainingError(f"--setting must be one of {known}, got '{self.setting}'")
        if not self.experiment.strip():
            raise TrainingError("--experiment must not be empty")


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    run_id: str
    model_uri: str
    version: str
    alias: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class Split:
    """Stratified train / validation / test partition of a cohort."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def split_cases(cases: pd.DataFrame, seed: int) -> Split:
    """60 / 20 / 20, stratified on the label so rare positives land in every part."""
    counts = cases[LABEL].value_counts()
    if len(counts) < 2 or counts.min() < MIN_PER_CLASS:
        raise TrainingError(
            f"need at least {MIN_PER_CLASS} cases of each class to split, "
            f"got {int(counts.get(1, 0))} positive and {int(counts.get(0, 0))} negative"
        )
    rest, test = train_test_split(cases, test_size=0.2, stratify=cases[LABEL], random_state=seed)
    train, validation = train_test_split(
        rest, test_size=0.25, stratify=rest[LABEL], random_state=seed + 1
    )
    return Split(train, validation, test)


def fit_boosted(
    split: Split,
    seed: int,
    params: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> RiskPipeline:
    """The red-flag transformer and a calibrated XGBoost model, early-stopped on validation."""
    pipeline = make_pipeline(CalibratedBoostedClassifier(random_state=seed, **(params or {})))
    features = pipeline.named_steps["features"].fit(split.train)
    pipeline.named_steps["classifier"].fit(
        features.transform(split.train),
        split.train[LABEL].to_numpy(),
        eval_set=(features.transform(split.validation), split.validation[LABEL].to_numpy()),
        progress=progress,
    )
    return pipeline


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


def git_commit() -> str:
    """The commit of the working tree, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_training_cases(options: TrainOptions) -> pd.DataFrame:
    """The user's labelled file when given, else a simulated cohort."""
    if options.data is not None:
        from training.data import load_cases

        cases: pd.DataFrame = load_cases(options.data, label=options.label)
        return cases
    from training.simulate import simulate_cohort

    cohort: pd.DataFrame = simulate_cohort(options.n_cases, options.seed, options.setting)
    return cohort


def train(options: TrainOptions, progress: ProgressFn | None = None) -> TrainResult:
    """Fit, evaluate on the test split, log everything to MLflow and register the model."""
    options.validate()
    cases = load_training_cases(options)
    split = split_cases(cases, options.seed)
    pipeline = fit_boosted(split, options.seed, options.params, progress)
    classifier = pipeline.named_steps["classifier"]
    metrics = core_metrics(split.test[LABEL].to_numpy(), pipeline.predict_risk(split.test))

    client = connect()
    experiment_id = ensure_experiment(client, options.experiment)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
            cases,
            name="simulated" if options.data is None else Path(options.data).name,
            targets=LABEL,
        )
        mlflow.log_input(dataset, context="training")
        mlflow.set_tags(
            {
                "model": "xgboost",
                "git_commit": git_commit(),
                "data_digest": dataset.digest,
                "simulated": str(options.data is None).lower(),
            }
        )
        mlflow.log_params(
            {
                "model": "xgboost",
                "n_cases": len(cases),
                "seed": options.seed,
                "setting": options.setting if options.data is None else "data",
                "data": str(options.data) if options.data else "simulated",
                "data_digest": dataset.digest,
                "best_iteration": classifier.best_iteration_,
                "calibration_slope_fitted": round(classifier.slope_, 6),
                "calibration_intercept_fitted": round(classifier.intercept_, 6),
                "train_prevalence": round(classifier.train_prevalence_, 6),
                **classifier.get_params(),
            }
        )
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            serialization_format="cloudpickle",
            signature=input_signature(),
            input_example=input_example(split.test),
            pip_requirements=pip_requirements(),
            pyfunc_predict_fn="predict_proba",
            registered_model_name=MODEL_NAME,
        )
    version = str(info.registered_model_version)
    alias = assign_new_version_alias(client, version)
    return TrainResult(run.info.run_id, info.model_uri, version, alias, metrics)
