"""One ``redflag train``: load or simulate the cases, fit (or tune, or fit on Dask), evaluate on
the test split, record everything in MLflow and register the model.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from features import LABEL
from features.log_odds import sigmoid
from features.model import ProgressFn, RiskPipeline
from features.questions import FindingPriors
from features.scoring import score_cases
from features.setting import check_setting
from features.store import DEFAULT_EXPERIMENT
from training.defaults import (
    DEFAULT_SEED,
    DEFAULT_SETTING,
    INTERVAL_MEMBERS,
    MIN_SIMULATED_CASES,
    TRAINING_CASES,
    Engine,
    ModelKind,
)
from training.evaluation.external import (
    ExternalValidity,
    check_external_cases,
    default_external_cases,
    external_validity,
)
from training.evaluation.metrics import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_THRESHOLD,
    Evaluation,
    evaluate,
    subgroup_labels,
)
from training.evidence import MemberPlan, fit_evidence_interval, measure_interval
from training.fit import TUNABLE_MODELS, Split, TrainingError, fit_model, split_cases
from training.site.drift import log_reference_profile
from training.timing import stage_times, timed
from training.tracking import (
    RunReport,
    assign_new_version_alias,
    connect,
    ensure_experiment,
    evaluation_metrics,
    fail_abandoned_runs,
    git_commit,
    log_model,
    log_run_report,
    log_stage_times,
    owner_tags,
    package_versions,
    training_dataset,
)

# Test cases the interval's coverage and widths are measured on (the model card reports them).
INTERVAL_TEST_CASES = 20_000
# Training cases the next questions' chances are learned from, at most: each question's model
# samples 50,000 of them, and encoding all of a million cases first took half a minute.
PRIOR_CASES = 200_000


@dataclass(frozen=True)
class TrainOptions:
    """What to train on and where to record it."""

    n_cases: int = TRAINING_CASES
    seed: int = DEFAULT_SEED
    setting: str = DEFAULT_SETTING
    experiment: str = DEFAULT_EXPERIMENT
    data: Path | None = None
    label: str = LABEL
    params: dict[str, Any] = field(default_factory=dict)
    model: str = ModelKind.xgboost
    tune_trials: int = 0
    threshold: float = DEFAULT_THRESHOLD
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    engine: str = Engine.local
    scheduler: str | None = None
    interval_members: int = INTERVAL_MEMBERS
    # Cases of the external cohort the model is also scored on; None: EXTERNAL_COHORT_CASES, but
    # no more than the run's own cases (small runs stay quick); 0: no external check.
    external_cases: int | None = None

    def external_cases_for(self, n_cases: int) -> int:
        """The external cohort's size for a run on ``n_cases`` cases."""
        if self.external_cases is not None:
            return self.external_cases
        return default_external_cases(n_cases)

    def validate(self) -> None:
        """Refuse options that cannot work, before anything is written to the store."""
        if self.data is None and self.n_cases < MIN_SIMULATED_CASES:
            raise TrainingError(
                f"--n-cases must be at least {MIN_SIMULATED_CASES}, got {self.n_cases}"
            )
        if self.seed < 0:
            raise TrainingError(f"--seed must be 0 or more, got {self.seed}")
        try:
            check_setting(self.setting, "--setting")
        except ValueError as error:
            raise TrainingError(str(error)) from None
        if not self.experiment.strip():
            raise TrainingError("--experiment must not be empty")
        _check_choice("--model", self.model, ModelKind)
        self._validate_tuning()
        if not 0 < self.threshold < 1:
            raise TrainingError(f"--threshold must be between 0 and 1, got {self.threshold}")
        if self.interval_members < 0:
            raise TrainingError(
                f"--interval-members must be 0 or more, got {self.interval_members}"
            )
        if self.n_bootstrap < 10:
            raise TrainingError(f"bootstrap samples must be at least 10, got {self.n_bootstrap}")
        if self.external_cases is not None:
            try:
                check_external_cases(self.external_cases)
            except ValueError as error:
                raise TrainingError(str(error)) from None
        self._validate_engine()

    def _validate_tuning(self) -> None:
        if self.tune_trials < 0:
            raise TrainingError(f"--tune must be 0 or more trials, got {self.tune_trials}")
        if self.tune_trials and self.model not in TUNABLE_MODELS:
            raise TrainingError(
                f"--tune applies to {' and '.join(TUNABLE_MODELS)}; '{self.model}' has nothing "
                "to tune beyond its recalibration"
            )

    def _validate_engine(self) -> None:
        _check_choice("--engine", self.engine, Engine)
        if self.scheduler and self.engine != Engine.dask:
            raise TrainingError("--scheduler needs --engine dask")
        if self.engine == Engine.dask and (
            self.model != ModelKind.xgboost or self.tune_trials or self.data is not None
        ):
            raise TrainingError(
                "--engine dask trains the xgboost model on simulated partitions; "
                "--model, --tune and --data need --engine local"
            )

    @property
    def simulated_setting(self) -> str | None:
        """The setting of a simulated cohort; None for the user's own cases."""
        return self.setting if self.data is None else None


