"""Batch scoring of case files: probability, risk band and urgent flag for every row.

Locally the file is read in chunks of rows (Parquet row groups, CSV chunks) with a progress bar;
with ``engine="dask"`` each Parquet partition is scored on the cluster. Either way the output is
written to a temporary path and renamed into place only when every row is scored, so a bad row or
an interrupted run leaves nothing half-written, and the input is validated row by row first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features import DIAGNOSIS, LABEL
from features.catalogue import FEATURE_NAMES
from features.model import ProgressFn, RiskPipeline
from features.risk import DEFAULT_RISK_THRESHOLDS, check_risk_thresholds
from features.scoring import score_cases
from features.setting import check_setting
from training.atomic import written_atomically
from training.data import CaseFileError, validate_case_frame

INPUT_SUFFIXES = (".parquet", ".csv")
CHUNK_ROWS = 100_000
CONTRIBUTION_COLUMNS = [f"contribution_{name}" for name in FEATURE_NAMES]


@dataclass(frozen=True)
class ScoreOptions:
    """How to score: setting, risk-band thresholds, explanation columns and pass-through columns."""

    setting: str | None = None
    thresholds: tuple[float, float] = DEFAULT_RISK_THRESHOLDS
    explain: bool = False
    keep: tuple[str, ...] = ()
    # The interval, the unrecorded findings' range and the next question: each case is scored
    # again with its unrecorded answers filled in (~25 variants a case), so they are asked for.
    detail: bool = False

    def validate(self) -> None:
        """Refuse options that cannot work, before reading a row."""
        if self.setting is not None:
            check_setting(self.setting, "--setting")
        check_risk_thresholds(self.thresholds, "--thresholds")


def score_frame(pipeline: RiskPipeline, cases: pd.DataFrame, options: ScoreOptions) -> pd.DataFrame:
    """Scores of validated cases: the kept columns, then probability, band and urgent flag."""
    scores = score_cases(
        pipeline,
        cases,
        options.thresholds,
        options.setting,
        options.explain,
        detail=options.detail,
        next_questions=1 if options.detail else 0,
    )
    out = pd.DataFrame({name: cases[name].to_numpy() for name in options.keep})
    out["probability"] = scores.probability
    out["risk_band"] = scores.risk_band
    out["urgent"] = scores.urgent
    out["urgent_reasons"] = ["; ".join(r) for r in scores.urgent_reasons()]
    if options.detail:
        nan = np.full(len(out), np.nan)
        low, high = scores.interval_low, scores.interval_high
        out["interval_low"] = low if low is not None else nan
        out["interval_high"] = high if high is not None else nan
        out["unrecorded_low"] = scores.unrecorded_low
        out["unrecorded_high"] = scores.unrecorded_high
        out["next_question"] = [q[0]["field"] if q else "" for q in scores.next_questions]
    if scores.base_value is not None and scores.contributions is not None:
        out["base_value"] = scores.base_value
        # One block of columns, not 41 insertions (each one copies the frame's blocks).
        shares = pd.DataFrame(
            scores.contributions, columns=CONTRIBUTION_COLUMNS, index=out.index, copy=False
        )
        out = pd.concat([out, shares], axis=1)
    return out


def _with_labels(options: ScoreOptions, raw: pd.DataFrame) -> ScoreOptions:
    """Labels and diagnoses in the input travel to the output, to evaluate the scores later."""
    extra = tuple(c for c in (LABEL, DIAGNOSIS) if c in raw.columns and c not in options.keep)
    return replace(options, keep=(*options.keep, *extra)) if extra else options


def _row_count(path: Path) -> int:
    """Cases in ``path`` when its metadata says so cheaply (Parquet); 0 when unknown (CSV)."""
    if path.suffix.lower() == ".parquet":
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (OSError, pa.ArrowException):
            return 0  # reading the rows will fail with a message naming the file
    return 0


def _chunks(path: Path) -> Iterator[pd.DataFrame]:
    """The file's rows, a chunk at a time; a file that cannot be read is named in the error."""
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    try:
        if kind == "Parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
                yield batch.to_pandas()
        else:
            yield from pd.read_csv(
                path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS, encoding="utf-8-sig"
            )
    except pd.errors.EmptyDataError as exc:
        raise CaseFileError(f"{path}: the file is empty") from exc
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as exc:
        if isinstance(exc, CaseFileError):
            raise
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CaseFileError(f"{path}: cannot be read as {kind}: {reason}") from exc


