"""Cohort files and reports: what `redflag cohort` does, as plain functions the CLI calls."""

from __future__ import annotations

from pathlib import Path

from training.atomic import written_atomically
from training.cohort.report import format_report
from training.cohort.simulate import simulate_cohort
from training.defaults import COHORT_CASES, COHORT_SEED, DEFAULT_SETTING

COHORT_EXTENSIONS = (".parquet", ".csv")


def write_cohort(n: int, seed: int, setting: str, out: Path, *, overwrite: bool = False) -> Path:
    """Simulate a cohort and write it to `out` (.parquet or .csv), all or nothing.

    The frame is written to a temporary file beside `out` and renamed over it, so an interrupted
    or failed write leaves no partial file.

    Raises:
        ValueError: bad `n`, `setting` or extension of `out`.
        FileExistsError: `out` exists and `overwrite` is false.
        FileNotFoundError: the folder of `out` does not exist.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in COHORT_EXTENSIONS:
        raise ValueError(f"out: {out} must end in .parquet or .csv, not {out.suffix or '(none)'!r}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"out: {out} already exists; choose another path or pass --force")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"out: folder {out.parent} does not exist")
    frame = simulate_cohort(n, seed, setting)  # validates n and setting before anything is written
    with written_atomically(out) as temporary:
        if suffix == ".parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False)
    return out


def report_text(
    n: int = COHORT_CASES, seed: int = COHORT_SEED, setting: str = DEFAULT_SETTING
) -> str:
    """The calibration report of a freshly simulated cohort, as plain text."""
    return format_report(simulate_cohort(n, seed, setting), setting)
