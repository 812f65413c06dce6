"""Baseline classifiers that end a ``RiskPipeline`` and explain additively in log-odds.

They live beside the boosted model, not in training, because serving unpickles whichever model is
champion without importing training code. Each is linear in a design matrix built from the red-flag
matrix, so its exact additive explanation is the linear one: contribution_j = w_j·(x_j − mean_j)
summed over the design columns derived from red flag j, base = bias + Σ w_j·mean_j (means over the
training cases), and ``sigmoid(base + Σ contributions) == probability``.

- ``RedFlagScoreClassifier``: a clinical rule or score (the Deyo rule, the red-flag count) mapped
  to a probability by a logistic recalibration fitted on the validation cases; nothing else learned.
- ``LogisticRedFlagClassifier``: L2 logistic regression on every engineered feature, missing values
  handled explicitly (median imputation plus a missing indicator per feature that is ever missing),
  standardised, then Platt-recalibrated on the validation cases like the boosted model.
"""

from __future__ import annotations

import copy
from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.log_odds import sigmoid
from features.model import (
    LogOddsClassifierMixin,
    ProgressFn,
    check_binary_labels,
    check_calibration,
    check_calibration_slope,
    check_red_flag_matrix,
)

Matrix = npt.NDArray[np.float64]

# A whisper of ridge keeps the fit finite when a score level has no positive case at all.
_RIDGE = 1e-8


def _log_likelihood(design: Matrix, y: Matrix, beta: Matrix) -> float:
    eta = design @ beta
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)) - 0.5 * _RIDGE * beta @ beta)


