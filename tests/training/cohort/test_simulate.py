"""The cohort simulator: shape, dtypes, determinism, settings, validity and clinical structure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.record import (
    DIAGNOSES,
    DIAGNOSIS,
    ENUM_VALUES,
    FIELD_KINDS,
    FIELDS,
    LABEL,
    MALIGNANT_DIAGNOSES,
    RANGES,
    CaseRecord,
    consistency_problems,
)
from features.setting import SETTING_PREVALENCE as PREVALENCE
from tests.training.conftest import Cohort
from training.cohort.simulate import setting_diagnosis_mix, simulate_cohort

EXPECTED_DTYPE = {"bool": "boolean", "int": "Int64", "float": "float64", "enum": "string"}


def _share(mask: pd.Series | np.ndarray, among: pd.Series | np.ndarray) -> float:
    """Share of `mask` among the rows selected by `among`, ignoring missing values."""
    mask = pd.Series(mask).astype("boolean")
    among = pd.Series(among).fillna(False).astype(bool).to_numpy()
    selected = mask[among].dropna()
    return float(selected.mean())


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-6) / n)


def test_columns_are_the_record_fields_then_label_and_diagnosis() -> None:
    frame = simulate_cohort(500, seed=1)
    assert list(frame.columns) == [*FIELDS, LABEL, DIAGNOSIS]
    for name in FIELDS:
        assert frame[name].dtype == EXPECTED_DTYPE[FIELD_KINDS[name]], name
    assert frame[LABEL].dtype == np.int64
    assert frame[DIAGNOSIS].dtype == "string"
    assert set(frame[DIAGNOSIS].unique()) <= set(DIAGNOSES)
    assert frame.index.equals(pd.RangeIndex(500))


def test_label_follows_diagnosis(primary_care: Cohort) -> None:
    frame, _ = primary_care
    malignant = frame[DIAGNOSIS].isin(MALIGNANT_DIAGNOSES).to_numpy()
    assert np.array_equal(frame[LABEL].to_numpy() == 1, malignant)
    assert set(frame[LABEL].unique()) == {0, 1}


def test_same_seed_same_frame_and_different_seed_different_frame() -> None:
    first = simulate_cohort(3000, seed=7, setting="emergency")
    pd.testing.assert_frame_equal(first, simulate_cohort(3000, seed=7, setting="emergency"))
    assert not first.equals(simulate_cohort(3000, seed=8, setting="emergency"))


def test_one_case_is_enough() -> None:
    assert len(simulate_cohort(1, seed=0)) == 1


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n": 0}, "n"),
        ({"n": -5}, "n"),
        ({"n": 2.5}, "n"),
        ({"n": True}, "n"),
        ({"n": "100"}, "n"),
        ({"setting": "icu"}, "setting"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"setting": "Primary_Care"}, "setting"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(
    kwargs: dict[str, object], argument: str
) -> None:
    arguments: dict[str, object] = {"n": 10, "seed": 0, "setting": "primary_care", **kwargs}
    with pytest.raises(ValueError, match=rf"^{argument}: "):
        simulate_cohort(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("setting", ["primary_care", "emergency", "oncology"])
def test_prevalence_per_setting_within_ten_percent(
    setting: str, request: pytest.FixtureRequest
) -> None:
    frame, _ = request.getfixturevalue(setting)
    target = PREVALENCE[setting]
    observed = frame[LABEL].mean()
    # 10% relative is the acceptance bound; the sample must also sit within 4 standard errors.
    assert abs(observed - target) <= 0.10 * target
    assert abs(observed - target) <= 4 * _se(target, len(frame))


@pytest.mark.parametrize("setting", ["primary_care", "emergency", "oncology"])
def test_diagnosis_mix_matches_the_setting(setting: str, request: pytest.FixtureRequest) -> None:
    frame, _ = request.getfixturevalue(setting)
    expected = setting_diagnosis_mix(setting)
    observed = frame[DIAGNOSIS].value_counts(normalize=True)
    for name in DIAGNOSES:
        share = float(observed.get(name, 0.0))
        assert abs(share - expected[name]) <= 4 * _se(expected[name], len(frame)) + 1e-4, name
    assert sum(expected.values()) == pytest.approx(1.0)


def test_settings_differ_in_their_mix() -> None:
    primary, emergency = setting_diagnosis_mix("primary_care"), setting_diagnosis_mix("emergency")
    oncology = setting_diagnosis_mix("oncology")
    assert emergency["fracture"] > primary["fracture"]
    assert emergency["infection"] > primary["infection"]
    assert oncology["metastasis"] > 20 * primary["metastasis"]


def test_oncology_cases_all_have_a_cancer_history(oncology: Cohort) -> None:
    frame, _ = oncology
    assert frame["history_of_cancer"].notna().all()
    assert frame["history_of_cancer"].all()
    assert frame["cancer_type"].notna().mean() > 0.9


@pytest.mark.parametrize("setting", ["primary_care", "emergency", "oncology"])
def test_sampled_rows_pass_case_record_validation(
    setting: str, request: pytest.FixtureRequest
) -> None:
    frame, _ = request.getfixturevalue(setting)
    malignant = frame.index[frame[LABEL] == 1][:1000]
    other = frame.index[frame[LABEL] == 0][:2000]
    sample = frame.loc[malignant.append(other), list(FIELDS)]
    for row in sample.astype(object).where(sample.notna(), None).to_dict("records"):
        CaseRecord.model_validate(row)


@pytest.mark.parametrize("setting", ["primary_care", "emergency", "oncology"])
def test_every_row_within_ranges_enums_and_consistent(
    setting: str, request: pytest.FixtureRequest
) -> None:
    frame, _ = request.getfixturevalue(setting)
    for name, (low, high) in RANGES.items():
        values = frame[name].dropna()
        assert values.between(low, high).all(), name
    for name, allowed in ENUM_VALUES.items():
        assert set(frame[name].dropna().unique()) <= set(allowed), name
    assert frame["age"].notna().all()
    history = frame["history_of_cancer"].fillna(False)
    assert frame.loc[~history, ["cancer_type", "years_since_cancer_diagnosis"]].isna().all().all()
    loss, weight = frame["unexplained_weight_loss_kg"], frame["weight_kg"]
    assert not (loss >= weight).any()
    assert (frame.loc[frame["smoking_status"] == "never", "pack_years"].dropna() == 0).all()
    assert not (frame["years_since_cancer_diagnosis"] > frame["age"]).any()
    # The per-row checker agrees on rows with cancer histories, where contradictions could hide.
    rows = frame.loc[history, list(FIELDS)].head(500)
    for row in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        assert consistency_problems(row) == []


def test_cord_compression_brings_deficits_together_mostly_thoracic(primary_care: Cohort) -> None:
    frame, latent = primary_care
    cord = latent["cord_compression"].astype(bool)
    malignant = frame[LABEL].to_numpy() == 1
    deficits = frame[["limb_weakness", "sensory_loss", "gait_difficulty"]].astype(float)
    two_or_more = deficits.sum(axis=1, min_count=3) >= 2
    radiculopathy = latent["neuro_deficit"].astype(bool) & (frame[DIAGNOSIS] == "disc_herniation")
    assert _share(two_or_more, cord) > 0.6
    assert _share(two_or_more, cord) > _share(two_or_more, radiculopathy) + 0.15
    assert _share(frame["limb_weakness"], cord) > 5 * _share(
        frame["limb_weakness"], malignant & ~cord
    )
    sphincter = frame["bowel_bladder_dysfunction"]
    assert _share(sphincter, cord) > 5 * _share(sphincter, malignant & ~cord)
    thoracic = frame["pain_region"] == "thoracic"
    assert _share(thoracic, cord) > 0.6
    assert _share(thoracic, cord) > _share(thoracic, malignant & ~cord) + 0.2


def test_radiculopathy_in_younger_patients_whose_pain_improves(primary_care: Cohort) -> None:
    frame, _ = primary_care
    disc = frame[DIAGNOSIS] == "disc_herniation"
    nonspecific = frame[DIAGNOSIS] == "nonspecific"
    malignant = frame[LABEL] == 1
    assert frame.loc[disc, "age"].mean() < frame.loc[nonspecific, "age"].mean() - 3
    improving = frame["pain_trajectory"] == "improving"
    assert _share(improving, disc) > _share(improving, nonspecific) + 0.05
    assert _share(improving, disc) > 2 * _share(improving, malignant)
    for name in ("numbness_tingling", "limb_weakness"):
        assert _share(frame[name], disc) > 3 * _share(frame[name], nonspecific), name
    assert frame.loc[disc, "pain_region"].value_counts(normalize=True).idxmax() == "lumbar"


def test_infection_brings_fever_night_pain_and_immunosuppression(primary_care: Cohort) -> None:
    frame, _ = primary_care
    infection = frame[DIAGNOSIS] == "infection"
    other = ~infection
    assert _share(frame["fever"], infection) > 5 * _share(frame["fever"], other)
    assert _share(frame["immunosuppressed"], infection) > 3 * _share(
        frame["immunosuppressed"], other
    )
    assert _share(frame["night_pain"], infection) > _share(frame["night_pain"], other) + 0.1
    esr_high = frame["esr_mm_per_h"].where(frame["esr_mm_per_h"].notna()) >= 20
    esr_high = esr_high.where(frame["esr_mm_per_h"].notna())
    assert _share(esr_high, infection) > _share(esr_high, other) + 0.2


def test_fracture_brings_age_steroids_trauma_and_thoracic_pain(primary_care: Cohort) -> None:
    frame, _ = primary_care
    fracture = frame[DIAGNOSIS] == "fracture"
    nonspecific = frame[DIAGNOSIS] == "nonspecific"
    assert frame.loc[fracture, "age"].mean() > frame.loc[nonspecific, "age"].mean() + 10
    for name in ("steroid_use", "recent_trauma"):
        assert _share(frame[name], fracture) > 3 * _share(frame[name], nonspecific), name
    thoracic = frame["pain_region"] == "thoracic"
    assert _share(thoracic, fracture) > 2 * _share(thoracic, nonspecific)


def test_weight_loss_travels_with_fatigue(primary_care: Cohort) -> None:
    frame, _ = primary_care
    lost = frame["unexplained_weight_loss_kg"] > 0
    recorded = frame["unexplained_weight_loss_kg"].notna()
    for side in (frame[LABEL] == 1, frame[LABEL] == 0):
        with_loss = _share(frame["fatigue"], side & lost)
        without = _share(frame["fatigue"], side & recorded & ~lost)
        assert with_loss > without + 0.2


def test_lung_primaries_concentrate_among_current_smokers(balanced: Cohort) -> None:
    frame, latent = balanced
    metastasis = (frame[DIAGNOSIS] == "metastasis").to_numpy()
    lung = pd.Series(latent["primary"] == ENUM_VALUES["cancer_type"].index("lung"))
    current = (frame["smoking_status"] == "current").fillna(False).to_numpy()
    never = (frame["smoking_status"] == "never").fillna(False).to_numpy()
    assert _share(lung, metastasis & current) > 2 * _share(lung, metastasis & never)
    pack_years = frame["pack_years"]
    assert (
        pack_years[lung.to_numpy() & current].mean() > pack_years[~lung.to_numpy() & current].mean()
    )


def test_previous_cancer_travels_with_metastasis(balanced: Cohort) -> None:
    frame, latent = balanced
    history = frame["history_of_cancer"]
    metastasis = frame[DIAGNOSIS] == "metastasis"
    other_malignant = frame[DIAGNOSIS].isin({"myeloma", "primary_tumour"})
    assert _share(history, metastasis) > 2 * _share(history, other_malignant)
    assert _share(history, metastasis) > 10 * _share(history, frame[LABEL] == 0)
    # A metastasis with a recorded history names its primary.
    known = metastasis & frame["cancer_type"].notna()
    primary = pd.Series(np.asarray(ENUM_VALUES["cancer_type"])[latent["primary"].clip(0)])
    assert (frame.loc[known, "cancer_type"] == primary[known]).all()
    breast = frame["cancer_type"] == "breast"
    assert (frame.loc[breast.fillna(False), "sex"].dropna() == "female").all()


def test_serious_causes_are_older(primary_care: Cohort) -> None:
    frame, _ = primary_care
    age = frame.groupby(DIAGNOSIS)["age"].mean()
    for serious in ("fracture", "infection", "metastasis", "myeloma"):
        assert age[serious] > age["nonspecific"] + 5, serious


def test_failed_conservative_treatment_only_after_four_weeks(primary_care: Cohort) -> None:
    frame, _ = primary_care
    failed = frame["failed_conservative_treatment"].fillna(False)
    assert (frame.loc[failed, "pain_duration_weeks"].dropna() > 4).all()
    assert failed.sum() > 1000


def test_missingness_depends_on_setting(
    primary_care: Cohort, emergency: Cohort, oncology: Cohort
) -> None:
    rates = {
        name: frame.isna().mean() for name, (frame, _) in
        {"primary_care": primary_care, "emergency": emergency, "oncology": oncology}.items()
    }  # fmt: skip
    for name in ("weight_kg", "esr_mm_per_h"):
        assert rates["primary_care"][name] > 0.5, name
        assert (
            rates["primary_care"][name] > rates["emergency"][name] + 0.1 > rates["oncology"][name]
        )
    assert rates["oncology"]["history_of_cancer"] == 0
    for setting, frame_rates in rates.items():
        assert frame_rates["age"] == 0
        assert 0.005 < frame_rates["sex"] < 0.02
        # Every clinical field but age (and the known history in oncology) goes unrecorded.
        always = {"age", "history_of_cancer"} if setting == "oncology" else {"age"}
        assert (frame_rates[[f for f in FIELDS if f not in always]] > 0).all(), setting


def test_missing_at_random_keeps_the_flag_rate(primary_care: Cohort) -> None:
    frame, _ = primary_care
    # Fever is recorded at random: its rate among cases with weight recorded or not is the same.
    weight_recorded = frame["weight_kg"].notna()
    fever = frame["fever"]
    gap = abs(_share(fever, weight_recorded) - _share(fever, ~weight_recorded))
    assert gap < 4 * _se(0.03, int(weight_recorded.sum()))
