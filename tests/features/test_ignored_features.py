"""Features the booster is told to ignore stay in the matrix with a zero contribution."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from features import LABEL
from features.catalogue import FEATURE_NAMES
from features.model import CalibratedBoostedClassifier
from features.transform import RedFlagFeatures
from training.cohort.simulate import simulate_cohort

IGNORED = ("pain_score", "numbness_tingling")


def test_an_ignored_feature_is_never_split_on_and_explains_nothing() -> None:
    cases = simulate_cohort(6_000, seed=3, setting="oncology")
    X = RedFlagFeatures().fit(cases).transform(cases)
    y = cases[LABEL].to_numpy()
    classifier = CalibratedBoostedClassifier(
        n_estimators=60, learning_rate=0.3, ignored_features=IGNORED, n_jobs=1
    ).fit(X, y)
    _, contributions = classifier.explain(X)
    columns = [FEATURE_NAMES.index(name) for name in IGNORED]
    assert np.all(contributions[:, columns] == 0)
    used = np.flatnonzero(np.abs(contributions).sum(axis=0) > 0)
    assert len(used) >= 5 and not set(used) & set(columns)
    assert classifier.visible(X) is not X and np.isnan(classifier.visible(X)[:, columns]).all()
    assert classifier.get_params()["ignored_features"] == IGNORED


def test_unknown_names_are_refused_and_old_pickles_ignore_nothing() -> None:
    with pytest.raises(ValueError, match="ignored_features: unknown feature"):
        CalibratedBoostedClassifier(ignored_features=("shoe_size",)).visible(np.zeros((1, 1)))
    old = CalibratedBoostedClassifier()
    del old.__dict__["ignored_features"]  # as a model pickled before the parameter existed
    restored = pickle.loads(pickle.dumps(old))
    assert restored.ignored_features == () and restored.get_params()["ignored_features"] == ()
