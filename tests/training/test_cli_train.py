"""`redflag train` from the command line: one clear line and a non-zero exit for bad options."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--n-cases", "10"], "--n-cases"),
        (["--setting", "hospital"], "--setting"),
        (["--seed", "-3"], "--seed"),
        (["--n-cases", "many"], "--n-cases"),
    ],
)
def test_bad_options_fail_with_one_clear_line(
    args: list[str], named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDFLAG_HOME", str(tmp_path))
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code != 0
    assert named in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "mlruns").exists()


def test_train_prints_run_version_alias_and_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDFLAG_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = ["--n-cases", "5000", "--setting", "oncology", "--interval-members", "0"]
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    assert "version:  1" in result.output and "alias:    champion" in result.output
    assert "auroc" in result.output
    assert (tmp_path / "mlruns" / "mlflow.db").exists()
    again = runner.invoke(app, ["train", "--if-no-champion"])
    assert again.exit_code == 0 and "not training" in again.output


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "serve"):
        assert command in result.output