def _check_paths(source: Path, target: Path, overwrite: bool) -> None:
    if source.suffix.lower() not in INPUT_SUFFIXES:
        raise CaseFileError(f"{source}: unsupported file type; use .parquet or .csv")
    if not source.is_file():
        raise CaseFileError(f"{source}: no such file")
    if source.stat().st_size == 0:
        raise CaseFileError(f"{source}: the file is empty")
    if target.suffix.lower() != ".parquet":
        raise CaseFileError(f"{target}: the output must be a .parquet file")
    if target.exists() and not overwrite:
        raise CaseFileError(f"{target}: already exists; choose another path or pass --force")
    if not target.parent.is_dir():
        raise CaseFileError(f"{target}: folder {target.parent} does not exist")
    if source.resolve() == target.resolve():
        raise CaseFileError(f"{target}: would overwrite the input")


def score_file(
    pipeline: RiskPipeline,
    source: Path,
    target: Path,
    options: ScoreOptions,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> int:
    """Score every case of ``source`` into the Parquet file ``target``; returns the row count."""
    options.validate()
    _check_paths(source, target, overwrite)
    rows, total = 0, _row_count(source)
    with written_atomically(target) as temporary:
        writer: pq.ParquetWriter | None = None
        try:
            for raw in _chunks(source):
                chunk_options = _with_labels(options, raw)
                cases = validate_case_frame(raw, str(source), rows, chunk_options.keep)
                table = pa.Table.from_pandas(
                    score_frame(pipeline, cases, chunk_options), preserve_index=False
                )
                writer = writer or pq.ParquetWriter(temporary, table.schema)
                writer.write_table(table)
                rows += len(raw)
                if progress:
                    progress(rows, total)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise CaseFileError(f"{source}: the file has no cases")
    return rows


def score_file_on_dask(
    pipeline: RiskPipeline,
    source: str,
    target: Path,
    options: ScoreOptions,
    scheduler: str | None = None,
    overwrite: bool = False,
) -> int:
    """Score a Parquet dataset partition by partition on a Dask cluster, into ``target`` (a folder).

    Row numbers in validation errors count within the partition named in the message.
    """
    import dask.dataframe as dd

    from training.distributed import dask_client

    options.validate()
    if target.exists() and not overwrite:
        raise CaseFileError(f"{target}: already exists; choose another path or pass --force")
    if not target.parent.is_dir():
        raise CaseFileError(f"{target}: folder {target.parent} does not exist")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with dask_client(scheduler):
            cases = dd.read_parquet(source)
            head = cases.head(5)
            labelled = _with_labels(options, head)

            def score_partition(
                raw: pd.DataFrame, partition_info: dict[str, int] | None = None
            ) -> pd.DataFrame:
                number = partition_info["number"] if partition_info else 0
                where = f"{source} (partition {number})"
                return score_frame(
                    pipeline, validate_case_frame(raw, where, 0, labelled.keep), labelled
                )

            # The output's schema, from real rows: pass-through columns keep their own types.
            meta = score_partition(head).iloc[:0]
            scored = cases.map_partitions(score_partition, meta=meta)
            scored.to_parquet(str(staging / "scores"), write_index=False)
            rows = int(dd.read_parquet(str(staging / "scores")).shape[0].compute())
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.replace(staging / "scores", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return rows
