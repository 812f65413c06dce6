"""The external cohort: every published figure, another structure, never a training input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.record import LABEL, CaseRecord
from tests.training.conftest import Cohort
from training.cohort.external import MALIGNANT_MIX, OTHER_MIX, external_cohort
from training.cohort.report import cohort_report
from training.cohort.simulate import simulate_cohort
from training.cohort.targets import TARGETS, TARGETS_BY_NAME, TOLERANCE

PAIN_CLUSTER = ["night_pain", "constant_pain", "no_relief_with_rest"]
DEFICIT = ["limb_weakness", "sensory_loss", "gait_difficulty"]


@pytest.fixture(scope="module")
def balanced_external() -> pd.DataFrame:
    """Case-control at 1:1: ~50,000 of each side, so each rate is within ~0.01 of its target."""
    return external_cohort(100_000, seed=21, prevalence=0.5)


@pytest.fixture(scope="module")
def external_primary_care() -> pd.DataFrame:
    return external_cohort(60_000, seed=22)


@pytest.mark.parametrize("name", [t.name for t in TARGETS])
def test_every_published_figure_is_reproduced(name: str, balanced_external: pd.DataFrame) -> None:
    target = TARGETS_BY_NAME[name]
    row = cohort_report(balanced_external).set_index("flag").loc[name]
    assert row["n_malignant"] > 10_000 and row["n_other"] > 10_000
    assert abs(row["specificity"] - target.specificity) <= TOLERANCE
    if target.sensitivity_is_floor:
        assert row["sensitivity"] >= target.sensitivity
    else:
        assert abs(row["sensitivity"] - target.sensitivity) <= TOLERANCE
    assert row["within_tolerance"]


def test_primary_care_cohort_is_within_tolerance_at_its_prevalence(
    external_primary_care: pd.DataFrame,
) -> None:
    """Case-control sampling: exactly round(n * 0.7%) cancers; every flag within tolerance or
    three standard errors of its share among ~420 cancers."""
    frame = external_primary_care
    assert int(frame[LABEL].sum()) == round(60_000 * 0.007)
    for _, row in cohort_report(frame).iterrows():
        target = TARGETS_BY_NAME[row["flag"]]
        spread = 3 * math.sqrt(target.sensitivity * (1 - target.sensitivity) / row["n_malignant"])
        if target.sensitivity_is_floor:
            assert row["sensitivity"] >= target.sensitivity - spread, row["flag"]
        else:
            assert abs(row["sensitivity"] - target.sensitivity) <= max(TOLERANCE, spread)
        assert abs(row["specificity"] - target.specificity) <= TOLERANCE, row["flag"]


def _cluster_correlation(frame: pd.DataFrame) -> float:
    """Smallest pairwise correlation of the pain cluster among non-cancer cases."""
    others = frame.loc[frame[LABEL] == 0, PAIN_CLUSTER].dropna().astype(float)
    matrix = others.corr().to_numpy()
    return float(matrix[np.triu_indices(len(PAIN_CLUSTER), 1)].min())


def test_a_shared_severity_clusters_the_pain_pattern_without_cancer(
    external_primary_care: pd.DataFrame, primary_care: Cohort
) -> None:
    """Night pain, constant pain and no relief with rest travel together in everyone here; in
    the main simulator they barely do among the non-cancer cases."""
    external, main = (
        _cluster_correlation(external_primary_care),
        _cluster_correlation(primary_care[0]),
    )
    assert external > 0.2
    assert external > main + 0.15


def test_missingness_is_not_at_random(balanced_external: pd.DataFrame) -> None:
    frame = balanced_external
    malignant = frame[LABEL] == 1
    esr_ordered = frame["esr_mm_per_h"].notna()
    assert esr_ordered[malignant].mean() > esr_ordered[~malignant].mean() + 0.1
    # The examination is recorded far more often where a deficit was found.
    examined = frame["limb_weakness"].notna()
    deficit = frame[DEFICIT].fillna(False).any(axis=1)
    numb = frame["numbness_tingling"].fillna(False).astype(bool)
    assert examined[numb].mean() > examined[~numb].mean() + 0.3
    assert deficit[examined].mean() > 0.1
    weighed = frame["weight_kg"].notna()
    lost = frame["unexplained_weight_loss_kg"].fillna(0) > 0
    assert weighed[lost].mean() > weighed[~lost].mean() + 0.3


def test_each_cause_has_its_own_age_and_sex_mix(balanced_external: pd.DataFrame) -> None:
    by_cause = balanced_external.groupby("diagnosis", observed=True)
    age, male = by_cause["age"].mean(), by_cause["sex"].apply(lambda s: (s == "male").mean())
    assert set(age.index) == set(MALIGNANT_MIX) | set(OTHER_MIX)
    assert age["fracture"] > age["nonspecific"] + 10 > age["disc_herniation"] + 10
    assert age["myeloma"] > age["metastasis"] > age["primary_tumour"]
    assert male["fracture"] < 0.3 < male["disc_herniation"]


def test_cancers_often_present_without_a_known_history(balanced_external: pd.DataFrame) -> None:
    frame = balanced_external
    cancers = frame[frame[LABEL] == 1]
    deficit = cancers[DEFICIT].fillna(False).any(axis=1)
    known = cancers["history_of_cancer"].fillna(False).astype(bool)
    # The main simulator gives 77% of cord compressions a known cancer; here no share is imposed.
    assert known[deficit].mean() < 0.5
    assert known[frame.loc[cancers.index, "diagnosis"] == "primary_tumour"].mean() < 0.2


def test_cases_are_valid_records_with_the_main_simulators_columns() -> None:
    frame = external_cohort(3_000, seed=5)
    main = simulate_cohort(100, seed=5)
    assert list(frame.columns) == list(main.columns)
    assert frame.dtypes.astype(str).tolist() == main.dtypes.astype(str).tolist()
    fields = frame.drop(columns=[LABEL, "diagnosis"])
    for record in fields.astype(object).where(fields.notna(), None).to_dict("records"):
        CaseRecord(**{k: v for k, v in record.items() if v is not None})
    pd.testing.assert_frame_equal(frame, external_cohort(3_000, seed=5))
    assert not frame.equals(external_cohort(3_000, seed=6))


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"n": 1, "seed": 0}, "n"),
        ({"n": True, "seed": 0}, "n"),
        ({"n": 100, "seed": -1}, "seed"),
        ({"n": 100, "seed": 0, "prevalence": 1.0}, "prevalence"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        external_cohort(**arguments)  # type: ignore[arg-type]
