"""Fit the model on a cohort, evaluate it on held-out cases, log it to MLflow and register it."""

from __future__ import annotations

import importlib.metadata
import json
import math
import platform
import re
import subprocess
import tempfile
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
from features.baselines import LogisticRedFlagClassifier, RedFlagScoreClassifier
from features.model import (
    SETTING_PREVALENCE,
    CalibratedBoostedClassifier,
    RiskPipeline,
    make_pipeline,
    sigmoid,
)
from features.store import DEFAULT_EXPERIMENT, MODEL_NAME
from training.defaults import TRAINING_CASES
from training.evaluation.metrics import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_THRESHOLD,
    Evaluation,
    evaluate,
    subgroup_labels,
)
from training.tracking import assign_new_version_alias, connect, ensure_experiment

ProgressFn = Callable[[int, int], None]

MIN_CASES = 1_000
ENGINES = ("local", "dask")
MIN_PER_CLASS = 10
# The models `redflag train --model` fits; the last two are clinical baselines (features/baselines).
MODELS = ("xgboost", "logistic", "deyo-rule", "red-flag-count")
TUNABLE_MODELS = ("xgboost", "logistic")
SCORE_OF_BASELINE = {"deyo-rule": "deyo_rule_positive", "red-flag-count": "red_flag_count"}
# Distributions whose versions decide the numbers a run produces (recorded as a tag).
RECORDED_PACKAGES = ("numpy", "pandas", "scikit-learn", "xgboost-cpu", "xgboost", "shap", "mlflow")


class TrainingError(ValueError):
    """Options or data that training cannot use; the message says what to change."""


@dataclass(frozen=True)
class TrainOptions:
    """What to train on and where to record it."""

    n_cases: int = TRAINING_CASES
    seed: int = 42
    setting: str = "primary_care"
    experiment: str = DEFAULT_EXPERIMENT
    data: Path | None = None
    label: str = LABEL
    params: dict[str, Any] = field(default_factory=dict)
    model: str = "xgboost"
    tune_trials: int = 0
    threshold: float = DEFAULT_THRESHOLD
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    engine: str = "local"
    scheduler: str | None = None

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
        if self.model not in MODELS:
            raise TrainingError(f"--model must be one of {', '.join(MODELS)}, got '{self.model}'")
        if self.tune_trials < 0:
            raise TrainingError(f"--tune must be 0 or more trials, got {self.tune_trials}")
        if self.tune_trials and self.model not in TUNABLE_MODELS:
            raise TrainingError(
                f"--tune applies to {' and '.join(TUNABLE_MODELS)}; '{self.model}' has nothing "
                "to tune beyond its recalibration"
            )
        if not 0 < self.threshold < 1:
            raise TrainingError(f"--threshold must be between 0 and 1, got {self.threshold}")
        if self.n_bootstrap < 10:
            raise TrainingError(f"bootstrap samples must be at least 10, got {self.n_bootstrap}")
        if self.engine not in ENGINES:
            raise TrainingError(
                f"--engine must be one of {', '.join(ENGINES)}, got '{self.engine}'"
            )
        if self.scheduler and self.engine != "dask":
            raise TrainingError("--scheduler needs --engine dask")
        if self.engine == "dask" and (
            self.model != "xgboost" or self.tune_trials or self.data is not None
        ):
            raise TrainingError(
                "--engine dask trains the xgboost model on simulated partitions; "
                "--model, --tune and --data need --engine local"
            )


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    run_id: str
    model_uri: str
    version: str
    alias: str
    metrics: dict[str, float]
    model: str = "xgboost"


