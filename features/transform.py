"""The scikit-learn transformer from case records to the engineered red-flag matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from features.catalogue import FEATURE_NAMES, NOT_RECORDED_VALUES, RED_FLAGS, Columns
from features.record import FIELD_KINDS

CaseInput = pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any]


class CaseColumnsError(ValueError):
    """A case column that cannot be read as its field's kind."""


def case_columns(cases: CaseInput) -> Columns:
    """Case records as column arrays: numbers and booleans float64 (NaN: missing), enums objects.

    Accepts a DataFrame (any column may be absent: not recorded), a sequence of record dicts, or a
    mapping of column name to values. Columns that are not case fields (labels) are ignored.
    """
    if isinstance(cases, pd.DataFrame):
        n = len(cases)
        raw: Mapping[str, Any] = {name: cases[name] for name in FIELD_KINDS if name in cases}
    elif isinstance(cases, Mapping):
        n = len(next(iter(cases.values()))) if cases else 0
        raw = cases
    else:
        n = len(cases)
        enums = {name: [case.get(name) for case in cases] for name in _ENUMS}
        raw = {**_numbers_of(cases), **enums}
    columns: dict[str, npt.NDArray[np.generic]] = {}
    for name, kind in FIELD_KINDS.items():
        values = raw.get(name)
        if values is None:
            columns[name] = np.full(n, None, dtype=object) if kind == "enum" else np.full(n, np.nan)
        elif kind == "enum":
            columns[name] = _as_enum(values)
        else:
            columns[name] = _as_float(name, values)
    return columns


_ENUMS = tuple(name for name, kind in FIELD_KINDS.items() if kind == "enum")
_NUMBERS = tuple(name for name, kind in FIELD_KINDS.items() if kind != "enum")


def _numbers_of(cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The numeric and yes/no fields of records, read in one pass into one float table (one
    case's 24 fields: one array, not 24); a value that is no number is left to ``_as_float``
    to name."""
    try:
        table = np.array(
            [[np.nan if (v := case.get(name)) is None else float(v) for name in _NUMBERS]
             for case in cases],
            dtype=np.float64,
        ).reshape(len(cases), len(_NUMBERS))  # fmt: skip
    except (TypeError, ValueError):
        return {name: [case.get(name) for case in cases] for name in _NUMBERS}
    table = np.asfortranarray(table)  # each column contiguous
    return {name: table[:, j] for j, name in enumerate(_NUMBERS)}


def _as_float(name: str, values: Any) -> npt.NDArray[np.float64]:
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values  # already a case column (scoring reads the columns once and shares them)
    if isinstance(values, pd.Series):
        try:
            return np.asarray(
                values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan),
                dtype=np.float64,
            )
        except (TypeError, ValueError) as error:
            raise CaseColumnsError(f"column '{name}' is not numeric: {error}") from error
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CaseColumnsError(f"column '{name}' is not numeric: {error}") from error


def _as_enum(values: Any) -> npt.NDArray[np.object_]:
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.StringDtype):
            # Every value is already a str: one conversion, not a Python call per cell (half
            # the derivation's time at 200k cases).
            choices = values.to_numpy(dtype=object)
            choices[values.isna().to_numpy()] = None
            return choices
        return np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def derive_flags(cases: CaseInput) -> npt.NDArray[np.float64]:
    """Every red flag of every case, NaN where it cannot be derived (not recorded)."""
    columns = case_columns(cases)
    n = len(columns["age"])
    matrix = np.empty((n, len(RED_FLAGS)), dtype=np.float64)
    for j, flag in enumerate(RED_FLAGS):
        matrix[:, j] = flag.derive(columns)
    return matrix


class RedFlagFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Derives every red flag of the catalogue from case records; stateless, so fit only checks.

    ``not_recorded="ordinal"`` gives a +1 flag that cannot be derived its catalogue value between
    absent and present; ``"native"`` leaves NaN for XGBoost's learned missing-value branches, as
    models registered before the ordinal encoding were trained.
    """

    def __init__(self, not_recorded: Literal["ordinal", "native"] = "ordinal") -> None:
        self.not_recorded = not_recorded

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("not_recorded", "native")  # pickled before the ordinal encoding existed
        super().__setstate__(state)

    def fit(self, X: CaseInput, y: Any = None) -> Self:
        """Check that the cases can be read; there is nothing to learn."""
        self.transform(X)
        self.feature_names_out_ = np.array(FEATURE_NAMES, dtype=object)
        self.n_features_out_ = len(FEATURE_NAMES)
        return self

    def transform(self, X: CaseInput) -> npt.NDArray[np.float64]:
        """The model's matrix, one column per red flag in catalogue order."""
        return self.encode(derive_flags(X))

    def encode(self, derived: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``derive_flags``'s matrix as the model reads it (see the class docstring)."""
        if self.not_recorded == "native":
            return derived
        return np.where(np.isnan(derived), NOT_RECORDED_VALUES, derived)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Feature names of the engineered matrix."""
        return np.array(FEATURE_NAMES, dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.dict = True
        tags.requires_fit = False
        return tags
