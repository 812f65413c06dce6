"""The calibrated, explainable classifier that ends the model pipeline.

It lives beside the features, not in training, because serving must unpickle it without importing
training code. Probabilities are calibrated by a logistic recalibration of the booster margin
(Platt scaling in log-odds); TreeSHAP contributions are scaled by the same slope, so
``sigmoid(base + sum(contributions)) == probability`` holds exactly.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Self

import numpy as np
import numpy.typing as npt
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.log_odds import sigmoid

if TYPE_CHECKING:
    from features.interval import EvidenceInterval
    from features.questions import FindingPriors

Matrix = npt.NDArray[np.float64]

ProgressFn = Callable[[int, int], None]
"""Reports work done: (units done, units in all); every long step takes one."""


def check_red_flag_matrix(X: Matrix) -> None:
    """Refuse a matrix that is not one column per red flag of the catalogue."""
    if X.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"X has {X.shape[1]} columns, expected {len(FEATURE_NAMES)} red flags")


def check_calibration_slope(slope: float) -> None:
    """Refuse a recalibration that would reverse the score (every red flag's direction with it)."""
    if not slope > 0:
        raise ValueError(
            f"the calibration slope is {slope:.4g}: the score does not rise with risk on the "
            "calibration cases (too few events, or the wrong labels?)"
        )


def check_binary_labels(name: str, labels: npt.ArrayLike) -> None:
    """Refuse labels that are not both 0 and 1 (and nothing else)."""
    if set(np.unique(labels)) != {0.0, 1.0}:
        raise ValueError(f"{name} must contain both classes 0 and 1")


def check_calibration(slope: float, intercept: float, prevalence: float) -> None:
    """Refuse a recalibration that is not finite, reverses the ranking, or a prevalence not in
    (0, 1)."""
    if not (np.isfinite(slope) and np.isfinite(intercept)):
        raise ValueError(
            f"recalibration needs a finite slope and intercept, got {slope}, {intercept}"
        )
    check_calibration_slope(slope)
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must be strictly between 0 and 1, got {prevalence}")


class ExplainableClassifier(Protocol):
    """What serving needs of the final pipeline step."""

    train_prevalence_: float

    def decision_function(self, X: Matrix) -> Matrix: ...

    def explain(self, X: Matrix) -> tuple[Matrix, Matrix]: ...

    def with_calibration(self, slope: float, intercept: float, prevalence: float) -> Any: ...


class _Progress(xgb.callback.TrainingCallback):
    def __init__(self, report: ProgressFn, total: int) -> None:
        self.report, self.total = report, total

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.report(epoch + 1, self.total)
        return False


class LogOddsClassifierMixin(ClassifierMixin):  # type: ignore[misc]
    """``predict_proba`` and ``predict`` of a classifier whose ``decision_function`` is calibrated
    log-odds: shared by the boosted model and the baselines."""

    def decision_function(self, X: Matrix) -> Matrix:
        raise NotImplementedError

    def predict_proba(self, X: Matrix) -> Matrix:
        """Calibrated probabilities, columns for classes 0 and 1."""
        p = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Matrix) -> npt.NDArray[np.int64]:
        """Class at probability 0.5 (use the probability and the risk bands instead)."""
        return (self.decision_function(X) > 0).astype(np.int64)


