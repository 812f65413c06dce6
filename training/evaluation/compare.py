"""Runs side by side, and two models on one fresh test cohort with paired bootstrap differences.

The fresh cohort is simulated with ``FRESH_COHORT_SEED`` (unless another is given), a seed no
training run uses by default; a seed equal to either run's training seed is refused, so the
comparison never scores a model on cases it was trained on.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from features import LABEL
from features.loader import ModelUnavailableError, load_model
from features.model import ProgressFn, RiskPipeline
from features.scoring import score_cases
from features.setting import SETTING_PREVALENCE, check_setting
from features.store import MODEL_NAME
from training.defaults import (
    DEFAULT_SETTING,
    FRESH_COHORT_CASES,
    FRESH_COHORT_SEED,
    MIN_SIMULATED_CASES,
    OutputFormat,
    SortKey,
)
from training.evaluation.metrics import (
    DEFAULT_BOOTSTRAP,
    PairedDifference,
    core_metrics,
    finite_or_none,
    paired_bootstrap,
)


class ComparisonError(ValueError):
    """A comparison that cannot be made; the message says why."""


def _deviation_from_one(value: float) -> float:
    return abs(value - 1) if math.isfinite(value) else math.inf


def _magnitude(value: float) -> float:
    return abs(value) if math.isfinite(value) else math.inf


# sort key -> (metric, ordering value (smaller sorts first))
SORT_KEYS: dict[SortKey, tuple[str, Callable[[float], float]]] = {
    SortKey.auroc: ("test_auroc", lambda v: -v if math.isfinite(v) else math.inf),
    SortKey.auprc: ("test_auprc", lambda v: -v if math.isfinite(v) else math.inf),
    SortKey.brier: ("test_brier", _magnitude),
    SortKey.log_loss: ("test_log_loss", _magnitude),
    SortKey.ece: ("test_ece", _magnitude),
    SortKey.calibration_slope: ("test_calibration_slope", _deviation_from_one),
    SortKey.calibration_intercept: ("test_calibration_intercept", _magnitude),
    SortKey.external_share_retained: (
        "external_share_retained",
        lambda v: -v if math.isfinite(v) else math.inf,
    ),
    SortKey.start_time: ("start_time", lambda v: -v),
}


@dataclass(frozen=True)
class RunRow:
    """One run of the experiment with its key test metrics and registry identity."""

    run_id: str
    model: str
    setting: str
    n_cases: str
    seed: str
    version: str | None
    alias: str | None
    auroc: float
    auroc_ci_low: float
    auroc_ci_high: float
    auprc: float
    brier: float
    calibration_intercept: float
    calibration_slope: float
    ece: float
    sensitivity_at_threshold: float
    specificity_at_threshold: float
    # On the external cohort (training.evaluation.external); NaN for runs that did not score it.
    external_auroc: float = math.nan
    external_ceiling_auroc: float = math.nan
    external_share_retained: float = math.nan
    external_calibration_slope: float = math.nan
    external_calibration_intercept: float = math.nan
    start_time: int = field(repr=False, default=0)


def registry_index(client: MlflowClient, name: str = MODEL_NAME) -> dict[str, tuple[str, str]]:
    """Run id -> (registry version, comma-joined aliases) of every registered version."""
    try:
        versions = client.search_model_versions(f"name='{name}'")
        # Search results leave aliases out; the registered model maps each alias to a version.
        aliases: dict[str, str] = dict(client.get_registered_model(name).aliases or {})
    except MlflowException:
        return {}
    held: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        held.setdefault(str(version), []).append(alias)
    return {
        str(v.run_id): (str(v.version), ",".join(sorted(held.get(str(v.version), []))))
        for v in versions
    }


def experiment_runs(client: MlflowClient, experiment: str) -> list[RunRow]:
    """Top-level evaluated runs of ``experiment`` (tuning trials, nested, are left out)."""
    found = client.get_experiment_by_name(experiment)
    if found is None or found.lifecycle_stage == "deleted":
        raise ComparisonError(f"no experiment named '{experiment}'")
    index = registry_index(client)
    rows = []
    for run in client.search_runs([found.experiment_id], max_results=5000):
        metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
        if "mlflow.parentRunId" in tags or "test_auroc" not in metrics:
            continue
        version, aliases = index.get(run.info.run_id, (None, ""))

        def metric(name: str, values: dict[str, float] = metrics) -> float:
            return float(values.get(f"test_{name}", math.nan))

        rows.append(
            RunRow(
                run_id=run.info.run_id,
                model=tags.get("model", params.get("model", "xgboost")),
                setting=params.get("setting", ""),
                n_cases=params.get("n_cases", ""),
                seed=params.get("seed", ""),
                version=version,
                alias=aliases or None,
                auroc=metric("auroc"),
                auroc_ci_low=metric("auroc_ci_low"),
                auroc_ci_high=metric("auroc_ci_high"),
                auprc=metric("auprc"),
                brier=metric("brier"),
                calibration_intercept=metric("calibration_intercept"),
                calibration_slope=metric("calibration_slope"),
                ece=metric("ece"),
                sensitivity_at_threshold=metric("sensitivity_at_threshold"),
                specificity_at_threshold=metric("specificity_at_threshold"),
                **_external(metrics),
                start_time=int(run.info.start_time or 0),
            )
        )
    return rows


def _external(metrics: dict[str, float]) -> dict[str, float]:
    """A run's ``external_*`` metrics, NaN where it has none (older runs, checks switched off)."""
    names = (
        "external_auroc",
        "external_ceiling_auroc",
        "external_share_retained",
        "external_calibration_slope",
        "external_calibration_intercept",
    )
    return {name: float(metrics.get(name, math.nan)) for name in names}


