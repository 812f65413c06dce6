"""Hyperparameter search on the validation split, each trial a nested MLflow run.

A seeded random search (scikit-learn ``ParameterSampler``): optuna is not installed here, and with
the few tens of trials this project runs a random search is as good as a sequential one. Trials are
scored by the validation log loss of the calibrated probabilities (a proper score: discrimination
and calibration together); the test split is never seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
from scipy.stats import loguniform, randint, uniform
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import ParameterSampler

from features import LABEL
from features.model import ProgressFn, RiskPipeline
from features.scoring import score_cases
from training.fit import Split, fit_model

SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "xgboost": {
        "max_depth": randint(2, 7),
        "learning_rate": loguniform(0.02, 0.3),
        "min_child_weight": loguniform(0.5, 20),
        "subsample": uniform(0.6, 0.4),
        "colsample_bytree": uniform(0.5, 0.5),
        "reg_lambda": loguniform(0.1, 20),
    },
    "logistic": {"C": loguniform(1e-3, 1e2)},
}


@dataclass(frozen=True)
class TuneResult:
    """The best trial: its parameters and its fitted pipeline."""

    params: dict[str, Any]
    pipeline: RiskPipeline
    validation_log_loss: float


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}


def tune(
    split: Split,
    model: str,
    seed: int,
    n_trials: int,
    progress: ProgressFn | None = None,
) -> TuneResult:
    """The best hyperparameters of ``n_trials`` for ``model``; call inside the parent run."""
    if model not in SEARCH_SPACES:
        raise ValueError(f"no search space for '{model}'; tunable: {', '.join(SEARCH_SPACES)}")
    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("tune() logs its trials under the active training run; start one first")
    # Without the id, nested runs land in the default experiment rather than the parent's.
    experiment_id = parent.info.experiment_id
    y_val = split.validation[LABEL].to_numpy()
    best: TuneResult | None = None
    candidates = ParameterSampler(SEARCH_SPACES[model], n_iter=n_trials, random_state=seed)
    for trial, sampled in enumerate(candidates):
        params = _plain(sampled)
        pipeline = fit_model(split, model, seed, params)
        p_val = score_cases(pipeline, split.validation).probability
        score = float(log_loss(y_val, np.clip(p_val, 1e-15, 1 - 1e-15), labels=[0, 1]))
        with mlflow.start_run(run_name=f"trial-{trial}", nested=True, experiment_id=experiment_id):
            mlflow.set_tags({"trial": str(trial), "model": model, "kind": "tuning-trial"})
            mlflow.log_params(params)
            mlflow.log_metrics(
                {"validation_log_loss": score, "validation_auroc": roc_auc_score(y_val, p_val)}
            )
        if best is None or score < best.validation_log_loss:
            best = TuneResult(params, pipeline, score)
        if progress:
            progress(trial + 1, n_trials)
    assert best is not None  # n_trials >= 1 is checked by TrainOptions.validate
    mlflow.log_metric("tuning_best_validation_log_loss", best.validation_log_loss)
    return best
