"""``redflag validate``: a registered model evaluated on a site's own labelled cases.

What TRIPOD+AI asks of an external validation (discrimination with intervals, calibration with
intervals and a curve with a band, clinical utility, classification at the operating points), the
Deyo rule and the red-flag count scored on the same cases beside it, and a subgroup audit in the
manner of Epic's seismometer. Every figure goes to a JSON file, an offline HTML report and an MLflow
run in ``<model name>-validation`` tagged with the model and the data's digest, never the cases.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from features import LABEL
from features.catalogue import FEATURE_NAMES
from features.loader import LoadedModel
from features.risk import DEFAULT_RISK_THRESHOLDS
from features.scoring import Scores, score_cases
from features.setting import check_setting
from training.evaluation.external import (
    check_external_cases,
    default_external_cases,
    external_validity,
)
from training.evaluation.metrics import (
    DEFAULT_BOOTSTRAP,
    auprc_interval,
    auroc_interval,
    calibration_band,
    calibration_intervals,
    evaluate,
    fairness_table,
    finite_or_none,
    subgroup_labels,
    threshold_metrics,
)
from training.site.inputs import (
    SiteError,
    data_digest,
    labels_of,
    load_site_model,
    model_name,
    write_json,
    write_text,
)

# --fail-under NAME=VALUE: the metric it reads, and whether the value is a floor or a ceiling.
GATES: dict[str, tuple[str, str]] = {
    "auroc": ("auroc", "at least"),
    "auroc_ci_low": ("auroc_ci_low", "at least"),
    "auprc": ("auprc", "at least"),
    "sensitivity": ("sensitivity_at_threshold", "at least"),
    "slope_low": ("calibration_slope", "at least"),
    "slope_high": ("calibration_slope", "at most"),
    "intercept_abs": ("abs_calibration_intercept", "at most"),
}
COMPARATORS = (("Deyo rule", "deyo_rule_positive"), ("red-flag count", "red_flag_count"))


def parse_gates(texts: list[str]) -> dict[str, float]:
    """``["auroc=0.80,slope_low=0.8"]`` as ``{"auroc": 0.8, "slope_low": 0.8}``."""
    gates: dict[str, float] = {}
    for text in texts:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or name not in GATES:
                raise SiteError(
                    f"--fail-under takes NAME=VALUE with NAME one of {', '.join(GATES)}; "
                    f"got '{part}'"
                )
            try:
                gates[name] = float(value)
            except ValueError:
                raise SiteError(f"--fail-under {name}: '{value}' is not a number") from None
    return gates


def failed_gates(metrics: dict[str, float], gates: dict[str, float]) -> list[str]:
    """The gates ``metrics`` fail, each said in words; an undefined figure fails its gate."""
    failures = []
    for name, bound in gates.items():
        metric, sense = GATES[name]
        value = metrics.get(metric, math.nan)
        ok = value >= bound if sense == "at least" else value <= bound
        if not (math.isfinite(value) and ok):
            failures.append(f"{metric} {value:.4f} is not {sense} {bound:g} ({name})")
    return failures


@dataclass(frozen=True)
class ValidationOptions:
    """What to validate, on which cases, and where the figures go."""

    data: Path
    label: str = LABEL
    model_uri: str | None = None
    setting: str | None = None
    report: Path | None = None
    json_out: Path | None = None
    gates: dict[str, float] = field(default_factory=dict)
    thresholds: tuple[float, float] = DEFAULT_RISK_THRESHOLDS
    n_boot: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    # The external cohort the model is also scored on: None, the size its training run used
    # (training.evaluation.external.default_external_cases); 0, none.
    external_cases: int | None = None

    def validate(self) -> None:
        """Refuse options that cannot work, before reading a case."""
        if self.setting is not None:
            check_setting(self.setting, "--setting")
        for path, option in ((self.report, "--report"), (self.json_out, "--json")):
            if path is not None and not path.parent.is_dir():
                raise SiteError(f"{option} {path}: folder {path.parent} does not exist")
        if self.n_boot < 10:
            raise SiteError(f"bootstrap samples must be at least 10, got {self.n_boot}")
        if self.external_cases is not None:
            try:
                check_external_cases(self.external_cases)
            except ValueError as error:
                raise SiteError(str(error)) from None


def _external_metrics(model: LoadedModel, options: ValidationOptions) -> dict[str, float]:
    """The model on the external cohort (``external_*``), beside the site's own figures: what
    of its discrimination is the simulator's structure rather than the evidence."""
    n_cases = options.external_cases
    if n_cases is None:
        trained = model.params.get("n_cases", "")
        n_cases = default_external_cases(int(trained) if trained.isdigit() else 0)
    return external_validity(model.pipeline, n_cases).metrics() if n_cases else {}


