"""Behaviour of the fitted XGBoost model: a red flag added never lowers the risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.model import RiskPipeline
from features.record import FIELD_KINDS
from training.cohort.simulate import simulate_cohort
from training.fit import fit_model, split_cases

INCREASING = [j for j, flag in enumerate(RED_FLAGS) if flag.direction == 1]
# Case fields whose every derived red flag has clinical direction +1: recording one as present
# instead of absent may only raise the risk.
MONOTONE_FIELDS = [
    name
    for name, kind in FIELD_KINDS.items()
    if kind == "bool"
    and any(name in flag.inputs for flag in RED_FLAGS)
    and all(flag.direction == 1 for flag in RED_FLAGS if name in flag.inputs)
]


@pytest.fixture(scope="module")
def pipeline_and_cases() -> tuple[RiskPipeline, pd.DataFrame]:
    split = split_cases(simulate_cohort(20_000, 5, "emergency"), 5)
    # A learning rate this high with deep trees overfits: exactly when a constraint matters.
    pipeline = fit_model(split, "xgboost", 5, {"max_depth": 6, "learning_rate": 0.3})
    return pipeline, simulate_cohort(3_000, 99, "emergency")


def test_catalogue_marks_flags_and_fields_as_increasing() -> None:
    assert len(INCREASING) >= 20
    assert {"history_of_cancer", "limb_weakness", "bowel_bladder_dysfunction"} <= set(
        MONOTONE_FIELDS
    )
    assert "recent_trauma" not in MONOTONE_FIELDS  # direction 0: a differential, not a red flag
    # Ambiguous between malignancy and a differential (radiculopathy, infection): unconstrained.
    assert not {"numbness_tingling", "fever"} & set(MONOTONE_FIELDS)


@pytest.mark.parametrize("j", INCREASING, ids=[FEATURE_NAMES[j] for j in INCREASING])
def test_raising_a_red_flag_never_lowers_the_probability(
    pipeline_and_cases: tuple[RiskPipeline, pd.DataFrame], j: int
) -> None:
    pipeline, cases = pipeline_and_cases
    classifier = pipeline[-1]
    matrix = pipeline[:-1].transform(cases)
    column = matrix[:, j]
    known = column[~np.isnan(column)]
    low, high = (
        (0.0, 1.0) if set(np.unique(known)) <= {0.0, 1.0} else np.percentile(known, [10, 90])
    )
    absent, present = matrix.copy(), matrix.copy()
    absent[:, j], present[:, j] = low, high
    before = classifier.predict_proba(absent)[:, 1]
    after = classifier.predict_proba(present)[:, 1]
    assert np.all(after >= before - 1e-12)


@pytest.mark.parametrize("field", MONOTONE_FIELDS)
def test_recording_a_red_flag_present_never_lowers_the_probability(
    pipeline_and_cases: tuple[RiskPipeline, pd.DataFrame], field: str
) -> None:
    pipeline, cases = pipeline_and_cases
    absent = cases.copy()
    absent[field] = pd.array([False] * len(cases), dtype="boolean")
    present = absent.copy()
    present[field] = pd.array([True] * len(cases), dtype="boolean")
    if field == "history_of_cancer":
        absent["cancer_type"] = pd.array([None] * len(cases), dtype="string")
        present["cancer_type"] = absent["cancer_type"]
        absent["years_since_cancer_diagnosis"] = np.nan
        present["years_since_cancer_diagnosis"] = np.nan
    before, after = pipeline.predict_risk(absent), pipeline.predict_risk(present)
    assert np.all(after >= before - 1e-12)


def test_the_model_responds_to_the_strongest_red_flag(
    pipeline_and_cases: tuple[RiskPipeline, pd.DataFrame],
) -> None:
    """Guards the tests above against a model that ignores its inputs (flat is monotone too)."""
    pipeline, cases = pipeline_and_cases
    absent = cases.assign(history_of_cancer=False, cancer_type=None)
    absent["years_since_cancer_diagnosis"] = np.nan
    # A realistic previous cancer comes with its date (not a monotone comparison: not needed here).
    present = absent.assign(history_of_cancer=True, years_since_cancer_diagnosis=3.0)
    ratio = pipeline.predict_risk(present) / pipeline.predict_risk(absent)
    assert np.median(ratio) > 2  # previous cancer: LR+ 15.5 in docs/references.md
