"""Monotone in every direction: recording a +1 finding present never lowers the estimate, and
recording it absent never raises it, from "not recorded" as from the other answer:
f(absent) <= f(not recorded) <= f(present), for the boosted model and the logistic baseline, in
every setting and after a recalibration, over thousands of generated valid cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.model import RiskPipeline
from features.scoring import score_cases
from features.setting import SETTINGS
from features.unrecorded import MONOTONE_FINDINGS
from tests.cases import case_records
from training.cohort.simulate import simulate_cohort
from training.fit import fit_model, split_cases

# Inputs that feed only +1 red flags, and their (lowest, highest) recorded answers.
NUMBERS = {
    "unexplained_weight_loss_kg": (0.0, 20.0),
    "pack_years": (0.0, 120.0),
    "esr_mm_per_h": (0.0, 150.0),
}
CHOICES = {"smoking_status": ("never", "current")}
INPUTS = {
    **dict.fromkeys(MONOTONE_FINDINGS, (False, True)),
    **NUMBERS,
    **CHOICES,
}
# Each example is a batch, scored in one call: 5 examples of 400 cases, 2,000 cases an input.
BATCH = st.lists(case_records(), min_size=400, max_size=400)
CHECK = settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@pytest.fixture(scope="module")
def pipelines() -> dict[str, RiskPipeline]:
    split = split_cases(simulate_cohort(20_000, 5, "emergency"), 5)
    return {
        # A learning rate this high with deep trees overfits: exactly when a constraint matters.
        "xgboost": fit_model(split, "xgboost", 5, {"max_depth": 6, "learning_rate": 0.3}),
        "logistic": fit_model(split, "logistic", 5),
    }


def _with(cases: list[dict[str, Any]], name: str, value: Any) -> list[dict[str, Any]]:
    out = []
    for case in cases:
        changed = {k: v for k, v in case.items() if k != name}
        if value is not None:
            changed[name] = value
        if name == "pack_years" and changed.get("smoking_status") == "never" and value:
            changed["smoking_status"] = "current"  # the record's rule: never-smokers have 0
        if name == "smoking_status" and value == "never":
            changed.pop("pack_years", None)
        if name == "unexplained_weight_loss_kg" and value and "weight_kg" in changed:
            changed["weight_kg"] = max(changed["weight_kg"], 2 * value + 25)
        out.append(changed)
    return out


def _ordered(pipeline: RiskPipeline, cases: list[dict[str, Any]], name: str, setting: Any) -> None:
    low_answer, high_answer = INPUTS[name]
    low, unknown, high = (
        score_cases(pipeline, _with(cases, name, value), setting=setting).probability
        for value in (low_answer, None, high_answer)
    )
    assert (low <= unknown + 1e-12).all(), f"{name}: absent above not recorded"
    assert (unknown <= high + 1e-12).all(), f"{name}: not recorded above present"


@pytest.mark.parametrize("model", ["xgboost", "logistic"])
def test_recording_a_plus_one_input_moves_the_estimate_its_way(
    pipelines: dict[str, RiskPipeline], model: str
) -> None:
    # One generated batch serves every input: drawing valid records is the slow part.
    @CHECK
    @given(cases=BATCH, setting=st.sampled_from([None, *SETTINGS]))
    def check(cases: list[dict[str, Any]], setting: str | None) -> None:
        for name in INPUTS:
            _ordered(pipelines[model], cases, name, setting)

    check()


def test_the_order_survives_a_recalibration(pipelines: dict[str, RiskPipeline]) -> None:
    import copy

    recalibrated = copy.deepcopy(pipelines["xgboost"])
    classifier = recalibrated.classifier
    classifier.slope_, classifier.intercept_ = 0.6 * classifier.slope_, classifier.intercept_ - 1.0

    @CHECK
    @given(cases=BATCH)
    def check(cases: list[dict[str, Any]]) -> None:
        for name in INPUTS:
            _ordered(recalibrated, cases, name, None)

    check()


def test_every_monotone_finding_is_checked() -> None:
    assert {"limb_weakness", "sensory_loss", "failed_conservative_treatment"} <= set(INPUTS)
    assert len(MONOTONE_FINDINGS) >= 12
    assert np.all([isinstance(pair, tuple) for pair in INPUTS.values()])
