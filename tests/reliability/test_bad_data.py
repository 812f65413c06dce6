"""Bad case files through ``redflag train --data`` and ``redflag score``: each refused with one
line naming the file and the problem, exit 2, and nothing left behind (no MLflow run, no
registered version, no output file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import LABEL
from tests.reliability.processes import Store, pointed_at
from training.cli import app
from training.cohort.simulate import simulate_cohort

Writer = Callable[[pd.DataFrame, Path], Path]


def _csv(frame: pd.DataFrame, folder: Path, name: str = "cases.csv", **options: object) -> Path:
    path = folder / name
    frame.to_csv(path, index=False, **options)  # type: ignore[call-overload]
    return path


def _parquet(frame: pd.DataFrame, folder: Path, name: str = "cases.parquet") -> Path:
    path = folder / name
    frame.to_parquet(path, index=False)
    return path


def _truncated(frame: pd.DataFrame, folder: Path) -> Path:
    path = _parquet(frame, folder)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _empty(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "cases.csv"
    path.write_bytes(b"")
    return path


def _with(column: str, value: object) -> Writer:
    def write(frame: pd.DataFrame, folder: Path) -> Path:
        frame = frame.astype({column: object}) if column in frame else frame
        frame.loc[frame.index[3], column] = value
        return _csv(frame, folder)

    return write


def _duplicated(frame: pd.DataFrame, folder: Path) -> Path:
    path = _csv(frame, folder)
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("night_pain", "age")
    path.write_text("\n".join(lines) + "\n")
    return path


def _not_its_extension(frame: pd.DataFrame, folder: Path) -> Path:
    path = _parquet(frame, folder)
    return path.rename(folder / "cases.csv")  # Parquet bytes under a .csv name


# Problems of any case file, refused by both commands.
BAD_FILES: dict[str, Writer] = {
    "empty file": _empty,
    "truncated parquet": _truncated,
    "wrong types": _with("age", "seventy"),
    "out of range": _with("age", 250),
    "duplicated column names": _duplicated,
    "wrong delimiter": lambda frame, folder: _csv(frame, folder, sep=";"),
    "unknown column": lambda frame, folder: _csv(frame.assign(nigth_pain=True), folder),
    "not what its extension says": _not_its_extension,
}
# Problems of a labelled file, refused by training.
BAD_LABELS: dict[str, Writer] = {
    "missing label column": lambda frame, folder: _csv(frame.drop(columns=[LABEL]), folder),
    "non-binary labels": _with(LABEL, 2),
    "one class only": lambda frame, folder: _csv(frame.assign(**{LABEL: 0}), folder),
}


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return simulate_cohort(400, seed=8, setting="emergency").drop(columns=["diagnosis"])


def _refused(args: list[str], path: Path, env: dict[str, str]) -> None:
    with pointed_at(env):
        result = CliRunner().invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert path.name in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("problem", [*BAD_FILES, *BAD_LABELS])
def test_train_refuses(problem: str, cases: pd.DataFrame, tmp_path: Path) -> None:
    write = {**BAD_FILES, **BAD_LABELS}[problem]
    path = write(cases, tmp_path)
    home = tmp_path / "home"
    _refused(["train", "--data", str(path)], path, {"REDFLAG_HOME": str(home)})
    # Nothing recorded: the file is read and checked before the store is opened.
    assert not (home / "mlruns").exists()


@pytest.mark.parametrize("problem", list(BAD_FILES))
def test_score_refuses(
    problem: str, cases: pd.DataFrame, tmp_path: Path, reliability_store: Store
) -> None:
    path = BAD_FILES[problem](cases.drop(columns=[LABEL]), tmp_path)
    output = tmp_path / "scores.parquet"
    _refused(
        ["score", "--input", str(path), "--output", str(output)], path, reliability_store.env()
    )
    assert not output.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no partial file either
