"""The clinical and statistical baselines: definitions, calibration and exact explanations."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from features import LABEL
from features.baselines import LogisticRedFlagClassifier, RedFlagScoreClassifier
from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.log_odds import sigmoid
from features.transform import RedFlagFeatures
from training.cohort.simulate import simulate_cohort
from training.fit import Split, fit_model, split_cases

DEYO = FEATURE_NAMES.index("deyo_rule_positive")
COUNT = FEATURE_NAMES.index("red_flag_count")


@pytest.fixture(scope="module")
def split() -> Split:
    return split_cases(simulate_cohort(20_000, 11, "emergency"), 11)


def _case(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "age": 40,
        "history_of_cancer": False,
        "unexplained_weight_loss_kg": 0.0,
        "failed_conservative_treatment": False,
    }
    return base | fields


@pytest.mark.parametrize(
    ("fields", "positive"),
    [
        ({}, False),
        ({"age": 49}, False),
        ({"age": 50}, True),
        ({"history_of_cancer": True, "cancer_type": "breast"}, True),
        ({"unexplained_weight_loss_kg": 3.0}, True),
        ({"failed_conservative_treatment": True}, True),
        # Not recorded counts as absent, as in the published rule.
        ({"failed_conservative_treatment": None, "unexplained_weight_loss_kg": None}, False),
        ({"night_pain": True, "fever": True, "thoracic": True}, False),
    ],
)
def test_deyo_rule_is_any_of_its_four_signs(fields: dict[str, object], positive: bool) -> None:
    fields = {k: v for k, v in fields.items() if k != "thoracic"}
    matrix = RedFlagFeatures().transform([_case(**fields)])
    assert matrix[0, DEYO] == float(positive)


def test_deyo_baseline_gives_each_rule_group_its_validation_rate(split: Split) -> None:
    pipeline = fit_model(split, "deyo-rule", 0)
    features = RedFlagFeatures()
    rule_val = features.transform(split.validation)[:, DEYO]
    y_val = split.validation[LABEL].to_numpy()
    p_test = pipeline.predict_risk(split.test)
    rule_test = features.transform(split.test)[:, DEYO]
    assert len(np.unique(np.round(p_test, 12))) == 2  # the rule, nothing else
    for group in (0.0, 1.0):
        # An unpenalised logistic fit on one binary score reproduces each group's observed rate.
        expected = y_val[rule_val == group].mean()
        assert p_test[rule_test == group] == pytest.approx(expected, abs=1e-4)
    assert p_test[rule_test == 1].min() > p_test[rule_test == 0].max()


def test_red_flag_count_baseline_rises_with_the_count(split: Split) -> None:
    pipeline = fit_model(split, "red-flag-count", 0)
    classifier = pipeline.classifier
    assert isinstance(classifier, RedFlagScoreClassifier)
    assert classifier.slope_ > 0
    count = RedFlagFeatures().transform(split.test)[:, COUNT]
    p = pipeline.predict_risk(split.test)
    order = np.argsort(count, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-15)


@pytest.mark.parametrize("model", ["logistic", "deyo-rule", "red-flag-count"])
def test_baseline_explanations_add_up_exactly(split: Split, model: str) -> None:
    pipeline = fit_model(split, model, 0)
    cases = split.test.head(500)
    matrix, base, contributions = pipeline.explain(cases)
    assert contributions.shape == (500, len(FEATURE_NAMES))
    assert np.isnan(matrix).any()  # missing values are part of what is explained
    np.testing.assert_allclose(
        sigmoid(base + contributions.sum(axis=1)), pipeline.predict_risk(cases), rtol=0, atol=1e-12
    )
    # Linear attribution: each contribution is zero at the training mean of its design column.
    if model != "logistic":
        score = DEYO if model == "deyo-rule" else COUNT
        others = np.delete(contributions, score, axis=1)
        assert np.all(others == 0.0)
        classifier = pipeline.classifier
        assert isinstance(classifier, RedFlagScoreClassifier)
        expected = classifier.slope_ * (matrix[:, score] - classifier.design_means_[0])
        np.testing.assert_allclose(contributions[:, score], expected, atol=1e-12)


def test_logistic_handles_missing_values_with_indicators(split: Split) -> None:
    pipeline = fit_model(split, "logistic", 0)
    classifier = pipeline.classifier
    assert isinstance(classifier, LogisticRedFlagClassifier)
    names = classifier.coefficients()
    # A flag without a clinical direction keeps a missing indicator; a +1 flag has none: its
    # ordinal "not recorded" value stands in, so that its weight alone orders the three states.
    assert "pain_score_missing" in names and "weight_kg" not in FEATURE_NAMES
    assert "esr_mm_per_h_missing" not in names and "night_pain_missing" not in names
    plus_one = [flag.name for flag in RED_FLAGS if flag.direction == 1]
    assert all(names[name] >= 0 for name in plus_one)
    assert "age_missing" not in names  # age is required, never missing in training
    # A case with everything unrecorded except age still gets a finite probability.
    p = pipeline.predict_risk(pd.DataFrame({"age": [70]}))
    assert np.isfinite(p).all() and 0 < p[0] < 1


def test_baselines_pickle_and_keep_their_predictions(split: Split) -> None:
    for model in ("logistic", "deyo-rule"):
        pipeline = fit_model(split, model, 0)
        again = pickle.loads(pickle.dumps(pipeline))
        np.testing.assert_array_equal(
            again.predict_risk(split.test.head(50)), pipeline.predict_risk(split.test.head(50))
        )


def test_baselines_refuse_a_matrix_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="red flags"):
        RedFlagScoreClassifier().fit(np.zeros((4, 3)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="red flags"):
        LogisticRedFlagClassifier().fit(np.zeros((4, 3)), np.array([0, 1, 0, 1]))


def test_baselines_refuse_one_class() -> None:
    X = np.zeros((10, len(FEATURE_NAMES)))
    with pytest.raises(ValueError, match="both classes"):
        RedFlagScoreClassifier().fit(X, np.zeros(10))


def test_unknown_score_is_refused() -> None:
    X = np.zeros((4, len(FEATURE_NAMES)))
    with pytest.raises(ValueError, match="not a red flag"):
        RedFlagScoreClassifier(score="tarot").fit(X, np.array([0, 1, 0, 1]))