def sort_runs(rows: Sequence[RunRow], sort: str) -> list[RunRow]:
    """Best first by ``sort`` (one of ``SORT_KEYS``); ties by newest."""
    if sort not in SORT_KEYS:
        raise ComparisonError(f"--sort must be one of {', '.join(SORT_KEYS)}, got '{sort}'")
    metric, order = SORT_KEYS[SortKey(sort)]
    attribute = metric.removeprefix("test_")
    return sorted(rows, key=lambda r: (order(float(getattr(r, attribute))), -r.start_time))


def _num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def _display(row: RunRow) -> dict[str, str]:
    return {
        "run_id": row.run_id,
        "model": row.model,
        "setting": row.setting,
        "n_cases": row.n_cases,
        "version": row.version or "-",
        "alias": row.alias or "-",
        "auroc": _num(row.auroc),
        "auroc_95ci": f"{_num(row.auroc_ci_low)}-{_num(row.auroc_ci_high)}",
        "auprc": _num(row.auprc),
        "brier": _num(row.brier, 5),
        "cal_intercept": _num(row.calibration_intercept),
        "cal_slope": _num(row.calibration_slope),
        "ece": _num(row.ece, 4),
        "sens@thr": _num(row.sensitivity_at_threshold),
        "spec@thr": _num(row.specificity_at_threshold),
        "ext_auroc": _num(row.external_auroc),
        "ext_ceiling": _num(row.external_ceiling_auroc),
        "ext_share": _percent(row.external_share_retained),
        "ext_slope": _num(row.external_calibration_slope),
    }


def _percent(value: float) -> str:
    return f"{value:.1%}" if math.isfinite(value) else "n/a"


