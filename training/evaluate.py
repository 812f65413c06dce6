"""Evaluation of a fitted model on held-out cases."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

Array = npt.NDArray[np.float64]


def calibration_slope_intercept(y: npt.ArrayLike, p: Array) -> tuple[float, float]:
    """Slope of the logistic regression of outcome on predicted log-odds, and its intercept.

    A slope of 1 and an intercept of 0 mean calibrated (Van Calster et al., BMC Med 2019).
    """
    eps = 1e-12
    log_odds = np.log(np.clip(p, eps, 1 - eps) / np.clip(1 - p, eps, 1 - eps))
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(log_odds.reshape(-1, 1), np.asarray(y))
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def core_metrics(y: npt.ArrayLike, p: Array) -> dict[str, float]:
    """Discrimination and calibration: AUROC, AUPRC, Brier, log loss, calibration slope."""
    y = np.asarray(y, dtype=np.int64)
    slope, intercept = calibration_slope_intercept(y, p)
    return {
        "auroc": float(roc_auc_score(y, p)),
        "auprc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "n_cases": float(len(y)),
        "n_positive": float(y.sum()),
    }