@dataclass(frozen=True)
class Split:
    """Stratified train / validation / test partition of a cohort."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    # On a cluster only a sample of the test partitions comes back; these are the true sizes.
    sizes: dict[str, int] | None = None

    def size_of(self) -> dict[str, int]:
        """Cases in each part."""
        if self.sizes is not None:
            return self.sizes
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


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


def make_classifier(model: str, seed: int, params: dict[str, Any] | None = None) -> Any:
    """The final, explainable pipeline step for ``model`` (one of ``MODELS``)."""
    params = dict(params or {})
    if model == "xgboost":
        return CalibratedBoostedClassifier(random_state=seed, **params)
    if model == "logistic":
        return LogisticRedFlagClassifier(**params)
    if model in SCORE_OF_BASELINE:
        if params:
            raise TrainingError(f"'{model}' takes no parameters, got {', '.join(params)}")
        return RedFlagScoreClassifier(score=SCORE_OF_BASELINE[model])
    raise TrainingError(f"unknown model '{model}'; choose one of {', '.join(MODELS)}")


def fit_model(
    split: Split,
    model: str,
    seed: int,
    params: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> RiskPipeline:
    """Any of ``MODELS``, fitted on the training split and calibrated on the validation split."""
    pipeline = make_pipeline(make_classifier(model, seed, params))
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


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that decide a run's numbers."""
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str:
    """The commit of the working tree, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        commit = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    try:
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return f"{commit}-dirty" if dirty else commit


def load_training_cases(options: TrainOptions) -> pd.DataFrame:
    """The user's labelled file when given, else a simulated cohort."""
    if options.data is not None:
        from training.data import load_cases

        cases: pd.DataFrame = load_cases(options.data, label=options.label)
        return cases
    from training.cohort.simulate import simulate_cohort

    cohort: pd.DataFrame = simulate_cohort(options.n_cases, options.seed, options.setting)
    return cohort


SCHEMA_SAMPLE = 5_000


def training_dataset(cases: pd.DataFrame, options: TrainOptions) -> Any:
    """The MLflow dataset of the cohort, its schema inferred from a sample of rows.

    MLflow infers a dataset's schema by visiting every value in Python: ~10 s for 200k cases,
    longer than fitting a baseline. The digest still covers the cohort as MLflow computes it.
    """
    from mlflow.models.signature import infer_signature

    dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
        cases,
        name="simulated" if options.data is None else Path(options.data).name,
        targets=LABEL,
    )
    vars(dataset)["schema"] = infer_signature(cases.head(SCHEMA_SAMPLE)).inputs
    return dataset


def _metric_key(name: str) -> str:
    """An MLflow-safe metric name ('80+' becomes '80plus')."""
    return re.sub(r"[^A-Za-z0-9_.\-/ ]", "_", name.replace("+", "plus"))


