"""The transformer: same matrix from every input form, an honest scikit-learn estimator."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from features.catalogue import FEATURE_NAMES, RED_FLAGS
from features.record import CaseRecord
from features.transform import CaseColumnsError, RedFlagFeatures
from training.cohort.simulate import simulate_cohort


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort(2_000, seed=3, setting="emergency")


def test_dataframe_and_records_give_the_same_matrix(cohort: pd.DataFrame) -> None:
    records = [
        CaseRecord(**{k: (None if pd.isna(v) else v) for k, v in row.items()}).model_dump()
        for row in cohort.drop(columns=["spinal_malignancy", "diagnosis"]).to_dict("records")
    ]
    from_frame = RedFlagFeatures().fit_transform(cohort)
    from_records = RedFlagFeatures().transform(records)
    np.testing.assert_array_equal(np.isnan(from_frame), np.isnan(from_records))
    np.testing.assert_allclose(np.nan_to_num(from_frame), np.nan_to_num(from_records))


def test_feature_names_are_stable() -> None:
    transformer = RedFlagFeatures().fit(pd.DataFrame({"age": [50]}))
    assert list(transformer.get_feature_names_out()) == list(FEATURE_NAMES)
    assert transformer.transform(pd.DataFrame({"age": [50]})).shape == (1, len(FEATURE_NAMES))


def test_absent_columns_are_missing_not_errors() -> None:
    matrix = RedFlagFeatures(not_recorded="native").transform(pd.DataFrame({"age": [70, 30]}))
    assert matrix[0, FEATURE_NAMES.index("age_50_or_over")] == 1
    assert np.isnan(matrix[:, FEATURE_NAMES.index("fever")]).all()


def test_object_and_nullable_dtypes_agree() -> None:
    nullable = pd.DataFrame(
        {"age": pd.array([60, 40], dtype="Int64"), "fever": pd.array([True, None], "boolean")}
    )
    plain = pd.DataFrame({"age": [60, 40], "fever": [True, None]})
    np.testing.assert_array_equal(
        np.nan_to_num(RedFlagFeatures().transform(nullable), nan=-1),
        np.nan_to_num(RedFlagFeatures().transform(plain), nan=-1),
    )


def test_unreadable_column_is_named() -> None:
    with pytest.raises(CaseColumnsError, match="'fever'"):
        RedFlagFeatures().transform(pd.DataFrame({"age": [60], "fever": ["maybe"]}))


def test_clones_and_pickles(cohort: pd.DataFrame) -> None:
    fitted = RedFlagFeatures().fit(cohort)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        np.nan_to_num(restored.transform(cohort.head(50))),
        np.nan_to_num(clone(fitted).fit(cohort).transform(cohort.head(50))),
    )


def test_a_plus_one_flag_not_recorded_lies_between_absent_and_present() -> None:
    matrix = RedFlagFeatures().transform(
        [{"age": 60}, {"age": 60, "night_pain": False}, {"age": 60, "night_pain": True}]
    )
    night = matrix[:, FEATURE_NAMES.index("night_pain")]
    assert night.tolist() == [0.5, 0.0, 1.0]
    plus_one = [j for j, flag in enumerate(RED_FLAGS) if flag.direction == 1]
    assert not np.isnan(matrix[:, plus_one]).any()


def test_models_pickled_before_the_ordinal_encoding_keep_missing_values() -> None:
    legacy = RedFlagFeatures()
    state = legacy.__getstate__()
    del state["not_recorded"]  # what a transformer pickled before the encoding carries
    restored = RedFlagFeatures.__new__(RedFlagFeatures)
    restored.__setstate__(state)
    assert restored.not_recorded == "native"
    value = restored.transform([{"age": 60}])[0, FEATURE_NAMES.index("night_pain")]
    assert np.isnan(value)