def _check_choice(option: str, value: str, choices: type[Any]) -> None:
    known = [choice.value for choice in choices]
    if value not in known:
        raise TrainingError(f"{option} must be one of {', '.join(known)}, got '{value}'")


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    run_id: str
    model_uri: str
    version: str
    alias: str
    metrics: dict[str, float]
    model: str = ModelKind.xgboost
    # Seconds per stage of the run (``training.timing``), also logged as ``time_<stage>_s``.
    timings: dict[str, float] = field(default_factory=dict)


@timed("simulate")
def load_training_cases(options: TrainOptions) -> pd.DataFrame:
    """The user's labelled file when given, else a simulated cohort."""
    if options.data is not None:
        from training.data import load_cases

        cases: pd.DataFrame = load_cases(options.data, label=options.label)
        return cases
    from training.cohort.simulate import simulate_cohort

    cohort: pd.DataFrame = simulate_cohort(options.n_cases, options.seed, options.setting)
    return cohort


def _cases_and_split(
    options: TrainOptions, progress: ProgressFn | None
) -> tuple[pd.DataFrame, Split, RiskPipeline | None]:
    """(the cases the run describes, their split, a pipeline already fitted on a cluster)."""
    if options.engine == Engine.dask:
        from training.distributed import fit_simulated_on_dask

        fitted, split = fit_simulated_on_dask(
            options.n_cases, options.seed, options.setting, options.params, options.scheduler
        )
        if progress:
            progress(1, 1)
        return split.test, split, fitted  # the client holds only a sample: describe the run by it
    cases = load_training_cases(options)
    return cases, timed("split")(split_cases)(cases, options.seed), None


@timed("finding_priors")
def _finding_priors(known: pd.DataFrame, seed: int) -> FindingPriors:
    if len(known) > PRIOR_CASES:
        known = known.sample(PRIOR_CASES, random_state=seed)
    return FindingPriors().fit(known)


def _companions(
    pipeline: RiskPipeline, split: Split, options: TrainOptions, progress: ProgressFn | None
) -> None:
    """Attach what the predictions need beside the model: the chance of each unrecorded answer
    (next questions) and the evidence ensemble (the interval), measured on the test split."""
    # On a cluster the training partitions stay there: learn the chances from the test sample.
    known = split.train if len(split.train) else split.test
    pipeline.finding_priors_ = _finding_priors(known, options.seed)
    plan = MemberPlan(
        options.interval_members,
        options.model,
        options.seed,
        options.simulated_setting,
        options.n_cases,
        options.params,
    )
    interval = fit_evidence_interval(plan, split, progress)
    if interval is not None:
        measure_interval(interval, pipeline, split.test.head(INTERVAL_TEST_CASES))
    pipeline.interval_ = interval


