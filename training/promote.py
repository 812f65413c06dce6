"""Move the ``champion`` alias, behind a gate that compares candidate and champion on fresh cases.

The gate evaluates both models on one freshly simulated cohort (``training.evaluation.compare``), in
the champion's training setting (the candidate must do well where the champion is used), and refuses
a candidate whose AUROC is lower than the champion's by more than ``auroc_tolerance``, or whose
calibration is worse by more than ``calibration_tolerance`` — |slope − 1| or |intercept| (in the
large) larger than the champion's by that much — unless forced. The previous champion, the reason
and the comparison are recorded as tags of the promoted version.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from features.model import ProgressFn
from features.store import CHALLENGER, CHAMPION, MODEL_NAME
from training.defaults import (
    AUROC_TOLERANCE,
    CALIBRATION_TOLERANCE,
    FRESH_COHORT_CASES,
    FRESH_COHORT_SEED,
)
from training.evaluation.compare import (
    ComparisonError,
    PairComparison,
    compare_pair,
)
from training.evaluation.metrics import DEFAULT_BOOTSTRAP, finite_or_none
from training.tracking import version_by_alias


class PromotionError(ValueError):
    """A promotion that cannot be made or was refused; the message says why."""


@dataclass(frozen=True)
class PromotionResult:
    """What ``promote`` did."""

    version: str
    previous: str | None
    forced: bool
    gate_passed: bool | None
    reasons: list[str]
    comparison: PairComparison | None


def resolve_candidate(
    client: MlflowClient, run_id: str | None, version: str | None
) -> ModelVersion:
    """The registered version named by exactly one of ``run_id`` and ``version``."""
    if (run_id is None) == (version is None):
        raise PromotionError("give exactly one of --run and --version")
    if version is not None:
        try:
            return client.get_model_version(MODEL_NAME, version)
        except MlflowException:
            raise PromotionError(f"model '{MODEL_NAME}' has no version '{version}'") from None
    try:
        client.get_run(str(run_id))
    except MlflowException:
        raise PromotionError(f"unknown run '{run_id}'") from None
    versions = client.search_model_versions(f"name='{MODEL_NAME}' and run_id='{run_id}'")
    if not versions:
        raise PromotionError(f"run '{run_id}' has no registered model version to promote")
    return max(versions, key=lambda v: int(v.version))


def _calibration_error(comparison: PairComparison, which: str) -> tuple[float, float]:
    metrics = comparison.metrics_b if which == "b" else comparison.metrics_a
    slope, intercept = metrics["calibration_slope"], metrics["calibration_intercept"]
    return (
        abs(slope - 1) if math.isfinite(slope) else math.inf,
        abs(intercept) if math.isfinite(intercept) else math.inf,
    )


def gate(
    comparison: PairComparison,
    auroc_tolerance: float = AUROC_TOLERANCE,
    calibration_tolerance: float = CALIBRATION_TOLERANCE,
) -> list[str]:
    """Reasons to refuse candidate B against champion A; empty when B may be promoted."""
    reasons = []
    auroc_a, auroc_b = comparison.metrics_a["auroc"], comparison.metrics_b["auroc"]
    if auroc_b < auroc_a - auroc_tolerance:
        reasons.append(
            f"AUROC {auroc_b:.4f} is below the champion's {auroc_a:.4f} by more than "
            f"{auroc_tolerance:g}"
        )
    (slope_a, citl_a), (slope_b, citl_b) = (
        _calibration_error(comparison, "a"),
        _calibration_error(comparison, "b"),
    )
    if slope_b > slope_a + calibration_tolerance:
        reasons.append(
            f"calibration slope {comparison.metrics_b['calibration_slope']:.3f} is further from 1 "
            f"than the champion's {comparison.metrics_a['calibration_slope']:.3f} by more than "
            f"{calibration_tolerance:g}"
        )
    if citl_b > citl_a + calibration_tolerance:
        reasons.append(
            f"calibration intercept {comparison.metrics_b['calibration_intercept']:.3f} is "
            f"further from 0 than the champion's "
            f"{comparison.metrics_a['calibration_intercept']:.3f} by more than "
            f"{calibration_tolerance:g}"
        )
    return reasons


def _compare_with_champion(
    client: MlflowClient,
    current: ModelVersion,
    candidate: ModelVersion,
    n_cases: int,
    seed: int,
    n_boot: int,
    progress: ProgressFn | None,
) -> PairComparison:
    try:
        return compare_pair(
            client,
            str(current.run_id),
            str(candidate.run_id),
            n_cases,
            seed,
            None,
            n_boot,
            progress,
        )
    except ComparisonError as error:
        raise PromotionError(f"cannot compare with the champion: {error}") from None


def _promotion_tags(
    current: ModelVersion | None,
    comparison: PairComparison | None,
    reasons: list[str],
    force: bool,
    reason: str | None,
    tolerances: tuple[float, float],
) -> dict[str, str]:
    """What the promoted version records of its promotion: when, why, over whom, on what."""
    tags = {
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promotion_reason": reason or "",
        "previous_champion": str(current.version) if current is not None else "none",
        "promotion_forced": str(bool(force and reasons)).lower(),
        "promotion_gate": "none (no champion)"
        if comparison is None
        else ("refused, forced" if reasons else "passed"),
    }
    if comparison is not None:
        tags["promotion_comparison"] = json.dumps(
            {
                "champion_version": str(current.version) if current else None,
                "cohort": {
                    "setting": comparison.setting,
                    "n_cases": comparison.n_cases,
                    "seed": comparison.seed,
                },
                "auroc_tolerance": tolerances[0],
                "calibration_tolerance": tolerances[1],
                "metrics": [
                    {k: finite_or_none(v) for k, v in r.items()} for r in comparison.as_records()
                ],
                "refusal_reasons": reasons,
            },
            allow_nan=False,
        )
    return tags


def _move_champion(client: MlflowClient, version: str, tags: dict[str, str]) -> None:
    """Tag ``version``, make it the champion, and drop its challenger alias if it held it."""
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    challenger = version_by_alias(client, CHALLENGER)
    if challenger is not None and str(challenger.version) == version:
        client.delete_registered_model_alias(MODEL_NAME, CHALLENGER)


def promote(
    client: MlflowClient,
    run_id: str | None = None,
    version: str | None = None,
    force: bool = False,
    reason: str | None = None,
    n_cases: int = FRESH_COHORT_CASES,
    seed: int = FRESH_COHORT_SEED,
    auroc_tolerance: float = AUROC_TOLERANCE,
    calibration_tolerance: float = CALIBRATION_TOLERANCE,
    n_boot: int = DEFAULT_BOOTSTRAP,
    progress: ProgressFn | None = None,
) -> PromotionResult:
    """Make the candidate ``champion`` if it passes the gate (or ``force``); nothing is written
    until every check has passed."""
    if auroc_tolerance < 0 or calibration_tolerance < 0:
        raise PromotionError("tolerances must be 0 or more")
    candidate = resolve_candidate(client, run_id, version)
    current = version_by_alias(client, CHAMPION)
    if current is not None and str(current.version) == str(candidate.version):
        raise PromotionError(f"version {candidate.version} is already the champion")
    comparison: PairComparison | None = None
    reasons: list[str] = []
    if current is not None:
        comparison = _compare_with_champion(
            client, current, candidate, n_cases, seed, n_boot, progress
        )
        reasons = gate(comparison, auroc_tolerance, calibration_tolerance)
        if reasons and not force:
            raise PromotionError(
                f"refused to promote version {candidate.version} over champion version "
                f"{current.version}: " + "; ".join(reasons) + " (use --force to override)"
            )
    tolerances = (auroc_tolerance, calibration_tolerance)
    tags = _promotion_tags(current, comparison, reasons, force, reason, tolerances)
    _move_champion(client, str(candidate.version), tags)
    return PromotionResult(
        version=str(candidate.version),
        previous=str(current.version) if current is not None else None,
        forced=bool(force and reasons),
        gate_passed=None if comparison is None else not reasons,
        reasons=reasons,
        comparison=comparison,
    )