def render(records: Sequence[dict[str, Any]], display: Sequence[dict[str, str]], fmt: str) -> str:
    """``records`` as JSON, or their ``display`` strings as a table, markdown or CSV."""
    if fmt not in set(OutputFormat):
        known = ", ".join(OutputFormat)
        raise ComparisonError(f"--format must be one of {known}, got '{fmt}'")
    if fmt == "json":
        clean = [{k: finite_or_none(v) for k, v in r.items()} for r in records]
        return json.dumps(clean, indent=2, allow_nan=False) + "\n"
    columns = list(display[0]) if display else []
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(display)
        return buffer.getvalue()
    if not display:
        return "(no runs)\n"
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in display]
        return "\n".join(lines) + "\n"
    widths = {c: max(len(c), *(len(row[c]) for row in display)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines += ["  ".join(row[c].ljust(widths[c]) for c in columns) for row in display]
    return "\n".join(lines) + "\n"


def format_runs(rows: Sequence[RunRow], fmt: str) -> str:
    """The run listing in ``fmt`` (an ``OutputFormat``)."""
    records = []
    for row in rows:
        record = asdict(row)
        record.pop("start_time")
        records.append(record)
    return render(records, [_display(row) for row in rows], fmt)


# --- two runs on one fresh cohort -------------------------------------------------------------


@dataclass(frozen=True)
class RunModel:
    """A run's logged model with what is needed to evaluate it."""

    run_id: str
    model: str
    setting: str
    seed: int | None
    pipeline: RiskPipeline


def load_run_model(client: MlflowClient, run_id: str) -> RunModel:
    """The model logged by ``run_id``; ``ComparisonError`` when the run or its model is missing."""
    try:
        client.get_run(run_id)
    except MlflowException:
        raise ComparisonError(f"unknown run '{run_id}'") from None
    try:
        loaded = load_model(f"runs:/{run_id}/model", client.tracking_uri)
    except ModelUnavailableError as error:
        raise ComparisonError(f"run '{run_id}' has no usable logged model: {error}") from None
    seed = loaded.params.get("seed", "")
    return RunModel(
        run_id=run_id,
        model=loaded.kind,
        setting=loaded.params.get("setting", ""),
        seed=int(seed) if seed.isdigit() else None,
        pipeline=loaded.pipeline,
    )


def fresh_cohort_setting(models: Sequence[RunModel], setting: str | None) -> str:
    """``setting`` when given, else the first model's training setting (primary care for files)."""
    chosen = setting or next(
        (m.setting for m in models if m.setting in SETTING_PREVALENCE), DEFAULT_SETTING
    )
    try:
        return check_setting(chosen, "--setting")
    except ValueError as error:
        raise ComparisonError(str(error)) from None


def fresh_cohort(models: Sequence[RunModel], n_cases: int, seed: int, setting: str) -> pd.DataFrame:
    """A newly simulated test cohort, refused when ``seed`` is a training seed of ``models``."""
    from training.cohort.simulate import simulate_cohort

    used = {m.seed for m in models if m.seed is not None}
    if seed in used:
        raise ComparisonError(
            f"--seed {seed} is the training seed of a compared run; pick another so the test "
            "cohort is fresh"
        )
    if n_cases < MIN_SIMULATED_CASES:
        raise ComparisonError(f"--n-cases must be at least {MIN_SIMULATED_CASES}, got {n_cases}")
    cohort: pd.DataFrame = simulate_cohort(n_cases, seed, setting)
    if cohort[LABEL].nunique() < 2:
        raise ComparisonError("the fresh cohort has one class only; use more --n-cases")
    return cohort


@dataclass(frozen=True)
class PairComparison:
    """Two runs evaluated on the same fresh cohort."""

    run_a: RunModel
    run_b: RunModel
    setting: str
    n_cases: int
    seed: int
    metrics_a: dict[str, float]
    metrics_b: dict[str, float]
    differences: list[PairedDifference]

    def as_records(self) -> list[dict[str, Any]]:
        """One record per metric: A, B, B − A and its interval."""
        records: list[dict[str, Any]] = []
        by_metric = {d.metric: d for d in self.differences}
        for metric in ("auroc", "brier", "calibration_intercept", "calibration_slope", "ece"):
            record: dict[str, Any] = {
                "metric": metric,
                "a": self.metrics_a[metric],
                "b": self.metrics_b[metric],
                "difference_b_minus_a": self.metrics_b[metric] - self.metrics_a[metric],
                "ci_low": None,
                "ci_high": None,
            }
            if metric in by_metric:
                record["ci_low"] = by_metric[metric].ci_low
                record["ci_high"] = by_metric[metric].ci_high
            records.append(record)
        return records

    def header(self) -> str:
        """Which runs, and on which cohort."""
        return (
            f"A = {self.run_a.run_id} ({self.run_a.model}), B = {self.run_b.run_id} "
            f"({self.run_b.model}); fresh simulated {self.setting} cohort of "
            f"{self.n_cases:,} cases "
            f"(seed {self.seed}, {int(self.metrics_a['n_positive']):,} positive); "
            "95% paired bootstrap intervals"
        )


def compare_pair(
    client: MlflowClient,
    run_a: str,
    run_b: str,
    n_cases: int = FRESH_COHORT_CASES,
    seed: int = FRESH_COHORT_SEED,
    setting: str | None = None,
    n_boot: int = DEFAULT_BOOTSTRAP,
    progress: ProgressFn | None = None,
) -> PairComparison:
    """Evaluate both runs' models on one fresh cohort; paired bootstrap of AUROC and Brier."""
    if run_a == run_b:
        raise ComparisonError("give two different runs to compare")
    models = [load_run_model(client, run_a), load_run_model(client, run_b)]
    chosen = fresh_cohort_setting(models, setting)
    cohort = fresh_cohort(models, n_cases, seed, chosen)
    y = cohort[LABEL].to_numpy()
    p_a, p_b = (score_cases(m.pipeline, cohort).probability for m in models)
    return PairComparison(
        run_a=models[0],
        run_b=models[1],
        setting=chosen,
        n_cases=n_cases,
        seed=seed,
        metrics_a=core_metrics(y, p_a),
        metrics_b=core_metrics(y, p_b),
        differences=paired_bootstrap(y, p_a, p_b, n_boot, seed, progress),
    )


def format_pair(comparison: PairComparison, fmt: str) -> str:
    """The paired comparison in ``fmt``; JSON carries the cohort description too."""
    records = comparison.as_records()
    if fmt == "json":
        payload = {
            "run_a": comparison.run_a.run_id,
            "model_a": comparison.run_a.model,
            "run_b": comparison.run_b.run_id,
            "model_b": comparison.run_b.model,
            "cohort": {
                "setting": comparison.setting,
                "n_cases": comparison.n_cases,
                "seed": comparison.seed,
                "n_positive": int(comparison.metrics_a["n_positive"]),
            },
            "metrics": [{k: finite_or_none(v) for k, v in r.items()} for r in records],
        }
        return json.dumps(payload, indent=2, allow_nan=False) + "\n"
    display = []
    for r in records:
        digits = 5 if r["metric"] == "brier" else 4
        interval = (
            f"{_num(r['ci_low'], digits)} to {_num(r['ci_high'], digits)}"
            if r["ci_low"] is not None
            else "-"
        )
        display.append(
            {
                "metric": r["metric"],
                "A": _num(r["a"], digits),
                "B": _num(r["b"], digits),
                "B-A": _num(r["difference_b_minus_a"], digits),
                "95% CI of B-A": interval,
            }
        )
    body = render(records, display, fmt)
    if fmt == "csv":
        return body
    return comparison.header() + "\n\n" + body
