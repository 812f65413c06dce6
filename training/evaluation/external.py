"""External validity: a model scored on the external cohort, against that cohort's own ceiling.

The external cohort (``training.cohort.external``) keeps every published figure but is built
differently from the cohort the model learned. How much of the AUROC that a flexible model fitted
on the external cohort itself reaches (by cross-validation) the trained model keeps, and how its
calibration holds, say how much of what it learned is the main simulator's structure rather than
the published evidence. Neither figure says how the model does on patients.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from features import LABEL
from features.model import RiskPipeline
from features.scoring import score_cases
from features.transform import RedFlagFeatures
from training.cohort.external import SETTING, external_cohort
from training.defaults import (
    EXTERNAL_CEILING_FOLDS,
    EXTERNAL_COHORT_CASES,
    EXTERNAL_COHORT_SEED,
    MIN_EXTERNAL_CASES,
)
from training.evaluation.metrics import (
    calibration_in_the_large,
    calibration_slope_intercept,
    calibration_table,
)

# The ceiling's model: unconstrained boosted trees, early-stopped on a fifth of each training fold.
CEILING_BOOSTER = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "eta": 0.1,
    "max_depth": 3,
    "min_child_weight": 2.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "tree_method": "hist",
    # One thread: on a shared machine a thread pool of small fits spends more time waiting than
    # working (measured 0.75 s against 9 s a fold at 50,000 cases on two busy cores).
    "nthread": 1,
}
CEILING_ROUNDS = 600
CEILING_EARLY_STOPPING = 40
METRIC_PREFIX = "external_"


class ExternalValidityError(ValueError):
    """An external check that cannot be made; the message names the option."""


@dataclass(frozen=True)
class ExternalValidity:
    """A model on the external cohort: discrimination against the cohort's ceiling, calibration."""

    auroc: float
    ceiling_auroc: float
    share_retained: float
    calibration_slope: float
    calibration_intercept: float
    n_cases: int
    n_positive: int
    seed: int
    # Observed rate against mean prediction per tenth of predicted risk (the calibration plot).
    calibration: list[dict[str, float]] = field(default_factory=list, repr=False)

    def metrics(self) -> dict[str, float]:
        """As MLflow metrics: ``external_auroc``, ``external_ceiling_auroc``, ..."""
        numbers = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "calibration"}
        return {
            f"{METRIC_PREFIX}{name}": float(value)
            for name, value in numbers.items()
            if math.isfinite(float(value))
        }


def check_external_cases(n_cases: int, option: str = "--external-cases") -> None:
    """0 (no external check) or at least ``MIN_EXTERNAL_CASES``."""
    if isinstance(n_cases, bool) or n_cases < 0 or 0 < n_cases < MIN_EXTERNAL_CASES:
        raise ExternalValidityError(
            f"{option} must be 0 (no external check) or at least {MIN_EXTERNAL_CASES}, "
            f"got {n_cases}"
        )


def default_external_cases(n_cases: int) -> int:
    """The external cohort's size for a model trained on ``n_cases``: ``EXTERNAL_COHORT_CASES``,
    but no more than the model's own cases (a small model is checked quickly)."""
    return min(EXTERNAL_COHORT_CASES, max(MIN_EXTERNAL_CASES, n_cases))


@functools.lru_cache(maxsize=4)
def _cohort(n_cases: int, seed: int) -> Any:
    return external_cohort(n_cases, seed)


def _matrix(cases: Any) -> npt.NDArray[np.float64]:
    return np.asarray(RedFlagFeatures().fit(cases).transform(cases), dtype=np.float64)


@functools.lru_cache(maxsize=4)
def ceiling_auroc(n_cases: int = EXTERNAL_COHORT_CASES, seed: int = EXTERNAL_COHORT_SEED) -> float:
    """AUROC of the pooled out-of-fold predictions of boosted trees fitted on the external cohort
    itself (5-fold, stratified); cached per (size, seed)."""
    cases = _cohort(n_cases, seed)
    X, y = _matrix(cases), cases[LABEL].to_numpy(dtype=np.float64)
    out_of_fold = np.empty(len(y))
    folds = StratifiedKFold(EXTERNAL_CEILING_FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(X, y):
        fit, stop = train_test_split(train, test_size=0.2, stratify=y[train], random_state=seed)
        booster = xgb.train(
            {**CEILING_BOOSTER, "seed": seed},
            xgb.DMatrix(X[fit], label=y[fit], missing=np.nan),
            num_boost_round=CEILING_ROUNDS,
            evals=[(xgb.DMatrix(X[stop], label=y[stop], missing=np.nan), "stop")],
            early_stopping_rounds=CEILING_EARLY_STOPPING,
            verbose_eval=False,
        )
        rounds = (0, booster.best_iteration + 1)
        out_of_fold[test] = booster.predict(
            xgb.DMatrix(X[test], missing=np.nan), iteration_range=rounds
        )
    return float(roc_auc_score(y, out_of_fold))


def external_predictions(
    pipeline: RiskPipeline, n_cases: int = EXTERNAL_COHORT_CASES, seed: int = EXTERNAL_COHORT_SEED
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(outcome, predicted probability) of ``pipeline`` on the external cohort, shifted to its
    primary-care prevalence."""
    check_external_cases(n_cases)
    cases = _cohort(n_cases, seed)
    probability = score_cases(pipeline, cases, setting=SETTING).probability
    return cases[LABEL].to_numpy(dtype=np.int64), probability


def external_validity(
    pipeline: RiskPipeline, n_cases: int = EXTERNAL_COHORT_CASES, seed: int = EXTERNAL_COHORT_SEED
) -> ExternalValidity:
    """``pipeline`` scored on the external cohort of ``n_cases`` (seed ``seed``)."""
    y, p = external_predictions(pipeline, n_cases, seed)
    auroc = float(roc_auc_score(y, p))
    ceiling = ceiling_auroc(n_cases, seed)
    slope, _ = calibration_slope_intercept(y, p)
    return ExternalValidity(
        auroc=auroc,
        ceiling_auroc=ceiling,
        share_retained=auroc / ceiling,
        calibration_slope=slope,
        calibration_intercept=calibration_in_the_large(y, p),
        n_cases=n_cases,
        n_positive=int(y.sum()),
        seed=seed,
        calibration=calibration_table(y, p),
    )