@dataclass(frozen=True)
class ValidationResult:
    """The figures, the MLflow run that records them, and the gates failed."""

    figures: dict[str, Any]
    run_id: str
    experiment: str
    failures: list[str]


def _groups(cases: pd.DataFrame, setting: str | None) -> dict[str, npt.NDArray[Any]]:
    """Sex, age band, history of cancer, and the setting when one was given."""
    groups = subgroup_labels(cases, setting)
    if setting is None:
        groups.pop("setting")
    cancer = cases["history_of_cancer"].astype(object)
    labels = np.array(["yes" if v is True else "no" if v is False else None for v in cancer])
    return groups | {"history_of_cancer": labels}


def _classification(y: npt.NDArray[Any], scores: Scores, thresholds: tuple[float, float]) -> Any:
    """Sensitivity, specificity, PPV and NPV at each band threshold, the urgent rules, Deyo."""
    deyo = scores.values[:, FEATURE_NAMES.index("deyo_rule_positive")]
    rules = [
        (
            f"probability >= {thresholds[0]:g} (moderate or high band)",
            scores.probability,
            thresholds[0],
        ),
        (f"probability >= {thresholds[1]:g} (high band)", scores.probability, thresholds[1]),
        ("urgent rules fired", scores.urgent.astype(np.float64), 0.5),
        ("Deyo rule positive", deyo, 0.5),
    ]
    return [{"rule": name} | threshold_metrics(y, values, cut) for name, values, cut in rules]


