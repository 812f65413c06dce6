"""``redflag recalibrate``: refit the final calibration on a site's labelled cases.

The booster (or baseline) is untouched; only the last Platt step changes (``with_calibration``),
so the explanation still adds up exactly. Half the site's cases (stratified) fit the recalibration,
the other half report the figures before and after; the result is registered as a new version of
the same model with the ``challenger`` alias, its run tagged with the source version, the data's
digest and both sets of figures. Its drift reference is the site's own case mix.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from features import LABEL
from features.loader import LoadedModel
from features.model import RiskPipeline
from features.scoring import score_cases
from features.store import CHALLENGER, DEFAULT_EXPERIMENT, MODEL_NAME
from training.defaults import (
    MIN_EVENTS_INTERCEPT,
    MIN_EVENTS_LOGISTIC,
    RECALIBRATION_HOLDOUT,
    RecalibrationMethod,
)
from training.evaluation.metrics import (
    auroc_interval,
    calibration_in_the_large,
    calibration_slope_intercept,
    core_metrics,
    finite_or_none,
)
from training.site.inputs import SiteError, data_digest, labels_of, load_site_model

REPORTED = (
    "auroc",
    "auroc_ci_low",
    "auroc_ci_high",
    "brier",
    "calibration_intercept",
    "calibration_slope",
    "ece",
    "mean_predicted",
    "observed_rate",
)


@dataclass(frozen=True)
class RecalibrationOptions:
    """Which model, on which cases, by which method."""

    data: Path
    label: str = LABEL
    method: str = RecalibrationMethod.intercept
    model_uri: str | None = None
    holdout: float = RECALIBRATION_HOLDOUT
    seed: int = 0

    def validate(self) -> None:
        """Refuse options that cannot work, before reading a case."""
        if self.method not in set(RecalibrationMethod):
            known = ", ".join(RecalibrationMethod)
            raise SiteError(f"--method must be one of {known}, got '{self.method}'")
        if not 0.1 <= self.holdout <= 0.9:
            raise SiteError(f"--holdout must be between 0.1 and 0.9, got {self.holdout}")


@dataclass(frozen=True)
class RecalibrationResult:
    """The new version and what it changed."""

    version: str
    run_id: str
    source_version: str | None
    method: str
    slope: float
    intercept: float
    prevalence: float
    fit: dict[str, int]
    before: dict[str, float]
    after: dict[str, float]


def check_events(events: int, method: str) -> None:
    """Refuse a recalibration the fitting half has too few events for, saying why."""
    if events < MIN_EVENTS_INTERCEPT:
        raise SiteError(
            f"only {events} events among the cases that fit the recalibration; at least "
            f"{MIN_EVENTS_INTERCEPT} are needed: fewer would move the model by noise"
        )
    if method == RecalibrationMethod.logistic and events < MIN_EVENTS_LOGISTIC:
        raise SiteError(
            f"--method logistic needs at least {MIN_EVENTS_LOGISTIC} events among the cases "
            f"that fit it, got {events}; a slope from fewer is unreliable; use --method intercept"
        )


def fit_recalibration(y: Any, p: Any, method: str) -> tuple[float, float]:
    """(slope, intercept) in log-odds: slope 1 and calibration-in-the-large for ``intercept``."""
    if method == RecalibrationMethod.intercept:
        return 1.0, calibration_in_the_large(y, p)
    slope, intercept = calibration_slope_intercept(y, p)
    if not (math.isfinite(slope) and slope > 0):
        raise SiteError(f"the site's calibration slope is {slope:.3f}; cannot recalibrate by it")
    return slope, intercept


def _figures(y: Any, p: Any, seed: int) -> dict[str, float]:
    metrics = core_metrics(y, p)
    metrics["auroc_ci_low"], metrics["auroc_ci_high"] = auroc_interval(y, p, 500, seed)
    return {name: finite_or_none(metrics[name]) for name in REPORTED}


def _split(cases: pd.DataFrame, options: RecalibrationOptions) -> tuple[pd.DataFrame, ...]:
    y = labels_of(cases, LABEL)
    try:
        fit, held = train_test_split(
            cases, test_size=options.holdout, stratify=y, random_state=options.seed
        )
    except ValueError as error:
        raise SiteError(f"cannot hold out {options.holdout:.0%} of the cases: {error}") from None
    return fit, held


def recalibrate_site(options: RecalibrationOptions) -> RecalibrationResult:
    """Fit on one part, report on the other, register the recalibrated pipeline as challenger."""
    from training.data import load_cases

    options.validate()
    model = load_site_model(options.model_uri)
    cases = load_cases(options.data, label=options.label)
    fit, held = _split(cases, options)
    y_fit, y_held = labels_of(fit, LABEL), labels_of(held, LABEL)
    check_events(int(y_fit.sum()), options.method)
    pipeline = model.pipeline
    slope, intercept = fit_recalibration(
        y_fit, score_cases(pipeline, fit).probability, options.method
    )
    prevalence = float(np.mean(y_fit))
    try:
        recalibrated = pipeline.with_calibration(slope, intercept, prevalence)
    except ValueError as error:
        raise SiteError(str(error)) from None
    before = _figures(y_held, score_cases(pipeline, held).probability, options.seed)
    after = _figures(y_held, score_cases(recalibrated, held).probability, options.seed)
    sizes = {
        "n_fit": len(fit),
        "events_fit": int(y_fit.sum()),
        "n_holdout": len(held),
        "events_holdout": int(y_held.sum()),
    }
    result = RecalibrationResult(
        "",
        "",
        model.identity.version,
        options.method,
        slope,
        intercept,
        prevalence,
        sizes,
        before,
        after,
    )
    digest = data_digest(cases, Path(options.data).name)
    version, run_id = _register(model, recalibrated, cases, result, options, digest)
    return replace(result, version=version, run_id=run_id)


def _tags(model: LoadedModel, result: RecalibrationResult, digest: str) -> dict[str, str]:
    return {
        "model": model.kind,
        "recalibrated_from_version": str(result.source_version),
        "recalibrated_from_run": str(model.identity.run_id),
        "data_digest": digest,
        "simulated": "false",
        "setting": "site",
        "recalibration": json.dumps(
            {
                "method": result.method,
                "slope": result.slope,
                "intercept": result.intercept,
                "prevalence": result.prevalence,
                **result.fit,
                "before": result.before,
                "after": result.after,
            },
            allow_nan=False,
        ),
    }


def _register(
    model: LoadedModel,
    pipeline: RiskPipeline,
    cases: pd.DataFrame,
    result: RecalibrationResult,
    options: RecalibrationOptions,
    digest: str,
) -> tuple[str, str]:
    """Log ``pipeline`` in a new run beside the source's and register it; (version, run id)."""
    import mlflow

    from training.site.drift import log_reference_profile
    from training.tracking import connect, ensure_experiment, log_model

    client = connect()
    experiment = DEFAULT_EXPERIMENT
    if model.identity.run_id:
        experiment = client.get_experiment(
            client.get_run(model.identity.run_id).info.experiment_id
        ).name
    tags = _tags(model, result, digest)
    params = {
        "model": model.kind,
        "setting": "data",
        "data": Path(options.data).name,
        "data_digest": digest,
        "seed": options.seed,
        "holdout": options.holdout,
        "recalibration_method": result.method,
        "recalibration_slope": result.slope,
        "recalibration_intercept": result.intercept,
        "train_prevalence": result.prevalence,
        "source_version": result.source_version,
        **result.fit,
    }
    metrics = {
        f"{when}_{k}": v
        for when, figures in (("before", result.before), ("after", result.after))
        for k, v in figures.items()
        if v is not None
    }
    # ``redflag compare`` lists runs by their test_* figures: here, the held-out site cases.
    metrics |= {f"test_{k}": v for k, v in result.after.items() if v is not None}
    with mlflow.start_run(experiment_id=ensure_experiment(client, experiment)) as run:
        mlflow.set_tags(tags)
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        log_reference_profile(pipeline, cases, options.seed)
        info = log_model(pipeline, cases)
    version = str(info.registered_model_version)
    for key in ("recalibrated_from_version", "data_digest", "recalibration"):
        client.set_model_version_tag(MODEL_NAME, version, key, tags[key])
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    return version, run.info.run_id