class CalibratedBoostedClassifier(LogOddsClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted trees on the red-flag matrix, with a Platt-scaled margin.

    Monotone constraints follow each red flag's clinical direction in the catalogue (a red flag
    present never lowers risk) when ``monotone`` is true.
    """

    def __init__(
        self,
        n_estimators: int = 600,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        monotone: bool = True,
        random_state: int = 0,
        n_jobs: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.monotone = monotone
        self.random_state = random_state
        self.n_jobs = n_jobs

    def booster_params(self) -> dict[str, Any]:
        """XGBoost training parameters, monotone constraints included (also used on Dask)."""
        params: dict[str, Any] = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "seed": self.random_state,
        }
        if self.n_jobs:
            params["nthread"] = self.n_jobs
        if self.monotone:
            params["monotone_constraints"] = (
                "(" + ",".join(str(flag.direction) for flag in RED_FLAGS) + ")"
            )
        return params

    def fit(
        self,
        X: Matrix,
        y: npt.ArrayLike,
        eval_set: tuple[Matrix, npt.ArrayLike] | None = None,
        progress: ProgressFn | None = None,
    ) -> Self:
        """Fit the booster with early stopping on ``eval_set``, then calibrate its margin there.

        Without ``eval_set`` a stratified fifth of ``X`` is held out for both.
        """
        y = np.asarray(y, dtype=np.float64)
        check_red_flag_matrix(X)
        if eval_set is None:
            from sklearn.model_selection import train_test_split

            X, X_val, y, y_val = train_test_split(
                X, y, test_size=0.2, stratify=y, random_state=self.random_state
            )
        else:
            X_val, y_val = eval_set[0], np.asarray(eval_set[1], dtype=np.float64)
        check_binary_labels("y", y)
        check_binary_labels("eval_set labels", y_val)
        names = list(FEATURE_NAMES)
        train = xgb.DMatrix(X, label=y, missing=np.nan, feature_names=names)
        valid = xgb.DMatrix(X_val, label=y_val, missing=np.nan, feature_names=names)
        callbacks = [_Progress(progress, self.n_estimators)] if progress else []
        booster = xgb.train(
            self.booster_params(),
            train,
            num_boost_round=self.n_estimators,
            evals=[(valid, "validation")],
            early_stopping_rounds=self.early_stopping_rounds,
            callbacks=callbacks,
            verbose_eval=False,
        )
        return self.calibrate_booster(
            booster, X_val, y_val, float(np.mean(np.asarray(y, dtype=np.float64)))
        )

    def calibrate_booster(
        self, booster: xgb.Booster, X_val: Matrix, y_val: npt.ArrayLike, train_prevalence: float
    ) -> Self:
        """Keep ``booster`` up to its best iteration and Platt-scale its margin on validation.

        ``fit`` ends here; so does training on a Dask cluster, which fits the booster elsewhere.
        """
        y_val = np.asarray(y_val, dtype=np.float64)
        best = getattr(booster, "best_iteration", None)
        self.best_iteration_ = int(best) if best is not None else booster.num_boosted_rounds() - 1
        self.booster_ = booster[: self.best_iteration_ + 1]
        margin = self._margin(X_val)
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y_val)
        self.slope_ = float(platt.coef_[0, 0])
        self.intercept_ = float(platt.intercept_[0])
        check_calibration_slope(self.slope_)
        self.classes_ = np.array([0, 1])
        self.train_prevalence_ = train_prevalence
        self.n_features_in_ = X_val.shape[1]
        return self

    def _margin(self, X: Matrix) -> Matrix:
        return np.asarray(
            self.booster_.inplace_predict(X, predict_type="margin", missing=np.nan),
            dtype=np.float64,
        )

    def decision_function(self, X: Matrix) -> Matrix:
        """Calibrated log-odds of malignancy."""
        return self.intercept_ + self.slope_ * self._margin(X)

    def with_calibration(self, slope: float, intercept: float, prevalence: float) -> Self:
        """A copy whose log-odds are ``intercept + slope * (these log-odds)``, calibrated to
        ``prevalence``: the same booster with a new final Platt step (a site recalibration).

        The explanation's base value and contributions move with it, so it still adds up.
        """
        check_calibration(slope, intercept, prevalence)
        recalibrated = copy.copy(self)  # shallow: the booster is shared, never modified
        recalibrated.slope_ = slope * self.slope_
        recalibrated.intercept_ = intercept + slope * self.intercept_
        recalibrated.train_prevalence_ = prevalence
        return recalibrated

    def explain(self, X: Matrix) -> tuple[Matrix, Matrix]:
        """Exact TreeSHAP in calibrated log-odds: (base value per row, contribution per feature)."""
        # Built with the booster's threads: a DMatrix takes every OpenMP thread by default, and
        # on a busy machine their start-up barrier cost 25 ms for one row (0.09 ms with one).
        nthread = self.n_jobs or -1
        matrix = xgb.DMatrix(X, missing=np.nan, feature_names=list(FEATURE_NAMES), nthread=nthread)
        raw = self.booster_.predict(matrix, pred_contribs=True)
        raw = np.asarray(raw, dtype=np.float64)
        base = self.intercept_ + self.slope_ * raw[:, -1]
        return base, self.slope_ * raw[:, :-1]


class RiskPipeline(Pipeline):  # type: ignore[misc]
    """Feature engineering then a calibrated classifier: the one artefact logged to MLflow.

    It is logged with ``predict_proba`` as the pyfunc entry point: ``mlflow.pyfunc`` users get
    column 1 as the calibrated probability per case, the same number the API returns.
    """

    def predict_risk(self, X: Any) -> Matrix:
        """Calibrated probability of spinal malignancy, one per case."""
        return sigmoid(self.decision_function(X))

    def explain(self, X: Any) -> tuple[Matrix, Matrix, Matrix]:
        """(engineered matrix, base value per row, contribution per feature) in log-odds."""
        matrix = self[:-1].transform(X)
        base, contributions = self[-1].explain(matrix)
        return matrix, base, contributions

    def with_calibration(self, slope: float, intercept: float, prevalence: float) -> RiskPipeline:
        """The same features and classifier, its log-odds mapped to ``intercept + slope * x`` and
        calibrated to ``prevalence`` (see the classifiers' ``with_calibration``)."""
        recalibrated = self.classifier.with_calibration(slope, intercept, prevalence)
        pipeline = RiskPipeline([(self.steps[0][0], self[0]), (self.steps[-1][0], recalibrated)])
        # The companions travel with it: the members get the same map, so the interval's spread
        # is in the recalibrated log-odds too.
        pipeline.finding_priors_ = self.finding_priors
        interval = self.interval
        if interval is not None:
            members = [m.with_calibration(slope, intercept, prevalence) for m in interval.members]
            pipeline.interval_ = dataclasses.replace(interval, members=members)
        return pipeline

    @property
    def classifier(self) -> ExplainableClassifier:
        """The final, explainable step."""
        return self[-1]  # type: ignore[no-any-return]

    # Companions fitted beside the model (training.run) and pickled with it; a model registered
    # before they existed has neither, and its predictions go without them.
    @property
    def finding_priors(self) -> FindingPriors | None:
        """The chance of each unrecorded answer given what is recorded (next questions)."""
        return getattr(self, "finding_priors_", None)

    @property
    def interval(self) -> EvidenceInterval | None:
        """The evidence ensemble behind each estimate's interval."""
        return getattr(self, "interval_", None)


def make_pipeline(classifier: BaseEstimator) -> RiskPipeline:
    """The red-flag transformer followed by ``classifier``."""
    from features.transform import RedFlagFeatures

    return RiskPipeline([("features", RedFlagFeatures()), ("classifier", classifier)])
