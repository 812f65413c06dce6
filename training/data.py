"""Loading real labelled case files (.csv or .parquet) into a validated case frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from features.record import (
    CONSISTENCY_RULES,
    DIAGNOSES,
    DIAGNOSIS,
    ENUM_VALUES,
    FIELD_KINDS,
    FIELDS,
    LABEL,
    MALIGNANT_DIAGNOSES,
    RANGES,
    REQUIRED_FIELDS,
)
from training.defaults import MIN_CASES_PER_CLASS
from training.schema import bool_column, enum_column, float_column, int_column, output_columns

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

SUPPORTED_EXTENSIONS = (".csv", ".parquet")
MAX_ROWS_SHOWN = 5
# Spellings of "not recorded" accepted in text columns besides the empty string.
MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "<na>"})
_TRUE_TOKENS = frozenset({"true", "1", "1.0"})
_FALSE_TOKENS = frozenset({"false", "0", "0.0"})
_BOOL_ACCEPTED = "accepted: true, false, 1, 0, or empty for not recorded"


class CaseFileError(ValueError):
    """A case file that cannot be used; the message names the file, the column and the rows."""


def load_cases(path: str | Path, label: str = LABEL) -> pd.DataFrame:
    """Read and validate a labelled case file, returning the simulator's columns and dtypes.

    Args:
        path: a `.csv` or `.parquet` file, one row per case, columns named as the case record.
        label: the file's 0/1 label column; it is returned as `spinal_malignancy`.

    Returns:
        The case-record fields in order (absent optional fields entirely missing), then
        `spinal_malignancy` (int 0/1) and `diagnosis` when the file has one.

    Raises:
        CaseFileError: on the first problem found; rows in messages count from 1, the first case.
    """
    path = Path(path)
    raw = _read(path)
    _check_columns(raw, str(path), label)
    checker = _Checker(str(path), raw)
    columns: dict[str, pd.Series] = {}
    for name in FIELDS:
        columns[name] = checker.field(name) if name in raw.columns else _absent(name, len(raw))
    checker.consistency(columns)
    columns[LABEL] = checker.label(label)
    if DIAGNOSIS in raw.columns:
        columns[DIAGNOSIS] = checker.diagnosis(columns[LABEL])
    frame = pd.DataFrame(columns)
    return frame[output_columns(DIAGNOSIS in raw.columns)]


def load_unlabelled_cases(path: str | Path, label: str = LABEL) -> tuple[pd.DataFrame, Any]:
    """Cases of a file that may carry labels: (the validated cases, their 0/1 labels or None).

    A file with the ``label`` column is read as ``load_cases`` reads it; without one, its columns
    must all be case-record fields (a ``diagnosis`` column is ignored).
    """
    path = Path(path)
    raw = _read(path)
    if label in raw.columns:
        cases = load_cases(path, label)
        return cases, cases[LABEL].to_numpy()
    return validate_case_frame(raw.drop(columns=[DIAGNOSIS], errors="ignore"), str(path)), None


def validate_case_frame(
    raw: pd.DataFrame, source: str, row_offset: int = 0, keep: Sequence[str] = ()
) -> pd.DataFrame:
    """Check unlabelled cases (a file or one chunk of it) and return them with the record dtypes.

    Args:
        raw: the cases as read; columns are case-record fields plus the names in ``keep``.
        source: the file named in error messages.
        row_offset: cases before this chunk, so messages count rows across the whole file.
        keep: extra columns (an identifier, say) passed through unchecked.

    Raises:
        CaseFileError: on the first problem found.
    """
    names = [str(c) for c in raw.columns]
    unknown = [n for n in names if n not in FIELDS and n not in keep]
    if unknown:
        raise CaseFileError(
            f"{source}: unknown columns {_quoted(unknown)}; expected case-record fields"
            + (f" and {_quoted(list(keep))}" if keep else "")
        )
    for required in (*REQUIRED_FIELDS, *keep):
        if required not in names:
            raise CaseFileError(f"{source}: required column {required!r} is missing")
    raw = raw.reset_index(drop=True)
    checker = _Checker(source, raw, row_offset)
    columns = {
        name: checker.field(name) if name in raw.columns else _absent(name, len(raw))
        for name in FIELDS
    }
    checker.consistency(columns)
    frame = pd.DataFrame(columns)
    for name in keep:
        frame[name] = raw[name].to_numpy()
    return frame


def _read(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise CaseFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; use .csv or .parquet"
        )
    if not path.is_file():
        raise CaseFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CaseFileError(f"{path}: the file is empty")
    try:
        if suffix == ".csv":
            # Everything as text: the checks below parse each column and report what they reject.
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            raw = pd.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise CaseFileError(f"{path}: the file is empty") from exc
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise CaseFileError(f"{path}: cannot be read as {kind}: {exc}") from exc
    except (pa.ArrowException, NotImplementedError) as exc:  # e.g. an unsupported Parquet type
        raise CaseFileError(f"{path}: cannot be read: {exc}") from exc
    if len(raw) == 0:
        raise CaseFileError(f"{path}: the file has a header but no cases")
    return raw.reset_index(drop=True)


def _check_columns(raw: pd.DataFrame, file: str, label: str) -> None:
    names = [str(c) for c in raw.columns]
    if label in FIELDS or label == DIAGNOSIS:
        raise CaseFileError(f"{file}: label {label!r} is a case-record field, not a label column")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CaseFileError(f"{file}: duplicated columns {_quoted(duplicated)}")
    if label != LABEL and LABEL in names:
        raise CaseFileError(
            f"{file}: has both {label!r} (the label asked for) and {LABEL!r}; keep one"
        )
    known = {*FIELDS, label, DIAGNOSIS}
    unknown = [n for n in names if n not in known]
    if unknown:
        # pandas names a saved index column "Unnamed: 0"; say so rather than leave a riddle.
        saved_index = unknown[0].startswith("Unnamed:")
        hint = " (was the file written with its index?)" if saved_index else ""
        raise CaseFileError(
            f"{file}: unknown columns {_quoted(unknown)}{hint}; expected case-record fields, "
            f"the label {label!r} and optionally {DIAGNOSIS!r}"
        )
    for required in REQUIRED_FIELDS:
        if required not in names:
            raise CaseFileError(f"{file}: required column {required!r} is missing")
    if label not in names:
        raise CaseFileError(f"{file}: label column {label!r} is missing")


class _Checker:
    """Parses and checks the columns of one raw frame, raising on the first problem."""

    def __init__(self, file: str, raw: pd.DataFrame, row_offset: int = 0) -> None:
        self.file = file
        self.raw = raw
        self.row_offset = row_offset  # rows before this frame, when a large file comes in chunks

    def fail(
        self, column: str, rows: BoolArray, problem: str, accepted: str = "", quote: bool = False
    ) -> None:
        """Raise if any row is flagged, naming the first few (and quoting the first value)."""
        if not rows.any():
            return
        first = f" (first: {self.raw[column][rows].iloc[0]!r})" if quote else ""
        message = f"{self.file}: column {column!r}: {_rows(rows, self.row_offset)} {problem}{first}"
        raise CaseFileError(message + (f"; {accepted}" if accepted else ""))

    def field(self, name: str) -> pd.Series:
        kind = FIELD_KINDS[name]
        series = self.raw[name]
        if kind == "bool":
            values, missing = self.booleans(name, series)
            return bool_column(values, missing)
        if kind == "enum":
            return self.enum(name, series, ENUM_VALUES[name])
        numbers, missing = self.numbers(name, series, integer=kind == "int")
        low, high = RANGES.get(name, (None, None))
        outside = ~missing & (
            (numbers < (-np.inf if low is None else low))
            | (numbers > (np.inf if high is None else high))
        )
        self.fail(name, outside, f"out of range {_bound(low)}–{_bound(high)}")
        if kind == "int":
            return int_column(np.where(missing, 0, numbers).astype(np.int64), missing)
        return float_column(numbers, missing)

    def booleans(self, name: str, series: pd.Series) -> tuple[BoolArray, BoolArray]:
        if pd.api.types.is_bool_dtype(series.dtype):
            return series.fillna(False).to_numpy(dtype=bool), series.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(series.dtype):
            numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
            missing = np.isnan(numbers)
            self.fail(name, ~missing & ~np.isin(numbers, (0.0, 1.0)), "not true/false",
                      _BOOL_ACCEPTED, quote=True)  # fmt: skip
            return numbers == 1.0, missing
        text = _text(series)
        missing = text.isin(MISSING_TOKENS).to_numpy()
        true = text.isin(_TRUE_TOKENS).to_numpy()
        bad = ~missing & ~true & ~text.isin(_FALSE_TOKENS).to_numpy()
        self.fail(name, bad, "not true/false", _BOOL_ACCEPTED, quote=True)
        return true, missing

    def numbers(self, name: str, series: pd.Series, integer: bool) -> tuple[FloatArray, BoolArray]:
        if pd.api.types.is_bool_dtype(series.dtype):
            self.fail(name, series.notna().to_numpy(), "are true/false, expected numbers")
        if pd.api.types.is_numeric_dtype(series.dtype):
            numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
            missing = np.isnan(numbers)
        else:
            text = _text(series)
            missing = text.isin(MISSING_TOKENS).to_numpy()
            parsed = pd.to_numeric(text.where(~text.isin(MISSING_TOKENS)), errors="coerce")
            numbers = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~missing & np.isnan(numbers)
            self.fail(
                name, bad, f"not a number (first: {series[bad].iloc[0]!r})" if bad.any() else ""
            )
        self.fail(name, ~missing & ~np.isfinite(np.where(missing, 0, numbers)), "not finite")
        if integer:
            whole = np.where(missing, 0, numbers)
            self.fail(name, whole != np.round(whole), "not whole numbers")
        return np.where(missing, np.nan, numbers), missing

    def enum(self, name: str, series: pd.Series, allowed: Sequence[str]) -> pd.Series:
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            self.fail(
                name, series.notna().to_numpy(), f"not text; expected one of {', '.join(allowed)}"
            )
        stripped = series.astype("string").str.strip()
        missing = (stripped.isna() | stripped.str.lower().isin(MISSING_TOKENS)).to_numpy()
        known = stripped.isin(allowed).fillna(False).to_numpy(dtype=bool)
        self.fail(name, ~missing & ~known, f"not one of {', '.join(allowed)}", quote=True)
        codes = pd.Categorical(stripped.where(known), categories=pd.Index(list(allowed))).codes
        return enum_column(np.asarray(codes, dtype=np.int64), tuple(allowed))

    def consistency(self, columns: dict[str, pd.Series]) -> None:
        """The record's consistency rules (`features.record.CONSISTENCY_RULES`) on every row."""
        arrays = {name: _as_array(name, columns[name]) for name in columns}
        for rule in CONSISTENCY_RULES:
            self.fail(rule.field, np.asarray(rule.violated(arrays), dtype=bool), rule.rows_reason)

    def label(self, label: str) -> pd.Series:
        series = self.raw[label]
        if pd.api.types.is_bool_dtype(series.dtype):
            self.fail(label, series.isna().to_numpy(), "missing; every case needs a label 0 or 1")
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        elif pd.api.types.is_numeric_dtype(series.dtype):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            text = _text(series)
            missing = text.isin(MISSING_TOKENS)
            values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            self.fail(label, (~missing).to_numpy() & np.isnan(values), "not 0 or 1")
        self.fail(label, np.isnan(values), "missing; every case needs a label 0 or 1")
        self.fail(label, ~np.isin(values, (0.0, 1.0)), "not 0 or 1")
        positives = int((values == 1).sum())
        negatives = len(values) - positives
        if positives == 0 or negatives == 0:
            only = 1 if positives else 0
            raise CaseFileError(
                f"{self.file}: column {label!r}: every case is {only}; both classes are needed"
            )
        fewest = min(positives, negatives)
        if fewest < MIN_CASES_PER_CLASS:
            kind = "positive" if positives < negatives else "negative"
            raise CaseFileError(
                f"{self.file}: column {label!r}: only {fewest} {kind} cases; at least "
                f"{MIN_CASES_PER_CLASS} of each class are needed to split for training"
            )
        return pd.Series(values.astype(np.int64))

    def diagnosis(self, label: pd.Series) -> pd.Series:
        diagnosis = self.enum(DIAGNOSIS, self.raw[DIAGNOSIS], DIAGNOSES)
        given = diagnosis.notna().to_numpy()
        malignant = diagnosis.isin(MALIGNANT_DIAGNOSES).to_numpy()
        contradicts = given & (malignant != (label.to_numpy() == 1))
        malignant_names = ", ".join(sorted(MALIGNANT_DIAGNOSES))
        problem = f"contradict {LABEL}: only {malignant_names} have label 1"
        self.fail(DIAGNOSIS, contradicts, problem)
        return diagnosis