def _logistic_regression(
    design: Matrix, y: Matrix, C: float, max_iter: int, non_negative: npt.NDArray[np.bool_]
) -> tuple[Matrix, float]:
    """(weights, bias) of L2 logistic regression, scikit-learn's objective (C · log loss + ½|w|²),
    with the weights marked ``non_negative`` kept at 0 or above (L-BFGS-B's bounds)."""
    n, d = design.shape

    def objective(beta: Matrix) -> tuple[float, Matrix]:
        weights, bias = beta[:d], beta[d]
        eta = design @ weights + bias
        residual = sigmoid(eta) - y
        loss = C * float(np.sum(np.logaddexp(0.0, eta) - y * eta)) + 0.5 * float(weights @ weights)
        gradient = np.append(C * (design.T @ residual) + weights, C * residual.sum())
        return loss, gradient

    bounds = [(0.0, None) if fixed_sign else (None, None) for fixed_sign in non_negative]
    result = minimize(
        objective,
        np.zeros(d + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[*bounds, (None, None)],
        options={"maxiter": max_iter},
    )
    return np.asarray(result.x[:d], dtype=np.float64), float(result.x[d])


def _platt(score: Matrix, y: Matrix) -> tuple[float, float]:
    """(slope, intercept) of the maximum-likelihood logistic regression of ``y`` on one score.

    Newton's method with step halving, on the standardised score: exact to rounding, so a binary
    rule gets exactly its groups' observed rates (an iterative solver stopped early does not).
    """
    centre, spread = float(np.mean(score)), float(np.std(score))
    spread = spread if spread > 0 else 1.0
    design = np.column_stack([np.ones(len(score)), (score - centre) / spread])
    beta = np.zeros(2)
    current = _log_likelihood(design, y, beta)
    for _ in range(100):
        p = sigmoid(design @ beta)
        gradient = design.T @ (y - p) - _RIDGE * beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + _RIDGE * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        scale, candidate = 1.0, _log_likelihood(design, y, beta + step)
        while candidate < current and scale > 1e-6:
            scale /= 2
            candidate = _log_likelihood(design, y, beta + scale * step)
        beta, current = beta + scale * step, candidate
        if np.max(np.abs(scale * step)) < 1e-10:
            break
    slope = float(beta[1] / spread)
    check_calibration_slope(slope)
    return slope, float(beta[0] - slope * centre)


class _LinearExplainer(LogOddsClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Shared scoring and explanation of a model linear in ``_design(X)``.

    Subclasses set ``weights_`` and ``bias_`` (calibrated log-odds per design column),
    ``design_means_`` (training means of the design), ``design_features_`` (the red-flag column each
    design column comes from), ``slope_`` and ``intercept_`` (the recalibration) and
    ``train_prevalence_``.
    """

    weights_: Matrix
    bias_: float
    design_means_: Matrix
    design_features_: npt.NDArray[np.int64]
    slope_: float
    intercept_: float
    train_prevalence_: float

    def _design(self, X: Matrix) -> Matrix:
        raise NotImplementedError

    def _finish(self, X: Matrix, y: Matrix) -> None:
        self.design_means_ = self._design(X).mean(axis=0)
        self.classes_ = np.array([0, 1])
        self.train_prevalence_ = float(np.mean(y))
        self.n_features_in_ = X.shape[1]

    def decision_function(self, X: Matrix) -> Matrix:
        """Calibrated log-odds of malignancy."""
        return np.asarray(self.bias_ + self._design(X) @ self.weights_, dtype=np.float64)

    def with_calibration(self, slope: float, intercept: float, prevalence: float) -> Self:
        """A copy whose log-odds are ``intercept + slope * (these log-odds)``, calibrated to
        ``prevalence``; weights and bias scale with it, so the explanation still adds up."""
        check_calibration(slope, intercept, prevalence)
        recalibrated = copy.copy(self)
        recalibrated.weights_ = slope * self.weights_
        recalibrated.bias_ = intercept + slope * self.bias_
        recalibrated.slope_ = slope * self.slope_
        recalibrated.intercept_ = intercept + slope * self.intercept_
        recalibrated.train_prevalence_ = prevalence
        return recalibrated

    def explain(self, X: Matrix) -> tuple[Matrix, Matrix]:
        """Exact linear attribution in calibrated log-odds: (base per row, contribution per flag).

        Missing-indicator terms are credited to the red flag they mark.
        """
        terms = (self._design(X) - self.design_means_) * self.weights_
        contributions = np.zeros((X.shape[0], len(FEATURE_NAMES)), dtype=np.float64)
        np.add.at(contributions.T, self.design_features_, terms.T)
        base = np.full(X.shape[0], self.bias_ + float(self.design_means_ @ self.weights_))
        return base, contributions


class RedFlagScoreClassifier(_LinearExplainer):
    """A clinical rule or score from the catalogue, mapped to a calibrated probability.

    ``score`` names one engineered feature (``deyo_rule_positive``, ``red_flag_count``); its only
    learned parameters are the slope and intercept of a logistic recalibration of that score on the
    validation cases (``eval_set``), so it stays the clinical rule, with a probability attached.
    """

    def __init__(self, score: str = "deyo_rule_positive") -> None:
        self.score = score

    def _column(self) -> int:
        if self.score not in FEATURE_NAMES:
            raise ValueError(f"score '{self.score}' is not a red flag of the catalogue")
        return FEATURE_NAMES.index(self.score)

    def _design(self, X: Matrix) -> Matrix:
        values = X[:, [self._column()]]
        # Rules count a flag only when known present (catalogue `_present`); keep that for NaN.
        return np.where(np.isnan(values), 0.0, values)

    def fit(
        self,
        X: Matrix,
        y: npt.ArrayLike,
        eval_set: tuple[Matrix, npt.ArrayLike] | None = None,
        progress: ProgressFn | None = None,
    ) -> Self:
        """Recalibrate the score on ``eval_set`` (on ``X`` without one)."""
        check_red_flag_matrix(X)
        y = np.asarray(y, dtype=np.float64)
        X_cal, y_cal = (X, y) if eval_set is None else eval_set
        y_cal = np.asarray(y_cal, dtype=np.float64)
        check_binary_labels("y", y)
        check_binary_labels("eval_set labels", y_cal)
        self.slope_, self.intercept_ = _platt(self._design(X_cal)[:, 0], y_cal)
        self.weights_ = np.array([self.slope_])
        self.bias_ = self.intercept_
        self.design_features_ = np.array([self._column()], dtype=np.int64)
        self._finish(X, y)
        if progress:
            progress(1, 1)
        return self


class LogisticRedFlagClassifier(_LinearExplainer):
    """L2 logistic regression on the red-flag matrix, Platt-recalibrated on the validation cases.

    Missing values are imputed with the training median and flagged by an indicator column per
    feature that has any missing value in training; every design column is standardised.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def _design(self, X: Matrix) -> Matrix:
        missing = np.isnan(X)
        filled = np.where(missing, self.medians_, X)
        design = np.hstack([filled, missing[:, self.indicator_columns_].astype(np.float64)])
        return np.asarray((design - self.centre_) / self.scale_, dtype=np.float64)

    def fit(
        self,
        X: Matrix,
        y: npt.ArrayLike,
        eval_set: tuple[Matrix, npt.ArrayLike] | None = None,
        progress: ProgressFn | None = None,
    ) -> Self:
        """Fit on ``X``, then recalibrate its log-odds on ``eval_set`` (held-out fifth without)."""
        check_red_flag_matrix(X)
        y_fit: Matrix = np.asarray(y, dtype=np.float64)
        if eval_set is None:
            from sklearn.model_selection import train_test_split

            X, X_val, y_fit, y_val = train_test_split(
                X, y_fit, test_size=0.2, stratify=y_fit, random_state=0
            )
        else:
            X_val, y_val = eval_set[0], np.asarray(eval_set[1], dtype=np.float64)
        check_binary_labels("y", y_fit)
        check_binary_labels("eval_set labels", y_val)
        missing = np.isnan(X)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(np.where(missing.all(axis=0), 0.0, X), axis=0)
        self.medians_ = np.where(np.isnan(medians), 0.0, medians)
        self.indicator_columns_ = np.flatnonzero(missing.any(axis=0))
        self.centre_ = np.zeros(X.shape[1] + len(self.indicator_columns_))
        self.scale_ = np.ones_like(self.centre_)
        raw = self._design(X)
        centre, scale = raw.mean(axis=0), raw.std(axis=0)
        self.centre_, self.scale_ = centre, np.where(scale > 0, scale, 1.0)
        design = self._design(X)
        # A +1 red flag's weight may not be negative: more of it never lowers the risk, recorded
        # or not (its not-recorded value lies between absent and present), as in the boosted model.
        direction = np.array([flag.direction for flag in RED_FLAGS])
        constrained = np.concatenate(
            [direction == 1, np.zeros(len(self.indicator_columns_), dtype=bool)]
        )
        coef, bias = _logistic_regression(design, y_fit, self.C, self.max_iter, constrained)
        if progress:
            progress(1, 2)
        self.slope_, self.intercept_ = _platt(bias + self._design(X_val) @ coef, y_val)
        self.weights_ = self.slope_ * coef
        self.bias_ = self.intercept_ + self.slope_ * bias
        self.design_features_ = np.concatenate(
            [np.arange(X.shape[1]), self.indicator_columns_]
        ).astype(np.int64)
        self._finish(X, y_fit)
        if progress:
            progress(2, 2)
        return self

    def coefficients(self) -> dict[str, float]:
        """Calibrated log-odds per standardised design column, named by red flag."""
        names = [*FEATURE_NAMES, *(f"{FEATURE_NAMES[j]}_missing" for j in self.indicator_columns_)]
        return dict(zip(names, (float(w) for w in self.weights_), strict=True))
