"""Loading labelled case files: round trips, accepted spellings, and every refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.record import DIAGNOSIS, FIELDS, LABEL
from training.cohort import files as cohort_cli
from training.cohort.files import write_cohort
from training.cohort.simulate import simulate_cohort
from training.data import MIN_CASES_PER_CLASS, CaseFileError, load_cases

N_EACH = 12  # per class, above MIN_CASES_PER_CLASS


def _cases(**columns: list[object]) -> pd.DataFrame:
    """A small valid case table as text, as a CSV would hold it; `columns` replace or add."""
    n = 2 * N_EACH
    base: dict[str, list[object]] = {
        "age": [str(40 + i) for i in range(n)],
        "sex": ["female", "male"] * N_EACH,
        "fever": ["false"] * n,
        "weight_kg": ["70.5"] * n,
        "unexplained_weight_loss_kg": ["0"] * n,
        "history_of_cancer": ["false"] * n,
        LABEL: ["1"] * N_EACH + ["0"] * N_EACH,
    }
    base.update(columns)
    return pd.DataFrame(base)


def _write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "cases.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _set(values: list[object], rows: dict[int, object]) -> list[object]:
    """`values` with the given 1-based rows replaced."""
    changed = list(values)
    for row, value in rows.items():
        changed[row - 1] = value
    return changed


def _column(name: str) -> list[object]:
    return list(_cases()[name])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_simulated_cohort_round_trips_with_identical_dtypes(tmp_path: Path, suffix: str) -> None:
    path = write_cohort(3000, seed=4, setting="emergency", out=tmp_path / f"cohort{suffix}")
    loaded = load_cases(path)
    pd.testing.assert_frame_equal(loaded, simulate_cohort(3000, seed=4, setting="emergency"))


def test_absent_optional_columns_are_filled_as_missing(tmp_path: Path) -> None:
    loaded = load_cases(_write_csv(tmp_path, _cases()))
    expected = simulate_cohort(10, seed=0).dtypes.drop(DIAGNOSIS)
    assert list(loaded.columns) == [*FIELDS, LABEL]
    pd.testing.assert_series_equal(loaded.dtypes, expected)
    assert loaded["esr_mm_per_h"].isna().all() and loaded["smoking_status"].isna().all()
    assert loaded[LABEL].tolist() == [1] * N_EACH + [0] * N_EACH


def test_accepted_spellings_of_booleans_and_missing(tmp_path: Path) -> None:
    spellings = ["true", "false", "1", "0", "True", "False", "", "TRUE", " 0 ", "NA"]
    fever = spellings + ["false"] * (2 * N_EACH - len(spellings))
    loaded = load_cases(_write_csv(tmp_path, _cases(fever=fever)))
    expected = [True, False, True, False, True, False, None, True, False, None]
    assert (
        loaded["fever"]
        .head(len(expected))
        .astype(object)
        .where(loaded["fever"].head(len(expected)).notna(), None)
        .tolist()
        == expected
    )


def test_csv_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = _write_csv(tmp_path, _cases())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_cases(path)["age"].iloc[0] == 40


def test_label_column_is_renamed(tmp_path: Path) -> None:
    frame = _cases().rename(columns={LABEL: "malignant"})
    loaded = load_cases(_write_csv(tmp_path, frame), label="malignant")
    assert LABEL in loaded.columns and "malignant" not in loaded.columns
    assert loaded[LABEL].sum() == N_EACH


def test_typed_parquet_is_accepted(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "age": np.arange(40, 40 + 2 * N_EACH),
            "fever": [True, False] * N_EACH,
            "night_pain": [1, 0] * N_EACH,  # 0/1 integers in a bool column are accepted
            "pain_score": [3.0, np.nan] * N_EACH,  # whole floats in an int column too
            LABEL: [True] * N_EACH + [False] * N_EACH,
        }
    )
    path = tmp_path / "cases.parquet"
    frame.to_parquet(path)
    loaded = load_cases(path)
    assert loaded["night_pain"].tolist()[:2] == [True, False]
    assert loaded["pain_score"].dtype == "Int64" and loaded["pain_score"].isna().sum() == N_EACH
    assert loaded[LABEL].dtype == np.int64


def _error(tmp_path: Path, frame: pd.DataFrame, name: str = "cases.csv", **kwargs: str) -> str:
    path = _write_csv(tmp_path, frame, name)
    with pytest.raises(CaseFileError) as info:
        load_cases(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    return message


def test_out_of_range_message_names_file_column_and_rows(tmp_path: Path) -> None:
    ages = _set(_column("age"), {3: "17", 17: "111", 21: "5"})
    message = _error(tmp_path, _cases(age=ages))
    assert message == f"{tmp_path / 'cases.csv'}: column 'age': rows 3, 17, 21 out of range 18–110"


def test_long_lists_of_rows_are_shortened(tmp_path: Path) -> None:
    message = _error(tmp_path, _cases(fever=["maybe"] * (2 * N_EACH)))
    assert "rows 1, 2, 3, 4, 5 (and 19 more)" in message


def _bad(name: str, row: int, value: str, **other: list[object]) -> dict[str, list[object]]:
    """Columns for `_cases` where column `name` holds `value` at 1-based `row`."""
    column = _column(name) if name in _cases().columns else [""] * (2 * N_EACH)
    return {name: _set(column, {row: value}), **other}


_NEVER = {"smoking_status": ["never"] * (2 * N_EACH)}
_HISTORY = {"history_of_cancer": ["true"] * (2 * N_EACH)}
_DIAGNOSES = ["metastasis"] * N_EACH + ["nonspecific"] * N_EACH


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (_bad("fever", 2, "yes"), "column 'fever': row 2 not true/false (first: 'yes'); accepted"),
        (_bad("age", 4, "forty"), "column 'age': row 4 not a number (first: 'forty')"),
        (_bad("age", 5, "40.5"), "column 'age': row 5 not whole numbers"),
        (_bad("weight_kg", 6, "inf"), "column 'weight_kg': row 6 not finite"),
        (_bad("weight_kg", 7, "20"), "column 'weight_kg': row 7 out of range 25–300"),
        (_bad("pain_score", 8, "11"), "column 'pain_score': row 8 out of range 0–10"),
        (_bad("sex", 9, "M"), "column 'sex': row 9 not one of female, male (first: 'M')"),
        (_bad("cancer_type", 10, "lung"), "row 10 given, but history_of_cancer is not true"),
        (_bad("unexplained_weight_loss_kg", 11, "80"), "row 11 not less than weight_kg"),
        (_bad("pack_years", 12, "5", **_NEVER), "column 'pack_years': row 12 must be 0 when"),
        (
            _bad("years_since_cancer_diagnosis", 13, "70", **_HISTORY),
            "column 'years_since_cancer_diagnosis': row 13 greater than age",
        ),
        (_bad(LABEL, 14, "2"), f"column '{LABEL}': row 14 not 0 or 1"),
        (_bad(LABEL, 15, ""), f"column '{LABEL}': row 15 missing"),
        (_bad(LABEL, 16, "yes"), f"column '{LABEL}': row 16 not 0 or 1"),
        ({LABEL: ["0"] * 24}, f"column '{LABEL}': every case is 0; both classes are needed"),
        ({LABEL: ["1"] * 5 + ["0"] * 19}, f"only 5 positive cases; at least {MIN_CASES_PER_CLASS}"),
        ({LABEL: ["1"] * 19 + ["0"] * 5}, "only 5 negative cases"),
        (
            {DIAGNOSIS: ["metastasis"] * 24},
            "column 'diagnosis': rows 13, 14, 15, 16, 17 (and 7 more) contradict",
        ),
        ({DIAGNOSIS: _set(_DIAGNOSES, {1: "cancer"})}, "row 1 not one of nonspecific"),
        ({"colour": ["red"] * 24}, "unknown columns 'colour'"),
    ],
)
def test_each_problem_is_refused_with_a_clear_message(
    tmp_path: Path, columns: dict[str, list[object]], expected: str
) -> None:
    assert expected in _error(tmp_path, _cases(**columns))


def test_missing_required_and_label_columns(tmp_path: Path) -> None:
    assert "required column 'age' is missing" in _error(tmp_path, _cases().drop(columns="age"))
    message = _error(tmp_path, _cases().drop(columns=LABEL))
    assert f"label column '{LABEL}' is missing" in message
    without_label = _cases().drop(columns=LABEL)
    assert "label column 'outcome' is missing" in _error(tmp_path, without_label, label="outcome")


def test_a_saved_index_column_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    _cases().to_csv(path)  # index=True by default
    with pytest.raises(CaseFileError, match=r"'Unnamed: 0' \(was the file written with its index"):
        load_cases(path)


def test_ambiguous_or_misused_label(tmp_path: Path) -> None:
    frame = _cases(malignant=_column(LABEL))
    assert "keep one" in _error(tmp_path, frame, label="malignant")
    assert "is a case-record field" in _error(tmp_path, _cases(), label="fever")


def test_duplicated_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("age,age,spinal_malignancy\n" + "50,50,1\n" * 12 + "50,50,0\n" * 12)
    with pytest.raises(CaseFileError, match="unknown columns 'age.1'"):
        load_cases(path)


def test_file_level_problems(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match=r"cases\.xlsx: unsupported file type '\.xlsx'"):
        load_cases(tmp_path / "cases.xlsx")
    with pytest.raises(CaseFileError, match="no such file"):
        load_cases(tmp_path / "absent.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(CaseFileError, match="no such file"):
        load_cases(tmp_path / "folder.csv")
    for name in ("empty.csv", "empty.parquet"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(CaseFileError, match=f"{name}: the file is empty"):
            load_cases(tmp_path / name)
    (tmp_path / "header.csv").write_text("age,spinal_malignancy\n")
    with pytest.raises(CaseFileError, match="header but no cases"):
        load_cases(tmp_path / "header.csv")
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(CaseFileError, match="garbage.parquet: cannot be read as Parquet"):
        load_cases(tmp_path / "garbage.parquet")
    (tmp_path / "latin1.csv").write_bytes("age,sex\n50,f\xe9male\n".encode("latin-1"))
    with pytest.raises(CaseFileError, match="latin1.csv: cannot be read as CSV"):
        load_cases(tmp_path / "latin1.csv")


def test_wrong_typed_parquet_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [50] * 24, "sex": [1] * 24, LABEL: [1] * 12 + [0] * 12})
    frame.to_parquet(tmp_path / "cases.parquet")
    with pytest.raises(CaseFileError, match="column 'sex': rows 1, 2, 3, 4, 5 .* not text"):
        load_cases(tmp_path / "cases.parquet")
    frame = pd.DataFrame({"age": [True] * 24, LABEL: [1] * 12 + [0] * 12})
    frame.to_parquet(tmp_path / "bools.parquet")
    with pytest.raises(CaseFileError, match="column 'age': .* true/false, expected numbers"):
        load_cases(tmp_path / "bools.parquet")


def test_write_cohort_refuses_bad_paths_and_overwrites(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"out: .*\.json"):
        write_cohort(10, 0, "primary_care", tmp_path / "cases.json")
    with pytest.raises(FileNotFoundError, match="out: folder"):
        write_cohort(10, 0, "primary_care", tmp_path / "missing" / "cases.csv")
    with pytest.raises(ValueError, match="^n: "):
        write_cohort(0, 0, "primary_care", tmp_path / "cases.csv")
    assert list(tmp_path.iterdir()) == []
    out = write_cohort(10, 0, "primary_care", tmp_path / "cases.csv")
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        write_cohort(10, 1, "primary_care", out)
    assert out.read_bytes() == before
    write_cohort(10, 1, "primary_care", out, overwrite=True)
    assert out.read_bytes() != before


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: pd.DataFrame, path: str, **kwargs: object) -> None:
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", explode)
    with pytest.raises(OSError, match="disk full"):
        cohort_cli.write_cohort(10, 0, "primary_care", tmp_path / "cases.parquet")
    assert list(tmp_path.iterdir()) == []
