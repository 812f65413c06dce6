"""The fast paths of the scoring core give the plain computation's numbers: the merged interval
members, the quantiles, the explanation (TreeSHAP, adding up), the next questions and the
unrecorded range, each against a direct reference on the real model of the test store."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.interval import EvidenceInterval, quantiles
from features.log_odds import logit, sigmoid
from features.model import RiskPipeline
from features.questions import QUESTIONS
from features.scoring import score_cases
from features.transform import case_columns
from tests.cases import case_records
from tests.conftest import ChampionStore


@pytest.fixture(scope="module")
def pipeline(champion_store: ChampionStore) -> RiskPipeline:
    return champion_store.model.pipeline


def _interval(pipeline: RiskPipeline) -> EvidenceInterval:
    interval = pipeline.interval
    assert interval is not None
    return interval


def _bounds_one_by_one(
    interval: EvidenceInterval, matrix: np.ndarray, log_odds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The interval as computed before the members were merged: a call per member, np.quantile."""
    members = np.column_stack([member.decision_function(matrix) for member in interval.members])
    deviations = members - members.mean(axis=1, keepdims=True)
    tail = (1.0 - interval.level) / 2.0
    low, high = np.quantile(deviations, [tail, 1.0 - tail], axis=1)
    low, high = interval.scale * np.minimum(low, 0.0), interval.scale * np.maximum(high, 0.0)
    return sigmoid(log_odds + low), sigmoid(log_odds + high)


def test_the_merged_members_are_the_members_bit_for_bit(
    pipeline: RiskPipeline, fresh_cases: pd.DataFrame
) -> None:
    interval = _interval(pipeline)
    matrix = pipeline[0].transform(fresh_cases)
    own = np.column_stack([member.decision_function(matrix) for member in interval.members])
    assert np.array_equal(interval.member_log_odds(matrix), own)
    assert interval._merged is not None and interval._merged.booster is not None  # one call
    log_odds = pipeline.classifier.decision_function(matrix) + 1.3  # a setting's shift
    for got, expected in zip(
        interval.bounds(matrix, log_odds),
        _bounds_one_by_one(interval, matrix, log_odds),
        strict=True,
    ):
        assert np.array_equal(got, expected)


def test_recalibrated_and_unpickled_intervals_stay_exact(
    pipeline: RiskPipeline, fresh_cases: pd.DataFrame
) -> None:
    matrix = pipeline[0].transform(fresh_cases.head(500))
    _interval(pipeline).member_log_odds(matrix)  # built once
    recalibrated = _interval(pipeline.with_calibration(0.8, -0.4, 0.02))
    assert recalibrated._merged is _interval(pipeline)._merged  # the same boosters: shared
    own = np.column_stack([m.decision_function(matrix) for m in recalibrated.members])
    assert np.array_equal(recalibrated.member_log_odds(matrix), own)
    restored: EvidenceInterval = pickle.loads(pickle.dumps(_interval(pipeline)))
    assert restored._merged is None  # never stored with the model: rebuilt on first use
    log_odds = np.zeros(len(matrix))
    assert np.array_equal(
        restored.bounds(matrix, log_odds)[1], _interval(pipeline).bounds(matrix, log_odds)[1]
    )


@pytest.mark.parametrize("members", [2, 3, 7, 8, 9, 20])
@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_quantiles_are_numpys(members: int, level: float) -> None:
    values = np.random.default_rng(members).normal(size=(300, members))
    tail = (1 - level) / 2
    for got, expected in zip(
        quantiles(values, (tail, 1 - tail)),
        np.quantile(values, [tail, 1 - tail], axis=1),
        strict=True,
    ):
        assert np.array_equal(got, expected)


def test_the_explanation_is_treeshap_and_adds_up(
    pipeline: RiskPipeline, fresh_cases: pd.DataFrame
) -> None:
    import shap

    cases = fresh_cases.head(400)
    scores = score_cases(pipeline, cases, setting="oncology", explain=True)
    assert scores.contributions is not None and scores.base_value is not None
    classifier: Any = pipeline.classifier
    treeshap = np.asarray(shap.TreeExplainer(classifier.booster_).shap_values(scores.matrix))
    np.testing.assert_allclose(scores.contributions, classifier.slope_ * treeshap, atol=1e-6)
    total = scores.base_value + scores.contributions.sum(axis=1)
    np.testing.assert_allclose(total, logit(scores.probability), atol=1e-5)
    one = score_cases(pipeline, cases.head(1), setting="oncology", explain=True)
    assert one.contributions is not None
    assert np.array_equal(one.contributions[0], scores.contributions[0])


def _reference_questions(pipeline: RiskPipeline, case: dict[str, Any], k: int) -> list[Any]:
    """The next questions case by case and answer by answer, as the plain definition says."""
    now = score_cases(pipeline, [case])
    priors = pipeline.finding_priors
    assert priors is not None
    chances = priors.chances(case_columns([case]))
    laid = []
    for question in QUESTIONS:
        if case.get(question.field) is not None:
            continue
        if question.needs is not None and case.get(question.needs) is not True:
            continue
        answered = [{**case, question.field: answer.value} for answer in question.answers]
        scored = score_cases(pipeline, answered)
        chance = chances[question.field]
        width = len(question.answers)
        weights = chance[0] if chance is not None else np.full(width, 1 / width)
        change = np.abs(logit(scored.probability) - logit(now.probability[0]))
        laid.append(
            {
                "field": question.field,
                "probabilities": scored.probability.tolist(),
                "chances": None if chance is None else chance[0].tolist(),
                "expected_change": float(weights @ change),
                "changes_band": bool((scored.risk_band != now.risk_band[0]).any()),
                "changes_urgent": bool((scored.urgent != now.urgent[0]).any()),
            }
        )
    laid.sort(key=lambda q: -q["expected_change"])
    return laid[:k]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(case_records(), min_size=4, max_size=4))
def test_next_questions_and_the_range_match_case_by_case(
    pipeline: RiskPipeline, cases: list[dict[str, Any]]
) -> None:
    together = score_cases(pipeline, cases, detail=True, next_questions=5)
    assert together.unrecorded_low is not None and together.unrecorded_high is not None
    for i, case in enumerate(cases):
        alone = score_cases(pipeline, [case], detail=True)
        assert alone.unrecorded_low is not None and alone.unrecorded_high is not None
        assert together.unrecorded_low[i] == alone.unrecorded_low[0]
        assert together.unrecorded_high[i] == alone.unrecorded_high[0]
        expected = _reference_questions(pipeline, case, 5)
        got = together.next_questions[i]
        assert [q["field"] for q in got] == [q["field"] for q in expected]
        for question, reference in zip(got, expected, strict=True):
            assert [a["probability"] for a in question["answers"]] == reference["probabilities"]
            # Sums of products in another order (one matrix product for every question's prior,
            # the expected change summed per group): equal but for the last bits.
            if reference["chances"] is not None:
                chances = [a["chance"] for a in question["answers"]]
                assert chances == pytest.approx(reference["chances"], rel=1e-12, abs=1e-15)
            assert question["expected_change"] == pytest.approx(
                reference["expected_change"], rel=1e-12, abs=1e-15
            )
            assert question["changes_band"] == reference["changes_band"]
            assert question["changes_urgent"] == reference["changes_urgent"]