def _roc_points(y: npt.NDArray[Any], values: npt.NDArray[Any], most: int = 200) -> Any:
    """The ROC curve, thinned to at most ``most`` points (for the report's plot)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, values)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(most, len(fpr))).astype(np.int64))
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}


def _comparators(y: npt.NDArray[Any], scores: Scores, n_boot: int, seed: int) -> Any:
    rows = []
    for name, feature in COMPARATORS:
        values = scores.values[:, FEATURE_NAMES.index(feature)]
        low, high = auroc_interval(y, values, n_boot, seed)
        rows.append(
            {
                "score": name,
                "auroc": roc_auc_score(y, values),
                "auroc_ci_low": low,
                "auroc_ci_high": high,
                "auprc": average_precision_score(y, values),
                "roc": _roc_points(y, values),
            }
        )
    return rows


def site_figures(
    model: LoadedModel, cases: pd.DataFrame, options: ValidationOptions
) -> dict[str, Any]:
    """Every figure of the validation of ``model`` on ``cases``; JSON-ready."""
    y = labels_of(cases, LABEL)
    scores = score_cases(model.pipeline, cases, options.thresholds, options.setting)
    p = scores.probability
    groups = _groups(cases, options.setting)
    high = options.thresholds[1]
    evaluation = evaluate(y, p, groups, threshold=high, n_boot=options.n_boot, seed=options.seed)
    metrics = dict(evaluation.metrics)
    low, up = auprc_interval(y, p, options.n_boot, options.seed)
    metrics |= {"auprc_ci_low": low, "auprc_ci_high": up} | calibration_intervals(y, p)
    metrics["abs_calibration_intercept"] = abs(metrics["calibration_intercept"])
    metrics |= _external_metrics(model, options)
    figures = {
        "model": {
            **model.identity.as_response(),
            "name": model_name(model),
            "uri": model.identity.uri,
            "train_prevalence": model.train_prevalence,
        },
        "data": {"file": Path(options.data).name, "n_cases": len(y), "n_events": int(y.sum())},
        "setting": options.setting,
        "scored_at_prevalence": scores.prevalence,
        "operating_threshold": high,
        "metrics": metrics,
        "roc": _roc_points(y, p),
        "calibration_curve": calibration_band(y, p),
        "decision_curve": evaluation.decision_curve,
        "classification": _classification(y, scores, options.thresholds),
        "comparators": _comparators(y, scores, options.n_boot, options.seed),
        "subgroups": fairness_table(y, p, groups, high),
    }
    figures["subgroups_flagged"] = [
        f"{row['variable']}={row['group']}: {', '.join(row['flagged'])} below 80% of overall"
        for row in figures["subgroups"]
        if row.get("flagged")
    ]
    cleaned: dict[str, Any] = _clean(figures)
    return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return finite_or_none(value)


def _log_run(figures: dict[str, Any], html: str, digest: str) -> tuple[str, str]:
    """Record the figures (never the cases) in ``<model name>-validation``; (run id, experiment)."""
    import mlflow

    from training.tracking import connect, ensure_experiment

    name = figures["model"]["name"]
    experiment = f"{name}-validation"
    experiment_id = ensure_experiment(connect(), experiment)
    tags = {
        "model_name": name,
        "model_version": str(figures["model"]["version"]),
        "model_uri": figures["model"]["uri"],
        "data_digest": digest,
        "setting": figures["setting"] or "none",
    }
    numbers = {k: float(v) for k, v in figures["metrics"].items() if v is not None}
    with mlflow.start_run(experiment_id=experiment_id) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags(tags)
        mlflow.log_params(
            {"data_file": figures["data"]["file"], "n_cases": figures["data"]["n_cases"]}
        )
        mlflow.log_metrics(numbers)
        (Path(tmp) / "validation.json").write_text(json.dumps(figures, indent=2, allow_nan=False))
        (Path(tmp) / "validation_report.html").write_text(html, encoding="utf-8")
        mlflow.log_artifacts(tmp)
    return run.info.run_id, experiment


def validate_site(options: ValidationOptions) -> ValidationResult:
    """Load, evaluate, write the JSON and the report, log the run; gates are checked last.

    Nothing is written or logged until the model and every case have been read and checked.
    """
    from training.data import load_cases
    from training.site.report import render_report

    options.validate()
    model = load_site_model(options.model_uri)
    cases = load_cases(options.data, label=options.label)
    figures = site_figures(model, cases, options)
    digest = data_digest(cases, Path(options.data).name)
    figures["data"]["digest"] = digest
    failures = failed_gates(figures["metrics"], options.gates)
    figures["gates"] = {"bounds": options.gates, "failed": failures}
    html = render_report(figures)
    if options.json_out is not None:
        write_json(options.json_out, figures)
    if options.report is not None:
        write_text(options.report, html)
    run_id, experiment = _log_run(figures, html, digest)
    return ValidationResult(figures, run_id, experiment, failures)


def summary_lines(result: ValidationResult) -> list[str]:
    """What ``redflag validate`` prints: the headline figures and where the rest went."""
    f, m = result.figures, result.figures["metrics"]

    def num(key: str, digits: int = 3) -> str:
        value = m.get(key)
        return f"{value:.{digits}f}" if value is not None else "n/a"

    model = f["model"]
    lines = [
        f"model:        {model['name']} version {model['version']} ({model['uri']})",
        f"cases:        {f['data']['n_cases']} ({f['data']['n_events']} events), "
        f"digest {f['data']['digest']}",
        f"AUROC:        {num('auroc')} (95% CI {num('auroc_ci_low')}-{num('auroc_ci_high')})",
        f"AUPRC:        {num('auprc')} (95% CI {num('auprc_ci_low')}-{num('auprc_ci_high')})",
        f"Brier:        {num('brier', 5)}",
        f"calibration:  intercept {num('calibration_intercept')} "
        f"({num('calibration_intercept_ci_low')} to {num('calibration_intercept_ci_high')}), "
        f"slope {num('calibration_slope')} "
        f"({num('calibration_slope_ci_low')} to {num('calibration_slope_ci_high')}), "
        f"ECE {num('ece', 4)}",
    ]
    if m.get("external_auroc") is not None:
        lines.append(
            f"external:     AUROC {num('external_auroc')} of a ceiling "
            f"{num('external_ceiling_auroc')} ({100 * m['external_share_retained']:.1f}% "
            f"retained), calibration slope {num('external_calibration_slope')}, intercept "
            f"{num('external_calibration_intercept')} (simulated external cohort)"
        )
    for row in f["classification"]:
        lines.append(
            f"{row['rule']:44s} sens {_pct(row['sensitivity'])}  spec {_pct(row['specificity'])}"
            f"  PPV {_pct(row['ppv'])}  NPV {_pct(row['npv'])}"
        )
    for row in f["comparators"]:
        lines.append(f"{row['score'] + ' AUROC':44s} {row['auroc']:.3f}")
    lines += [f"subgroup flag: {flag}" for flag in f["subgroups_flagged"]] or [
        "subgroups:    none flagged"
    ]
    lines.append(f"MLflow run:   {result.run_id} (experiment {result.experiment})")
    lines += [f"FAILED: {failure}" for failure in result.failures]
    return lines


def _pct(value: float | None) -> str:
    return f"{100 * value:5.1f}%" if value is not None else "  n/a"