@timed("fit")
def _fit(
    split: Split,
    options: TrainOptions,
    progress: ProgressFn | None,
    trial_progress: ProgressFn | None,
) -> RiskPipeline:
    """Fit on the split; with ``tune_trials``, search the hyperparameters first."""
    if not options.tune_trials:
        return fit_model(split, options.model, options.seed, options.params, progress)
    from training.tune import tune

    best = tune(split, options.model, options.seed, options.tune_trials, trial_progress)
    if options.params:  # fixed parameters win over searched ones: refit with both
        params = {**best.params, **options.params}
        return fit_model(split, options.model, options.seed, params, progress)
    if progress:  # the best trial was fitted on the same split with the same seed: reuse it
        progress(1, 1)
    return best.pipeline


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


def _run_tags(options: TrainOptions, digest: str) -> dict[str, str]:
    return {
        "model": options.model,
        "git_commit": git_commit(),
        "data_digest": digest,
        "simulated": str(options.data is None).lower(),
        "setting": options.simulated_setting or "data",
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        "tuned": str(bool(options.tune_trials)).lower(),
    }


def _run_params(
    options: TrainOptions, pipeline: RiskPipeline, split: Split, digest: str
) -> dict[str, Any]:
    classifier = pipeline.named_steps["classifier"]
    params: dict[str, Any] = {
        "model": options.model,
        "n_cases": sum(split.size_of().values()),
        "engine": options.engine,
        "seed": options.seed,
        "setting": options.simulated_setting or "data",
        "data": str(options.data) if options.data else "simulated",
        "data_digest": digest,
        "operating_threshold": options.threshold,
        "bootstrap_samples": options.n_bootstrap,
        "tune_trials": options.tune_trials,
        "interval_members": options.interval_members,
        "calibration_slope_fitted": round(classifier.slope_, 6),
        "calibration_intercept_fitted": round(classifier.intercept_, 6),
        "train_prevalence": round(classifier.train_prevalence_, 6),
        **classifier.get_params(),
    }
    if options.model == ModelKind.xgboost:
        params["best_iteration"] = classifier.best_iteration_
    return params


@dataclass(frozen=True)
class _Evaluated:
    evaluation: Evaluation
    probability: np.ndarray[Any, Any]
    external: ExternalValidity | None = None

    def metrics(self) -> dict[str, float]:
        """The test split's metrics, then the external cohort's (``external_*``)."""
        external = self.external.metrics() if self.external is not None else {}
        return dict(self.evaluation.metrics) | external


@timed("evaluate")
def _evaluate(
    pipeline: RiskPipeline, split: Split, options: TrainOptions, n_cases: int
) -> _Evaluated:
    """The TRIPOD+AI evaluation on the test split, scored by the scoring core, and the external
    cohort's check (``training.evaluation.external``) unless it is switched off."""
    y_test = split.test[LABEL].to_numpy()
    p_test = score_cases(pipeline, split.test).probability
    evaluation = evaluate(
        y_test,
        p_test,
        subgroup_labels(split.test, options.simulated_setting),
        threshold=options.threshold,
        n_boot=options.n_bootstrap,
        seed=options.seed,
    )
    external_cases = options.external_cases_for(n_cases)
    external = external_validity(pipeline, external_cases) if external_cases else None
    return _Evaluated(evaluation, p_test, external)


