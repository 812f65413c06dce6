"""The evidence ensemble behind each estimate's interval (``features.interval``).

Each member is the same kind of model, fitted on a cohort simulated in another plausible world:
every published sensitivity, specificity, share and prevalence redrawn from the sampling
uncertainty of its source's counts (``training.cohort.targets.redraw_figures``). The spread of the
members' log-odds for a case is how much the published evidence leaves that estimate open. A run
on the user's own cases has no figures to redraw: its members are fitted on bootstrap resamples of
the training split, so its interval carries the sampling uncertainty of those cases only.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.interval import EvidenceInterval
from features.model import ProgressFn, RiskPipeline
from features.unrecorded import BOOLEAN_FIELDS
from training.cohort.simulate import simulate_cohort
from training.cohort.targets import redraw_figures
from training.defaults import ModelKind
from training.fit import Split, fit_model, split_cases
from training.timing import timed

# Members learn a redrawn world's structure, not its last decimal: a quicker booster than the
# model's own (3 to 4 times faster, measured), on at most this many simulated cases each.
MEMBER_BOOSTER = {"learning_rate": 0.15, "n_estimators": 200, "early_stopping_rounds": 20}
MEMBER_CASES = (10_000, 200_000)
MAX_REDRAWS = 50
# Members fitted at once, one thread each: the cores, but no more than four cohorts in memory.
MAX_MEMBER_WORKERS = 4
SIMULATED_METHOD = (
    "evidence ensemble: {k} models fitted on cohorts simulated with every published figure "
    "redrawn from its source's sampling uncertainty, all from the same simulated draws; the "
    "estimate moved by the {low:.0%}-{high:.0%} quantiles of the members' log-odds around their "
    "mean"
)
BOOTSTRAP_METHOD = (
    "bootstrap ensemble: {k} models fitted on resamples of the training cases; the estimate moved "
    "by the {low:.0%}-{high:.0%} quantiles of the members' log-odds around their mean"
)
# Yes/no findings left recorded for the width table of the model card (of 17).
RECORDED_KEPT = (0, 4, 8, 12, len(BOOLEAN_FIELDS))
# Stretches of the members' quantiles tried, smallest first, until the level is covered.
SCALES = tuple(round(1.0 + 0.1 * step, 1) for step in range(31))


@dataclass(frozen=True)
class MemberPlan:
    """How the members are drawn: how many, of which model, in which setting, from which seed."""

    n_members: int
    model: str
    seed: int
    setting: str | None  # None: the user's own cases (bootstrap members)
    n_cases: int
    params: dict[str, Any]


def _member_params(plan: MemberPlan) -> dict[str, Any]:
    if plan.model == ModelKind.xgboost:
        # One thread each, members side by side: the same trees (XGBoost's histograms do not
        # depend on the thread count), without two threads waiting on each other every round.
        return {**plan.params, **MEMBER_BOOSTER, "n_jobs": 1}
    return dict(plan.params)


def _redrawn_cohort(plan: MemberPlan, k: int) -> pd.DataFrame:
    """The cohort of member ``k``'s redrawn world, from the same simulated draws as every other
    member's (common random numbers: members differ by their figures, not by the noise of their
    cohorts); a draw whose figures cannot hold together (a share beyond what its sensitivity
    allows) is drawn again."""
    size = int(np.clip(plan.n_cases, *MEMBER_CASES))
    seed = plan.seed * 1_000 + 100
    assert plan.setting is not None
    rng = np.random.default_rng([plan.seed, 20_261_201, k])
    for _ in range(MAX_REDRAWS):
        try:
            return simulate_cohort(size, seed, plan.setting, redraw_figures(rng))
        except ValueError:
            continue
    raise RuntimeError(f"no consistent redraw of the published figures in {MAX_REDRAWS} tries")


def _simulated_member(plan: MemberPlan, k: int) -> RiskPipeline:
    # The same split and model seed for every member too: only the figures differ.
    split = split_cases(_redrawn_cohort(plan, k), plan.seed)
    return fit_model(split, plan.model, plan.seed, _member_params(plan))


def _bootstrap_member(plan: MemberPlan, split: Split, k: int) -> RiskPipeline:
    rng = np.random.default_rng([plan.seed, 7_919, k])
    rows = rng.integers(0, len(split.train), len(split.train))
    resampled = replace(split, train=split.train.iloc[rows].reset_index(drop=True))
    return fit_model(resampled, plan.model, plan.seed + k, _member_params(plan))


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@timed("evidence_members")
def fit_evidence_interval(
    plan: MemberPlan, split: Split, progress: ProgressFn | None = None
) -> EvidenceInterval | None:
    """The members of ``plan`` (None when it asks for none), with the interval's method text."""
    if plan.n_members <= 0:
        return None

    def member(k: int) -> Any:
        fitted = (
            _simulated_member(plan, k)
            if plan.setting is not None
            else _bootstrap_member(plan, split, k)
        )
        return fitted.classifier

    # Members are independent and XGBoost releases the GIL while it boosts: fit them in threads.
    with ThreadPoolExecutor(min(plan.n_members, _cores(), MAX_MEMBER_WORKERS)) as pool:
        futures = [pool.submit(member, k) for k in range(plan.n_members)]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()  # a member that failed stops the run here
            if progress:
                progress(done, plan.n_members)
        members = [future.result() for future in futures]
    interval = EvidenceInterval(members=members, method="")
    template = SIMULATED_METHOD if plan.setting is not None else BOOTSTRAP_METHOD
    tail = (1 - interval.level) / 2
    interval.method = template.format(k=plan.n_members, low=tail, high=1 - tail)
    return interval


