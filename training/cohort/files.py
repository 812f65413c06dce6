"""What `redflag cohort` does, as plain functions the Typer app in `training.cli` calls."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from training.cohort.report import format_report
from training.cohort.simulate import simulate_cohort

COHORT_EXTENSIONS = (".parquet", ".csv")
REPORT_SIZE = 200_000


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
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    try:
        if suffix == ".parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out


def report_text(n: int = REPORT_SIZE, seed: int = 0, setting: str = "primary_care") -> str:
    """The calibration report of a freshly simulated cohort, as plain text."""
    return format_report(simulate_cohort(n, seed, setting), setting)
