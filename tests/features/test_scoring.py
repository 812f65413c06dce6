"""The scoring core's detail: what the unrecorded findings could do, the evidence interval, the
next questions, and which flags were recorded; checked on the real model of the test store."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.catalogue import FEATURE_NAMES
from features.model import RiskPipeline
from features.scoring import score_cases
from features.unrecorded import BOOLEAN_FIELDS, MONOTONE_FINDINGS
from tests.cases import case_records
from tests.conftest import ChampionStore

FEW_UNRECORDED = 7  # 2^7 fillings: brute force stays cheap


@pytest.fixture(scope="module")
def pipeline(champion_store: ChampionStore) -> RiskPipeline:
    return champion_store.model.pipeline


def _brute_force(pipeline: RiskPipeline, case: dict[str, Any]) -> tuple[float, float]:
    missing = [name for name in BOOLEAN_FIELDS if case.get(name) is None]
    filled = [
        {**case, **dict(zip(missing, values, strict=True))}
        for values in itertools.product((False, True), repeat=len(missing))
    ]
    p = score_cases(pipeline, [case, *filled]).probability
    return float(p.min()), float(p.max())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=case_records())
def test_the_unrecorded_range_is_exact(pipeline: RiskPipeline, case: dict[str, Any]) -> None:
    for name in BOOLEAN_FIELDS[FEW_UNRECORDED:]:  # keep at most FEW_UNRECORDED unrecorded
        case.setdefault(name, False)
    scores = score_cases(pipeline, [case], detail=True)
    low, high = _brute_force(pipeline, case)
    assert scores.unrecorded_low is not None and scores.unrecorded_high is not None
    assert scores.unrecorded_low[0] == pytest.approx(low, abs=1e-12)
    assert scores.unrecorded_high[0] == pytest.approx(high, abs=1e-12)
    assert set(scores.unrecorded_fields[0]) == {n for n in BOOLEAN_FIELDS if case.get(n) is None}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(case_records(), min_size=20, max_size=20))
def test_the_interval_and_the_range_hold_the_estimate(
    pipeline: RiskPipeline, cases: list[dict[str, Any]]
) -> None:
    scores = score_cases(pipeline, cases, setting="oncology", detail=True)
    p = scores.probability
    assert scores.interval_low is not None and scores.interval_high is not None
    assert (scores.interval_low <= p + 1e-12).all() and (p <= scores.interval_high + 1e-12).all()
    assert (scores.unrecorded_low <= p + 1e-12).all()  # type: ignore[operator]
    assert (p <= scores.unrecorded_high + 1e-12).all()  # type: ignore[operator]
    assert scores.interval_level == 0.9 and "redrawn" in str(scores.interval_method)


def test_the_interval_is_measured_at_training(pipeline: RiskPipeline) -> None:
    interval = pipeline.interval
    assert interval is not None and len(interval.members) == 8
    assert interval.coverage is not None
    assert interval.coverage >= interval.level or interval.scale == 4.0  # the stretch's ceiling
    assert list(interval.widths) == ["0 recorded", "4 recorded", "8 recorded", "12 recorded",
                                     "17 recorded"]  # fmt: skip
    assert all(0 < width < 20 for width in interval.widths.values())


def test_a_flag_is_recorded_only_when_an_input_is(pipeline: RiskPipeline) -> None:
    scores = score_cases(pipeline, [{"age": 70, "night_pain": True}], detail=True)
    assert scores.recorded is not None
    recorded = dict(zip(FEATURE_NAMES, scores.recorded[0].tolist(), strict=True))
    assert recorded["night_pain"] and recorded["age_50_or_over"]
    assert not recorded["history_of_cancer"] and not recorded["current_smoker"]
    assert np.isnan(scores.values[0, FEATURE_NAMES.index("history_of_cancer")])


def test_next_questions_rank_unrecorded_answers(pipeline: RiskPipeline) -> None:
    case = {"age": 68, "history_of_cancer": True, "cancer_type": "lung", "night_pain": True}
    (questions,) = score_cases(pipeline, [case], next_questions=30).next_questions
    fields = [q["field"] for q in questions]
    assert fields and not {"age", "history_of_cancer", "cancer_type", "night_pain"} & set(fields)
    changes = [q["expected_change"] for q in questions]
    assert changes == sorted(changes, reverse=True)
    by_field = {q["field"]: q for q in questions}
    for name in MONOTONE_FINDINGS:
        if name in by_field:
            assert by_field[name]["if_present"] >= by_field[name]["if_absent"] - 1e-12
    # A deficit with a known cancer is suspected cord compression: the answer changes urgency.
    assert by_field["limb_weakness"]["changes_urgent"]
    assert not by_field["fatigue"]["changes_urgent"]
    for question in questions:
        chances = [a["chance"] for a in question["answers"]]
        assert sum(chances) == pytest.approx(1.0)
    assert len(score_cases(pipeline, [case], next_questions=3).next_questions[0]) == 3


def test_a_model_without_companions_scores_without_them(pipeline: RiskPipeline) -> None:
    import copy

    legacy = copy.deepcopy(pipeline)
    del legacy.interval_, legacy.finding_priors_
    scores = score_cases(legacy, [{"age": 60, "fever": True}], detail=True, next_questions=2)
    assert scores.interval_low is None and scores.interval_method is None
    assert all(a["chance"] is None for q in scores.next_questions[0] for a in q["answers"])
    assert scores.unrecorded_low is not None