@timed("evidence_measure")
def measure_interval(
    interval: EvidenceInterval, pipeline: RiskPipeline, cases: pd.DataFrame
) -> EvidenceInterval:
    """Set the interval's ``scale`` so that a member left out falls inside the others' interval at
    its level, on ``cases``; record that coverage and the median width (log-odds) as fewer yes/no
    findings are recorded (each case with all but a few of its findings struck out)."""
    matrix = pipeline[0].transform(cases)
    log_odds = interval.member_log_odds(matrix)
    for scale in SCALES:
        interval.scale = scale
        interval.coverage = _leave_one_out_coverage(interval, log_odds)
        if interval.coverage is None or interval.coverage >= interval.level:
            break
    rng = np.random.default_rng(0)
    interval.widths = {}
    for kept in RECORDED_KEPT:
        struck = _strike_findings(cases, kept, rng)
        member = interval.member_log_odds(pipeline[0].transform(struck))
        low, high = interval.spread(member)
        interval.widths[f"{kept} recorded"] = float(np.median(high - low))
    return interval


def _strike_findings(cases: pd.DataFrame, kept: int, rng: np.random.Generator) -> pd.DataFrame:
    """``cases`` with each case's yes/no findings not recorded but for ``kept`` chosen at random."""
    struck = cases.copy()
    order = np.argsort(rng.random((len(cases), len(BOOLEAN_FIELDS))), axis=1)
    for j, name in enumerate(BOOLEAN_FIELDS):
        column = struck[name].copy()
        column[order[:, j] >= kept] = pd.NA
        struck[name] = column
    return struck


def _leave_one_out_coverage(
    interval: EvidenceInterval, log_odds: npt.NDArray[np.float64]
) -> float | None:
    """How often a member left out falls inside the band the others give: the chance that a
    fresh redrawn world lands inside a case's interval."""
    k = log_odds.shape[1]
    if k < 3:
        return None
    inside = []
    for left_out in range(k):
        others = np.delete(log_odds, left_out, axis=1)
        low, high = interval.spread(others)
        centre = others.mean(axis=1)
        deviation = log_odds[:, left_out] - centre
        inside.append((deviation >= low) & (deviation <= high))
    return float(np.mean(inside))