def evaluation_metrics(evaluation: Evaluation) -> dict[str, float]:
    """The run's MLflow metrics: ``test_*`` overall and ``test_<metric>__<variable>_<group>``.

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
    return {k: v for k, v in metrics.items() if math.isfinite(v)}


def explanation_rows(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any], seed: int) -> list[int]:
    """Test rows for the SHAP plots: a seeded sample, plus the example case shown as a waterfall.

    The example is the malignant test case with the highest predicted risk (the highest-risk case
    when the split has no positive), first in the returned list.
    """
    from training.evaluation.plots import SHAP_SAMPLE

    positives = np.flatnonzero(y == 1)
    pool = positives if len(positives) else np.arange(len(p))
    example = int(pool[np.argmax(p[pool])])
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(p), min(SHAP_SAMPLE, len(p)), replace=False)
    return [example, *(int(i) for i in np.sort(sample) if i != example)]


def _log_evaluation_artifacts(
    pipeline: RiskPipeline,
    split: Split,
    cases: pd.DataFrame,
    options: TrainOptions,
    evaluation: Evaluation,
    p_test: np.ndarray[Any, Any],
    run_id: str,
    tags: dict[str, str],
    params: dict[str, Any],
) -> float:
    """Plots, evaluation table, model card (and cohort report) of the run; the additivity error."""
    from training.cohort.report import format_report
    from training.evaluation.model_card import CardInputs, render_model_card
    from training.evaluation.plots import write_plots

    y_test = split.test[LABEL].to_numpy()
    rows = explanation_rows(y_test, p_test, options.seed)
    matrix, base, contributions = pipeline.explain(split.test.iloc[rows])
    additivity = float(np.max(np.abs(sigmoid(base + contributions.sum(axis=1)) - p_test[rows])))
    setting = options.setting if options.data is None else None
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "plots").mkdir()
        write_plots(
            y_test.astype(np.float64),
            p_test,
            evaluation,
            (matrix, base, contributions),
            0,
            directory / "plots",
            options.seed,
        )
        mlflow.log_artifacts(str(directory / "plots"), artifact_path="plots")
        (directory / "evaluation.json").write_text(
            json.dumps(evaluation.as_json(), indent=2, allow_nan=False)
        )
        card = render_model_card(
            CardInputs(
                run_id=run_id,
                model=options.model,
                params=params,
                tags=tags,
                cases=cases,
                setting=setting,
                simulated=options.data is None,
                split_sizes=split.size_of(),
                evaluation=evaluation,
            )
        )
        (directory / "model_card.md").write_text(card)
        (directory / "cohort_report.txt").write_text(format_report(cases, setting))
        mlflow.log_artifact(str(directory / "evaluation.json"))
        mlflow.log_artifact(str(directory / "model_card.md"))
        mlflow.log_artifact(str(directory / "cohort_report.txt"))
    return additivity


def train(
    options: TrainOptions,
    progress: ProgressFn | None = None,
    trial_progress: ProgressFn | None = None,
) -> TrainResult:
    """Fit, evaluate on the test split, log everything to MLflow and register the model.

    With ``options.tune_trials`` the hyperparameters are searched on the validation split first,
    each trial a nested run; ``trial_progress`` reports trials done.
    """
    options.validate()
    if options.engine == "dask":
        from training.distributed import fit_simulated_on_dask

        fitted, split = fit_simulated_on_dask(options, progress)
        cases = split.test  # what the client holds: the run describes the cohort by this sample
    else:
        cases = load_training_cases(options)
        split = split_cases(cases, options.seed)
        fitted = None

    client = connect()
    experiment_id = ensure_experiment(client, options.experiment)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        dataset = training_dataset(cases, options)
        mlflow.log_input(dataset, context="training")
        if fitted is not None:
            pipeline = fitted
        elif options.tune_trials:
            from training.tune import tune

            best = tune(split, options.model, options.seed, options.tune_trials, trial_progress)
            if options.params:  # fixed parameters win over searched ones: refit with both
                best_params = {**best.params, **options.params}
                pipeline = fit_model(split, options.model, options.seed, best_params, progress)
            else:  # the best trial was fitted on the same split with the same seed: reuse it
                pipeline = best.pipeline
                if progress:
                    progress(1, 1)
        else:
            pipeline = fit_model(split, options.model, options.seed, options.params, progress)
        classifier = pipeline.named_steps["classifier"]
        y_test = split.test[LABEL].to_numpy()
        p_test = pipeline.predict_risk(split.test)
        setting = options.setting if options.data is None else None
        evaluation = evaluate(
            y_test,
            p_test,
            subgroup_labels(split.test, setting),
            threshold=options.threshold,
            n_boot=options.n_bootstrap,
            seed=options.seed,
        )
        tags = {
            "model": options.model,
            "git_commit": git_commit(),
            "data_digest": dataset.digest,
            "simulated": str(options.data is None).lower(),
            "setting": setting or "data",
            "package_versions": json.dumps(package_versions(), sort_keys=True),
            "tuned": str(bool(options.tune_trials)).lower(),
        }
        mlflow.set_tags(tags)
        params: dict[str, Any] = {
            "model": options.model,
            "n_cases": sum(split.size_of().values()),
            "engine": options.engine,
            "seed": options.seed,
            "setting": setting or "data",
            "data": str(options.data) if options.data else "simulated",
            "data_digest": dataset.digest,
            "operating_threshold": options.threshold,
            "bootstrap_samples": options.n_bootstrap,
            "tune_trials": options.tune_trials,
            "calibration_slope_fitted": round(classifier.slope_, 6),
            "calibration_intercept_fitted": round(classifier.intercept_, 6),
            "train_prevalence": round(classifier.train_prevalence_, 6),
            **classifier.get_params(),
        }
        if options.model == "xgboost":
            params["best_iteration"] = classifier.best_iteration_
        mlflow.log_params(params)
        metrics = evaluation_metrics(evaluation)
        additivity = _log_evaluation_artifacts(
            pipeline, split, cases, options, evaluation, p_test, run.info.run_id, tags, params
        )
        metrics["test_explanation_additivity_error"] = additivity
        mlflow.log_metrics(metrics)
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
    return TrainResult(
        run.info.run_id, info.model_uri, version, alias, dict(evaluation.metrics), options.model
    )