def _absent(name: str, n: int) -> pd.Series:
    """A column of `name`'s dtype with every value not recorded."""
    missing = np.ones(n, dtype=bool)
    kind = FIELD_KINDS[name]
    if kind == "bool":
        return bool_column(np.zeros(n, dtype=bool), missing)
    if kind == "int":
        return int_column(np.zeros(n, dtype=np.int64), missing)
    if kind == "float":
        return float_column(np.zeros(n), missing)
    return enum_column(np.full(n, -1, dtype=np.int64), ENUM_VALUES[name])


def _as_array(name: str, column: pd.Series) -> npt.NDArray[Any]:
    """A checked column as the rules read it: enums as objects (None: missing), others float."""
    if FIELD_KINDS[name] == "enum":
        return np.asarray(column.astype(object).where(column.notna(), None), dtype=object)
    return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _text(series: pd.Series) -> pd.Series:
    """Lower-cased, stripped text with missing values as the empty string."""
    return series.astype("string").fillna("").str.strip().str.lower()


def _rows(mask: BoolArray, offset: int = 0) -> str:
    rows = np.flatnonzero(mask) + 1 + offset
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    more = f" (and {len(rows) - MAX_ROWS_SHOWN} more)" if len(rows) > MAX_ROWS_SHOWN else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}{more}"


def _bound(value: float | None) -> str:
    if value is None:
        return "∞"
    return f"{value:g}"


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)
