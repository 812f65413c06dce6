"""Fit a model on a cohort: the stratified split, the choice of classifier, the fit itself.

``tune`` and ``distributed`` build on this module; it imports neither (import-linter checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from features import LABEL
from features.baselines import LogisticRedFlagClassifier, RedFlagScoreClassifier
from features.model import CalibratedBoostedClassifier, ProgressFn, RiskPipeline, make_pipeline
from training.defaults import MIN_CASES_PER_CLASS, XGBOOST_DEFAULTS, ModelKind

TUNABLE_MODELS = (ModelKind.xgboost, ModelKind.logistic)
SCORE_OF_BASELINE = {
    ModelKind.deyo_rule: "deyo_rule_positive",
    ModelKind.red_flag_count: "red_flag_count",
}


class TrainingError(ValueError):
    """Options or data that training cannot use; the message says what to change."""


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
    if len(counts) < 2 or counts.min() < MIN_CASES_PER_CLASS:
        raise TrainingError(
            f"need at least {MIN_CASES_PER_CLASS} cases of each class to split, "
            f"got {int(counts.get(1, 0))} positive and {int(counts.get(0, 0))} negative"
        )
    # Split row numbers, not the frame: the same rows (the splitter only sees the labels), and
    # the cases are copied once into their part rather than twice.
    labels = cases[LABEL].to_numpy()
    rest, test = train_test_split(
        np.arange(len(cases)), test_size=0.2, stratify=labels, random_state=seed
    )
    train, validation = train_test_split(
        rest, test_size=0.25, stratify=labels[rest], random_state=seed + 1
    )
    return Split(cases.iloc[train], cases.iloc[validation], cases.iloc[test])


def make_classifier(model: str, seed: int, params: dict[str, Any] | None = None) -> Any:
    """The final, explainable pipeline step for ``model`` (a ``ModelKind``)."""
    params = dict(params or {})
    if model == ModelKind.xgboost:
        return CalibratedBoostedClassifier(random_state=seed, **{**XGBOOST_DEFAULTS, **params})
    if model == ModelKind.logistic:
        return LogisticRedFlagClassifier(**params)
    if model in SCORE_OF_BASELINE:
        if params:
            raise TrainingError(f"'{model}' takes no parameters, got {', '.join(params)}")
        return RedFlagScoreClassifier(score=SCORE_OF_BASELINE[ModelKind(model)])
    known = ", ".join(kind.value for kind in ModelKind)
    raise TrainingError(f"unknown model '{model}'; choose one of {known}")


def fit_model(
    split: Split,
    model: str,
    seed: int,
    params: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> RiskPipeline:
    """Any ``ModelKind``, fitted on the training split and calibrated on the validation split."""
    pipeline = make_pipeline(make_classifier(model, seed, params))
    features = pipeline.named_steps["features"]
    # Transforming reads every training case, which is all the stateless transformer's fit
    # checks: fit it on one case rather than derive the whole training split twice.
    train_matrix = features.transform(split.train)
    features.fit(split.train.head(1))
    pipeline.named_steps["classifier"].fit(
        train_matrix,
        split.train[LABEL].to_numpy(),
        eval_set=(features.transform(split.validation), split.validation[LABEL].to_numpy()),
        progress=progress,
    )
    return pipeline
