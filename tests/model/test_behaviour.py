"""Behavioural checks of the trained model: explanations add up, red flags never lower risk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.log_odds import sigmoid
from features.record import CaseRecord
from features.setting import SETTING_PREVALENCE
from serving.responses import explain_cases
from tests.conftest import ChampionStore

THRESHOLDS = (0.01, 0.05)


def records(frame: pd.DataFrame) -> list[CaseRecord]:
    rows = frame.drop(columns=["spinal_malignancy", "diagnosis"], errors="ignore")
    return [
        CaseRecord(**{k: (None if pd.isna(v) else v) for k, v in row.items()})
        for row in rows.to_dict("records")
    ]


@pytest.mark.parametrize("setting", [None, *SETTING_PREVALENCE])
def test_explanations_add_up_to_the_probability(
    champion_store: ChampionStore, fresh_cases: pd.DataFrame, setting: str | None
) -> None:
    results = explain_cases(champion_store.model, records(fresh_cases), THRESHOLDS, setting)
    for result in results:
        explanation = result["explanation"]
        total = explanation["base_value"] + sum(
            c["contribution"] for c in explanation["contributions"]
        )
        assert float(sigmoid(np.array(total))) == pytest.approx(result["probability"], abs=1e-6)


def test_contributions_cover_every_feature_largest_first(
    champion_store: ChampionStore, fresh_cases: pd.DataFrame
) -> None:
    from features.catalogue import FEATURE_NAMES

    (result,) = explain_cases(champion_store.model, records(fresh_cases.head(1)), THRESHOLDS)
    contributions = result["explanation"]["contributions"]
    assert sorted(c["feature"] for c in contributions) == sorted(FEATURE_NAMES)
    sizes = [abs(c["contribution"]) for c in contributions]
    assert sizes == sorted(sizes, reverse=True)


def test_setting_shifts_probability_in_the_direction_of_prevalence(
    champion_store: ChampionStore, fresh_cases: pd.DataFrame
) -> None:
    cases = records(fresh_cases.head(200))
    by_setting = {
        s: np.array(
            [r["probability"] for r in explain_cases(champion_store.model, cases, THRESHOLDS, s)]
        )
        for s in SETTING_PREVALENCE
    }
    assert (by_setting["primary_care"] < by_setting["emergency"]).all()
    assert (by_setting["emergency"] < by_setting["oncology"]).all()


def _flip(frame: pd.DataFrame, change: dict[str, Any]) -> pd.DataFrame:
    flipped = frame.copy()
    for name, value in change.items():
        flipped[name] = pd.Series([value] * len(frame), index=frame.index).astype(frame[name].dtype)
    return flipped


@pytest.mark.parametrize(
    ("absent", "present"),
    [
        ({"history_of_cancer": False}, {"history_of_cancer": True}),
        ({"limb_weakness": False}, {"limb_weakness": True}),
        ({"sensory_loss": False}, {"sensory_loss": True}),
        ({"gait_difficulty": False}, {"gait_difficulty": True}),
        ({"bowel_bladder_dysfunction": False}, {"bowel_bladder_dysfunction": True}),
        ({"unexplained_weight_loss_kg": 0.0}, {"unexplained_weight_loss_kg": 6.0}),
    ],
    ids=lambda d: next(iter(d)),
)
def test_adding_a_red_flag_never_lowers_risk(
    champion_store: ChampionStore,
    fresh_cases: pd.DataFrame,
    absent: dict[str, Any],
    present: dict[str, Any],
) -> None:
    base = fresh_cases.drop(columns=["spinal_malignancy", "diagnosis"])
    base = base[base["history_of_cancer"].ne(True)] if "history_of_cancer" in absent else base
    base = base.drop(columns=["cancer_type", "years_since_cancer_diagnosis"])
    if "unexplained_weight_loss_kg" in absent:
        base = base[base["weight_kg"].isna() | (base["weight_kg"] > 40)]
    pipeline = champion_store.model.pipeline
    before = pipeline.predict_risk(_flip(base, absent))
    after = pipeline.predict_risk(_flip(base, present))
    assert len(base) > 500
    assert (after >= before - 1e-12).all()
    assert (after > before).mean() > 0.5  # and the flag matters for most cases