@timed("report")
def _report(
    pipeline: RiskPipeline,
    split: Split,
    cases: pd.DataFrame,
    options: TrainOptions,
    evaluated: _Evaluated,
    card: dict[str, Any],
    directory: Path,
) -> tuple[RunReport, float]:
    """Plots, model card and cohort report of the run, and the explanation's additivity error."""
    from training.cohort.report import format_report
    from training.evaluation.model_card import CardInputs, render_model_card
    from training.evaluation.plots import EXTERNAL_PLOT, external_calibration_plot, write_plots

    y_test = split.test[LABEL].to_numpy()
    rows = explanation_rows(y_test, evaluated.probability, options.seed)
    explained = score_cases(pipeline, split.test.iloc[rows], explain=True)
    base, contributions = explained.base_value, explained.contributions
    assert base is not None and contributions is not None
    total = sigmoid(base + contributions.sum(axis=1))
    additivity = float(np.max(np.abs(total - evaluated.probability[rows])))
    plots = write_plots(
        y_test.astype(np.float64),
        evaluated.probability,
        evaluated.evaluation,
        (explained.matrix, base, contributions),
        0,
        directory,
        options.seed,
    )
    if evaluated.external is not None:
        plots.append(external_calibration_plot(evaluated.external, directory / EXTERNAL_PLOT))
    setting = options.simulated_setting
    model_card = render_model_card(
        CardInputs(
            cases=cases,
            setting=setting,
            simulated=options.data is None,
            split_sizes=split.size_of(),
            evaluation=evaluated.evaluation,
            interval=pipeline.interval,
            external=evaluated.external,
            **card,
        )
    )
    report = RunReport(plots, evaluated.evaluation, model_card, format_report(cases, setting))
    return report, additivity


def train(
    options: TrainOptions,
    progress: ProgressFn | None = None,
    trial_progress: ProgressFn | None = None,
    member_progress: ProgressFn | None = None,
) -> TrainResult:
    """Fit, evaluate on the test split, log everything to MLflow and register the model.

    With ``options.tune_trials`` the hyperparameters are searched on the validation split first,
    each trial a nested run; ``trial_progress`` reports trials done. The result's ``timings``
    give the seconds of each stage (``training.timing``), logged as ``time_<stage>_s`` too.
    """
    # The matrices of the logistic fits are small: a second BLAS thread only contends with
    # XGBoost's and other processes' (20 times slower on a busy 2-core machine, measured).
    with stage_times() as times, threadpool_limits(limits=1, user_api="blas"):
        result = _train(options, progress, trial_progress, member_progress)
    log_stage_times(result.run_id, times)
    return dataclasses.replace(result, timings=dict(times))


def _train(
    options: TrainOptions,
    progress: ProgressFn | None,
    trial_progress: ProgressFn | None,
    member_progress: ProgressFn | None,
) -> TrainResult:
    options.validate()
    cases, split, fitted = _cases_and_split(options, progress)
    client = connect()
    experiment_id = ensure_experiment(client, options.experiment)
    fail_abandoned_runs(client, experiment_id)
    with (
        mlflow.start_run(experiment_id=experiment_id, tags=owner_tags()) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        name = "simulated" if options.data is None else Path(options.data).name
        dataset = training_dataset(cases, name)
        mlflow.log_input(dataset, context="training")
        pipeline = fitted or _fit(split, options, progress, trial_progress)
        _companions(pipeline, split, options, member_progress)
        evaluated = _evaluate(pipeline, split, options, sum(split.size_of().values()))
        tags = _run_tags(options, dataset.digest)
        mlflow.set_tags(tags)
        params = _run_params(options, pipeline, split, dataset.digest)
        mlflow.log_params(params)
        card = {"run_id": run.info.run_id, "model": options.model, "params": params, "tags": tags}
        report, additivity = _report(pipeline, split, cases, options, evaluated, card, Path(tmp))
        log_run_report(report, Path(tmp))
        metrics = evaluation_metrics(evaluated.evaluation, evaluated.external)
        metrics["test_explanation_additivity_error"] = additivity
        mlflow.log_metrics(metrics)
        timed("drift_profile")(log_reference_profile)(pipeline, cases, options.seed)
        info = log_model(pipeline, split.test)
    version = str(info.registered_model_version)
    alias = assign_new_version_alias(client, version)
    return TrainResult(
        run.info.run_id,
        info.model_uri,
        version,
        alias,
        evaluated.metrics(),
        options.model,
    )
