"""`redflag cohort`: write a cohort, print the calibration report, refuse bad requests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from training.cli import app
from training.data import load_cases

runner = CliRunner()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_writes_a_cohort_the_loader_accepts(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"cases{suffix}"
    result = runner.invoke(app, ["cohort", "--n", "3000", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cases = load_cases(out)
    assert len(cases) == 3000 and cases["spinal_malignancy"].isin([0, 1]).all()


def test_report_lists_every_target_and_the_prevalence() -> None:
    from training.cohort.targets import TARGETS

    result = runner.invoke(app, ["cohort", "--report", "--n", "50000"])
    assert result.exit_code == 0, result.output
    for target in TARGETS:
        assert target.name in result.output
    assert "Prevalence" in result.output


def test_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "cases.csv"
    out.write_text("precious\n")
    refused = runner.invoke(app, ["cohort", "--n", "1000", "--out", str(out)])
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_text() == "precious\n"
    forced = runner.invoke(app, ["cohort", "--n", "1000", "--out", str(out), "--force"])
    assert forced.exit_code == 0
    assert len(pd.read_csv(out)) == 1000


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--out", "cases.txt"], ".txt"),
        (["--out", "missing-folder/cases.csv"], "does not exist"),
        (["--n", "0", "--out", "cases.csv"], "n"),
        (["--setting", "ward", "--report"], "setting"),
        ([], "--out"),
    ],
)
def test_bad_requests_fail_with_one_line(
    args: list[str], named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["cohort", *args])
    assert result.exit_code == 2
    assert named in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []
