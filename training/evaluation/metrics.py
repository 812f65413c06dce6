"""Evaluation of a fitted model on held-out cases, as TRIPOD+AI and PROBAST+AI ask.

Discrimination (AUROC with a bootstrap interval, AUPRC), overall accuracy (Brier, log loss),
calibration (intercept, slope, expected calibration error, curve), classification at an operating
threshold, clinical utility (net benefit against treat-all and treat-none), and subgroups.

The default operating threshold is 0.05, the lower edge of the serving ``high`` risk band
(``serving.config.Settings.risk_thresholds``): the probability at which the service tells a
clinician the risk is high. It is configurable (``--threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from features.log_odds import logit, sigmoid
from features.model import ProgressFn
from features.risk import DEFAULT_RISK_THRESHOLDS

Array = npt.NDArray[np.float64]

# The operating point is where serving's `high` band starts.
DEFAULT_THRESHOLD = DEFAULT_RISK_THRESHOLDS[1]
DEFAULT_BOOTSTRAP = 1000
EPS = 1e-12
# Decision-curve thresholds: fine where referral for a rare cancer is decided, coarser above.
NET_BENEFIT_THRESHOLDS: tuple[float, ...] = tuple(
    float(t) for t in np.round(np.concatenate([np.arange(1, 50) / 1000, np.arange(5, 51) / 100]), 4)
)
AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("18-49", 18, 50),
    ("50-64", 50, 65),
    ("65-79", 65, 80),
    ("80+", 80, math.inf),
)


def _log_odds(p: Array) -> Array:
    return logit(np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS))


def finite_or_none(value: Any) -> Any:
    """``value``, with a non-finite float as None: JSON has no NaN or infinity."""
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _both_classes(y: npt.NDArray[Any]) -> bool:
    return bool(0 < np.sum(y) < len(y))


def calibration_slope_intercept(y: npt.ArrayLike, p: Array) -> tuple[float, float]:
    """Slope of the logistic regression of outcome on predicted log-odds, and its intercept.

    A slope of 1 and an intercept of 0 mean calibrated (Van Calster et al., BMC Med 2019).
    NaN when the predictions do not vary or the outcome has one class.
    """
    y = np.asarray(y, dtype=np.float64)
    log_odds = _log_odds(p)
    if not _both_classes(y) or np.ptp(log_odds) < 1e-9:
        return math.nan, math.nan
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(log_odds.reshape(-1, 1), y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def calibration_in_the_large(y: npt.ArrayLike, p: Array) -> float:
    """Intercept of a logistic model of outcome with the predicted log-odds as offset.

    Solved by Newton's method: the shift ``a`` with ``mean(sigmoid(logit(p) + a)) == mean(y)``.
    0 means the mean prediction matches the observed rate; positive means risks are underestimated.
    """
    y = np.asarray(y, dtype=np.float64)
    if not _both_classes(y):
        return math.nan
    offset, a = _log_odds(p), 0.0
    for _ in range(100):
        q = sigmoid(offset + a)
        # Damped: far from the root the curvature is tiny and a full step overshoots.
        step = float(np.clip(np.sum(y - q) / max(np.sum(q * (1 - q)), EPS), -2.0, 2.0))
        a += step
        if abs(step) < 1e-12:
            break
    return a


def _quantile_bins(p: Array, n_bins: int) -> npt.NDArray[np.int64]:
    """Bin of each prediction: equal-count bins by rank (ties split by order, so none is empty)."""
    order = np.argsort(p, kind="stable")
    bins = np.empty(len(p), dtype=np.int64)
    bins[order] = np.arange(len(p)) * n_bins // max(len(p), 1)
    return bins


def calibration_table(y: npt.ArrayLike, p: Array, n_bins: int = 10) -> list[dict[str, float]]:
    """Mean prediction and observed rate per equal-count bin of predicted risk.

    Equal-count bins, because with a prevalence under 1% nearly every case falls in the first of
    ten equal-width bins.
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    bins = _quantile_bins(p, n_bins)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            rows.append(
                {
                    "bin": float(b),
                    "n": float(mask.sum()),
                    "mean_predicted": float(p[mask].mean()),
                    "observed": float(y[mask].mean()),
                }
            )
    return rows


def expected_calibration_error(y: npt.ArrayLike, p: Array, n_bins: int = 10) -> float:
    """Σ_bins (n_bin / n) · |observed rate − mean prediction|, over equal-count bins."""
    rows = calibration_table(y, p, n_bins)
    n = sum(row["n"] for row in rows)
    return float(sum(row["n"] / n * abs(row["observed"] - row["mean_predicted"]) for row in rows))


def threshold_metrics(y: npt.ArrayLike, p: Array, threshold: float) -> dict[str, float]:
    """Sensitivity, specificity, PPV and NPV when risk ≥ ``threshold`` counts as positive."""
    y = np.asarray(y, dtype=bool)
    flagged = np.asarray(p, dtype=np.float64) >= threshold
    tp = float(np.sum(flagged & y))
    fp = float(np.sum(flagged & ~y))
    fn = float(np.sum(~flagged & y))
    tn = float(np.sum(~flagged & ~y))

    def ratio(a: float, b: float) -> float:
        return a / b if b else math.nan

    return {
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
        "flagged_fraction": ratio(tp + fp, tp + fp + tn + fn),
    }


def net_benefit(y: npt.ArrayLike, p: Array, threshold: float) -> float:
    """Vickers & Elkin 2006: TP/n − FP/n · pt/(1 − pt), treating risk ≥ pt."""
    y = np.asarray(y, dtype=bool)
    flagged = np.asarray(p, dtype=np.float64) >= threshold
    n = len(y)
    tp, fp = np.sum(flagged & y), np.sum(flagged & ~y)
    return float(tp / n - fp / n * threshold / (1 - threshold))


def decision_curve(
    y: npt.ArrayLike, p: Array, thresholds: Sequence[float] = NET_BENEFIT_THRESHOLDS
) -> list[dict[str, float]]:
    """Net benefit of the model, of treating all and of treating none, per threshold."""
    y = np.asarray(y, dtype=bool)
    prevalence = float(np.mean(y))
    return [
        {
            "threshold": t,
            "model": net_benefit(y, p, t),
            "treat_all": prevalence - (1 - prevalence) * t / (1 - t),
            "treat_none": 0.0,
        }
        for t in thresholds
    ]


class _WeightedAuc:
    """AUROC of a fixed set of scores under case weights (bootstrap counts), in O(n) per sample.

    Cases are sorted once; tied scores share a group, and each positive counts the negatives
    strictly below it plus half of those tied with it (the Mann-Whitney statistic).
    """

    def __init__(self, y: npt.NDArray[Any], p: Array) -> None:
        order = np.argsort(p, kind="stable")
        sorted_p = np.asarray(p)[order]
        self.order = order
        self.group = np.concatenate([[0], np.cumsum(np.diff(sorted_p) > 0)])
        self.n_groups = int(self.group[-1]) + 1 if len(p) else 0
        self.y = np.asarray(y, dtype=np.float64)[order]

    def __call__(self, weights: Array) -> float:
        w = weights[self.order]
        pos = np.bincount(self.group, w * self.y, self.n_groups)
        neg = np.bincount(self.group, w * (1 - self.y), self.n_groups)
        below = np.cumsum(neg) - neg
        total = pos.sum() * neg.sum()
        return float(np.sum(pos * (below + 0.5 * neg)) / total) if total else math.nan


def bootstrap_weights(n: int, n_boot: int, seed: int) -> Callable[[], Array]:
    """A generator of bootstrap case weights (resample counts), reproducible for ``seed``."""
    rng = np.random.default_rng(seed)

    def draw() -> Array:
        return np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)

    return draw


def _interval(values: Array, level: float = 0.95) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def auroc_interval(
    y: npt.ArrayLike, p: Array, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the AUROC."""
    y = np.asarray(y)
    auc = _WeightedAuc(y, p)
    draw = bootstrap_weights(len(y), n_boot, seed)
    return _interval(np.array([auc(draw()) for _ in range(n_boot)]))


def core_metrics(y: npt.ArrayLike, p: Array) -> dict[str, float]:
    """Discrimination and calibration: AUROC, AUPRC, Brier, log loss, calibration."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    slope, intercept = calibration_slope_intercept(y, p)
    both = _both_classes(y)
    return {
        "auroc": float(roc_auc_score(y, p)) if both else math.nan,
        "auprc": float(average_precision_score(y, p)) if both else math.nan,
        "brier": float(brier_score_loss(y, p, labels=[0, 1])),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "calibration_slope": slope,
        "calibration_intercept": calibration_in_the_large(y, p),
        "calibration_intercept_with_slope": intercept,
        "ece": expected_calibration_error(y, p),
        "mean_predicted": float(np.mean(p)),
        "observed_rate": float(np.mean(y)),
        "n_cases": float(len(y)),
        "n_positive": float(y.sum()),
    }


@dataclass(frozen=True)
class Evaluation:
    """Everything measured on one test set; ``metrics`` is what is logged as MLflow metrics."""

    metrics: dict[str, float]
    threshold: float
    calibration: list[dict[str, float]]
    decision_curve: list[dict[str, float]]
    subgroups: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready table (non-finite numbers as null)."""

        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return finite_or_none(value)

        cleaned: dict[str, Any] = clean(
            {
                "metrics": self.metrics,
                "operating_threshold": self.threshold,
                "calibration_curve": self.calibration,
                "decision_curve": self.decision_curve,
                "subgroups": self.subgroups,
            }
        )
        return cleaned


def subgroup_labels(cases: pd.DataFrame, setting: str | None) -> dict[str, npt.NDArray[Any]]:
    """Group of each case by setting, sex and age band (None where the field is missing)."""
    n = len(cases)
    groups: dict[str, npt.NDArray[Any]] = {}
    if "setting" in cases:
        groups["setting"] = cases["setting"].astype(object).to_numpy()
    else:
        groups["setting"] = np.full(n, setting if setting else "data", dtype=object)
    if "sex" in cases:
        sex = cases["sex"].astype(object)
        groups["sex"] = sex.where(sex.notna(), None).to_numpy()
    age = pd.to_numeric(cases["age"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bands = np.full(n, None, dtype=object)
    for name, low, high in AGE_BANDS:
        bands[(age >= low) & (age < high)] = name
    groups["age_band"] = bands
    return groups


def subgroup_metrics(
    y: npt.ArrayLike, p: Array, groups: dict[str, npt.NDArray[Any]]
) -> list[dict[str, Any]]:
    """AUROC and calibration per subgroup; a group with one class is listed with the reason."""
    y, p = np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)
    rows: list[dict[str, Any]] = []
    for variable, labels in groups.items():
        for level in sorted({label for label in labels if label is not None}, key=str):
            mask = labels == level
            ys, ps = y[mask], p[mask]
            row: dict[str, Any] = {
                "variable": variable,
                "group": str(level),
                "n": int(mask.sum()),
                "n_positive": int(ys.sum()),
                "observed_rate": float(ys.mean()),
                "mean_predicted": float(ps.mean()),
            }
            if _both_classes(ys):
                slope, _ = calibration_slope_intercept(ys, ps)
                row |= {
                    "auroc": float(roc_auc_score(ys, ps)),
                    "calibration_intercept": calibration_in_the_large(ys, ps),
                    "calibration_slope": slope,
                    "skipped": None,
                }
            else:
                row |= {
                    "auroc": None,
                    "calibration_intercept": None,
                    "calibration_slope": None,
                    "skipped": "one class only: AUROC and calibration undefined",
                }
            rows.append(row)
    return rows


def evaluate(
    y: npt.ArrayLike,
    p: Array,
    groups: dict[str, npt.NDArray[Any]] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Evaluation:
    """The full evaluation of predictions ``p`` against outcomes ``y``."""
    if not 0 < threshold < 1:
        raise ValueError(
            f"threshold must be a probability strictly between 0 and 1, got {threshold}"
        )
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    metrics = core_metrics(y, p)
    low, high = auroc_interval(y, p, n_boot, seed) if _both_classes(y) else (math.nan, math.nan)
    metrics |= {"auroc_ci_low": low, "auroc_ci_high": high}
    at = threshold_metrics(y, p, threshold)
    metrics |= {f"{name}_at_threshold": value for name, value in at.items()}
    prevalence = float(np.mean(y))
    metrics["net_benefit_at_threshold"] = net_benefit(y, p, threshold)
    metrics["net_benefit_treat_all_at_threshold"] = prevalence - (1 - prevalence) * threshold / (
        1 - threshold
    )
    return Evaluation(
        metrics=metrics,
        threshold=threshold,
        calibration=calibration_table(y, p),
        decision_curve=decision_curve(y, p),
        subgroups=subgroup_metrics(y, p, groups or {}),
    )


@dataclass(frozen=True)
class PairedDifference:
    """Difference B − A of a metric on the same cases, with a paired bootstrap interval."""

    metric: str
    a: float
    b: float
    difference: float
    ci_low: float
    ci_high: float


def paired_bootstrap(
    y: npt.ArrayLike,
    p_a: Array,
    p_b: Array,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> list[PairedDifference]:
    """AUROC and Brier of B minus A, resampling cases jointly so the pairing is kept."""
    y = np.asarray(y, dtype=np.float64)
    p_a, p_b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
    auc_a, auc_b = _WeightedAuc(y, p_a), _WeightedAuc(y, p_b)
    sq_a, sq_b = (p_a - y) ** 2, (p_b - y) ** 2
    draw = bootstrap_weights(len(y), n_boot, seed)
    auc_diff, brier_diff = np.empty(n_boot), np.empty(n_boot)
    for i in range(n_boot):
        w = draw()
        auc_diff[i] = auc_b(w) - auc_a(w)
        brier_diff[i] = float((w @ sq_b - w @ sq_a) / w.sum())
        if progress is not None and ((i + 1) % 50 == 0 or i + 1 == n_boot):
            progress(i + 1, n_boot)
    ones = np.ones(len(y))
    results = []
    for metric, a, b, diffs in (
        ("auroc", auc_a(ones), auc_b(ones), auc_diff),
        ("brier", float(sq_a.mean()), float(sq_b.mean()), brier_diff),
    ):
        low, high = _interval(diffs)
        results.append(PairedDifference(metric, a, b, b - a, low, high))
    return results


# --- intervals and tables of a local validation (training.site.validate) -----------------------

Z_95 = 1.959963984540054


def auprc_interval(
    y: npt.ArrayLike, p: Array, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the AUPRC (average precision)."""
    y, p = np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = np.full(n_boot, math.nan)
    for i in range(n_boot):
        rows = rng.integers(0, len(y), len(y))
        if _both_classes(y[rows]):
            values[i] = average_precision_score(y[rows], p[rows])
    return _interval(values)


def calibration_intervals(y: npt.ArrayLike, p: Array) -> dict[str, float]:
    """Wald 95% intervals of the calibration slope and of calibration-in-the-large.

    The slope's comes from the information matrix of the logistic regression of outcome on
    predicted log-odds; the intercept's from the offset model (log-odds fixed, only a shift fitted).
    """
    y = np.asarray(y, dtype=np.float64)
    slope, intercept = calibration_slope_intercept(y, p)
    citl = calibration_in_the_large(y, p)
    out = dict.fromkeys(
        (
            "calibration_slope_ci_low",
            "calibration_slope_ci_high",
            "calibration_intercept_ci_low",
            "calibration_intercept_ci_high",
        ),
        math.nan,
    )
    if not math.isfinite(slope) or not math.isfinite(citl):
        return out
    x = _log_odds(p)
    fitted = sigmoid(intercept + slope * x)
    design = np.column_stack([np.ones(len(x)), x])
    information = (design * (fitted * (1 - fitted))[:, None]).T @ design
    slope_se = math.sqrt(float(np.linalg.inv(information)[1, 1]))
    shifted = sigmoid(x + citl)
    citl_se = 1 / math.sqrt(max(float(np.sum(shifted * (1 - shifted))), EPS))
    return {
        "calibration_slope_ci_low": slope - Z_95 * slope_se,
        "calibration_slope_ci_high": slope + Z_95 * slope_se,
        "calibration_intercept_ci_low": citl - Z_95 * citl_se,
        "calibration_intercept_ci_high": citl + Z_95 * citl_se,
    }


def wilson_interval(events: float, n: float) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion (sensible at 0 events, unlike Wald)."""
    if n <= 0:
        return math.nan, math.nan
    share = events / n
    centre = (share + Z_95**2 / (2 * n)) / (1 + Z_95**2 / n)
    half = Z_95 * math.sqrt(share * (1 - share) / n + Z_95**2 / (4 * n**2)) / (1 + Z_95**2 / n)
    # Clamped to contain the share itself: at 0 or n events rounding can leave it just outside.
    return min(max(centre - half, 0.0), share), max(min(centre + half, 1.0), share)


def calibration_band(y: npt.ArrayLike, p: Array, n_bins: int = 10) -> list[dict[str, float]]:
    """``calibration_table`` with a Wilson 95% interval of the observed rate in each bin."""
    rows = calibration_table(y, p, n_bins)
    for row in rows:
        row["ci_low"], row["ci_high"] = wilson_interval(row["observed"] * row["n"], row["n"])
    return rows


def fairness_table(
    y: npt.ArrayLike,
    p: Array,
    groups: dict[str, npt.NDArray[Any]],
    threshold: float,
    min_events: int = 10,
    min_cases: int = 100,
    ratio: float = 0.8,
) -> list[dict[str, Any]]:
    """Per subgroup: size, events, AUROC, calibration, sensitivity and PPV at ``threshold``.

    Cells with fewer than ``min_events`` events or ``min_cases`` cases are withheld (too few to
    say anything, and small cells can identify patients); a subgroup whose sensitivity or PPV is
    below ``ratio`` times the overall figure is flagged, in the manner of Epic's seismometer.
    """
    y, p = np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)
    overall = threshold_metrics(y, p, threshold)
    figures = {row["group"] + "\0" + row["variable"]: row for row in subgroup_metrics(y, p, groups)}
    rows: list[dict[str, Any]] = []
    for variable, labels in groups.items():
        for level in sorted({label for label in labels if label is not None}, key=str):
            mask = labels == level
            n, events = int(mask.sum()), int(y[mask].sum())
            row: dict[str, Any] = {"variable": variable, "group": str(level)}
            if events < min_events or n < min_cases:
                rows.append(row | {"withheld": f"fewer than {min_events} events or {min_cases} "
                                   "cases"})  # fmt: skip
                continue
            at = threshold_metrics(y[mask], p[mask], threshold)
            known = figures[str(level) + "\0" + variable]
            flags = [
                name
                for name in ("sensitivity", "ppv")
                if math.isfinite(at[name]) and at[name] < ratio * overall[name]
            ]
            rows.append(
                row
                | {
                    "n": n,
                    "n_positive": events,
                    "observed_rate": known["observed_rate"],
                    "mean_predicted": known["mean_predicted"],
                    "auroc": known["auroc"],
                    "calibration_intercept": known["calibration_intercept"],
                    "calibration_slope": known["calibration_slope"],
                    "sensitivity": at["sensitivity"],
                    "ppv": at["ppv"],
                    "flagged": flags,
                    "withheld": None,
                }
            )
    return rows
