"""Drift of a case mix against the reference profile of a model's training cohort.

One home for both sides: training logs the profile with the model (``reference_profile``),
``redflag drift`` compares a file with it, and the service compares its window of recent cases
(``compare_with_profile``). Only engineered values and predicted log-odds are profiled: counts and
quantiles, never a case.

Per engineered feature: the share not recorded (two-proportion z-test), the share present among
recorded values for flags (two-proportion z-test), and for numbers and the predicted log-odds the
population stability index over the reference's decile bins and a Kolmogorov-Smirnov test. The
reference keeps its distribution function at up to 99 of its own percentiles, and the KS distance
is the largest gap there: a lower bound of the full two-sample statistic, so the test (SciPy's
``kstwo`` at the effective size n·m/(n+m)) errs towards "no drift". All p-values of one comparison
are adjusted together by Benjamini-Hochberg (SciPy's ``false_discovery_control``). A feature drifts
when one of its tests is significant after adjustment and its effect is at least small: Cohen's h
of 0.05 for a share (0.5% to 1% is 0.06), a KS distance of 0.05 for a distribution.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from features.catalogue import FEATURE_NAMES

FloatArray = npt.NDArray[np.float64]

PROFILE_FORMAT = 1
# The MLflow artifact of a training run that holds its profile.
PROFILE_ARTIFACT = "drift_reference.json"
SCORE = "predicted_log_odds"
PSI_BINS = 10
KS_POINTS = 99
ALPHA = 0.05
MIN_SHARE_EFFECT = 0.05  # Cohen's h
MIN_DISTRIBUTION_EFFECT = 0.05  # Kolmogorov-Smirnov distance
# Below this many cases the tests say little; a comparison answers "insufficient data".
DEFAULT_MIN_CASES = 500
# An empty bin would make PSI infinite; shares are floored at this.
PSI_FLOOR = 1e-4
# Profiles are computed on at most this many cases: counts are then exact to ~0.2%.
PROFILE_MAX_CASES = 200_000


def reference_profile(matrix: FloatArray, log_odds: FloatArray) -> dict[str, Any]:
    """The profile of a cohort: its engineered ``matrix`` (catalogue order) and the model's
    predicted ``log_odds`` per case; JSON-ready."""
    if matrix.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"matrix has {matrix.shape[1]} columns, expected {len(FEATURE_NAMES)}")
    return {
        "format": PROFILE_FORMAT,
        "n_cases": int(matrix.shape[0]),
        "features": [_column_profile(name, matrix[:, j]) for j, name in enumerate(FEATURE_NAMES)],
        "score": _column_profile(SCORE, np.asarray(log_odds, dtype=np.float64), "number"),
    }


def _column_profile(name: str, values: FloatArray, kind: str | None = None) -> dict[str, Any]:
    recorded = np.sort(values[~np.isnan(values)])
    if kind is None:
        kind = "flag" if np.isin(recorded, (0.0, 1.0)).all() else "number"
    profile: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "n": len(values),
        "not_recorded": int(len(values) - len(recorded)),
    }
    if kind == "flag":
        return profile | {"present": int(np.sum(recorded == 1.0))}
    edges = _quantiles(recorded, np.arange(1, PSI_BINS) / PSI_BINS)
    points = _quantiles(recorded, np.arange(1, KS_POINTS + 1) / (KS_POINTS + 1))
    cdf = np.searchsorted(recorded, points, side="right") / max(len(recorded), 1)
    return profile | {
        "edges": edges.tolist(),
        "bin_counts": _bin_counts(edges, recorded).tolist(),
        "cdf_points": points.tolist(),
        "cdf": cdf.tolist(),
    }


def _quantiles(sorted_values: FloatArray, levels: FloatArray) -> FloatArray:
    if not len(sorted_values):
        return np.array([], dtype=np.float64)
    return np.unique(np.quantile(sorted_values, levels))


def _bin_counts(edges: FloatArray, recorded: FloatArray) -> npt.NDArray[np.int64]:
    """Cases per bin: (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    bins = np.searchsorted(edges, recorded, side="left")
    return np.bincount(bins, minlength=len(edges) + 1).astype(np.int64)


def bin_labels(feature: dict[str, Any]) -> list[str]:
    """Names of a number's reference bins, as Prometheus labels: '<= 50', '(50, 62]', '> 80'."""
    edges = [f"{edge:g}" for edge in feature["edges"]]
    if not edges:
        return ["recorded"]
    inner = [f"({low}, {high}]" for low, high in zip(edges, edges[1:], strict=False)]
    return [f"<= {edges[0]}", *inner, f"> {edges[-1]}"]


def value_counts(feature: dict[str, Any], values: FloatArray) -> dict[str, int]:
    """How many ``values`` fall in each state of ``feature``: present / absent / not recorded for
    a flag; not recorded and each reference bin for a number."""
    missing = np.isnan(values)
    counts = {"not_recorded": int(missing.sum())}
    recorded = values[~missing]
    if feature["kind"] == "flag":
        present = int(np.sum(recorded == 1.0))
        return counts | {"present": present, "absent": len(recorded) - present}
    per_bin = _bin_counts(np.asarray(feature["edges"], dtype=np.float64), recorded)
    return counts | dict(zip(bin_labels(feature), (int(c) for c in per_bin), strict=True))


def reference_shares(feature: dict[str, Any]) -> dict[str, float]:
    """The reference's share of cases in each state of ``value_counts``."""
    n = max(int(feature["n"]), 1)
    shares = {"not_recorded": feature["not_recorded"] / n}
    if feature["kind"] == "flag":
        absent = feature["n"] - feature["not_recorded"] - feature["present"]
        return shares | {"present": feature["present"] / n, "absent": absent / n}
    return shares | {
        label: count / n
        for label, count in zip(bin_labels(feature), feature["bin_counts"], strict=True)
    }


# --- the tests -------------------------------------------------------------------------------


def two_proportion_test(
    count_a: int, n_a: int, count_b: int, n_b: int
) -> tuple[float, float, float]:
    """(z, two-sided p-value, Cohen's h) of share b against share a; pooled standard error."""
    share_a, share_b = count_a / n_a, count_b / n_b
    pooled = (count_a + count_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    h = abs(2 * math.asin(math.sqrt(share_b)) - 2 * math.asin(math.sqrt(share_a)))
    if se == 0:
        return 0.0, 1.0, h
    z = (share_b - share_a) / se
    return z, float(2 * stats.norm.sf(abs(z))), h


def population_stability_index(reference: FloatArray, current: FloatArray) -> float:
    """Σ (current − reference) · ln(current / reference) over bins; shares floored at 1e-4."""
    r = np.maximum(np.asarray(reference, dtype=np.float64), PSI_FLOOR)
    c = np.maximum(np.asarray(current, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_at_points(
    points: FloatArray, reference_cdf: FloatArray, n_reference: int, current: FloatArray
) -> tuple[float, float]:
    """(KS distance at the reference's points, p-value) of ``current`` against the reference."""
    ordered = np.sort(current)
    cdf = np.searchsorted(ordered, points, side="right") / len(ordered)
    distance = float(np.max(np.abs(cdf - reference_cdf))) if len(points) else 0.0
    n_eff = max(1, round(n_reference * len(ordered) / (n_reference + len(ordered))))
    return distance, float(stats.kstwo.sf(distance, n_eff))


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the order given."""
    if not p_values:
        return []
    adjusted = stats.false_discovery_control(np.asarray(p_values, dtype=np.float64), method="bh")
    return [float(p) for p in adjusted]


@dataclass
class DriftTest:
    """One test of one feature."""

    test: str  # two_proportion | kolmogorov_smirnov
    quantity: str  # not_recorded | present | distribution
    reference: float | None  # the reference's share (None for a distribution)
    current: float | None
    statistic: float  # z, or the KS distance
    effect: float  # Cohen's h, or the KS distance
    p_value: float
    p_adjusted: float = math.nan

    def significant(self, alpha: float) -> bool:
        """Adjusted p below ``alpha`` and an effect at least small."""
        floor = MIN_SHARE_EFFECT if self.test == "two_proportion" else MIN_DISTRIBUTION_EFFECT
        return self.p_adjusted < alpha and self.effect >= floor


def _share_test(quantity: str, count_a: int, n_a: int, count_b: int, n_b: int) -> DriftTest:
    z, p, h = two_proportion_test(count_a, n_a, count_b, n_b)
    return DriftTest("two_proportion", quantity, count_a / n_a, count_b / n_b, z, h, p)


def _feature_tests(feature: dict[str, Any], values: FloatArray) -> tuple[list[DriftTest], Any]:
    """The tests of one feature, and its PSI (None for flags and where undefined)."""
    n_ref, n = int(feature["n"]), len(values)
    missing = np.isnan(values)
    recorded = values[~missing]
    tests = []
    if feature["name"] != SCORE:
        tests.append(_share_test("not_recorded", feature["not_recorded"], n_ref, missing.sum(), n))
    ref_recorded = n_ref - feature["not_recorded"]
    if not ref_recorded or not len(recorded):
        return tests, None
    if feature["kind"] == "flag":
        present = int(np.sum(recorded == 1.0))
        tests.append(
            _share_test("present", feature["present"], ref_recorded, present, len(recorded))
        )
        return tests, None
    points, ref_cdf = (np.asarray(feature[k], dtype=np.float64) for k in ("cdf_points", "cdf"))
    distance, p = ks_at_points(points, ref_cdf, ref_recorded, recorded)
    tests.append(DriftTest("kolmogorov_smirnov", "distribution", None, None, distance, distance, p))
    edges = np.asarray(feature["edges"], dtype=np.float64)
    reference = np.asarray(feature["bin_counts"], dtype=np.float64) / ref_recorded
    current = _bin_counts(edges, recorded) / len(recorded)
    return tests, population_stability_index(reference, current)


def compare_with_profile(
    profile: dict[str, Any],
    matrix: FloatArray,
    log_odds: FloatArray,
    alpha: float = ALPHA,
    min_cases: int = DEFAULT_MIN_CASES,
) -> dict[str, Any]:
    """Every feature and the predicted log-odds of ``matrix`` against ``profile``; JSON-ready.

    Below ``min_cases`` cases the answer is ``status: insufficient_data`` with no tests.
    """
    n = int(matrix.shape[0])
    summary: dict[str, Any] = {
        "window": n,
        "min_cases": min_cases,
        "reference_cases": profile["n_cases"],
        "alpha": alpha,
        "adjustment": "benjamini-hochberg",
    }
    if n < min_cases:
        return {
            "status": "insufficient_data",
            **summary,
            "drift": False,
            "drifting": [],
            "features": [],
        }
    columns = [*(matrix[:, j] for j in range(matrix.shape[1])), np.asarray(log_odds)]
    profiles = [*profile["features"], profile["score"]]
    results = [_feature_tests(p, values) for p, values in zip(profiles, columns, strict=True)]
    every = [test for tests, _ in results for test in tests]
    for test, adjusted in zip(every, benjamini_hochberg([t.p_value for t in every]), strict=True):
        test.p_adjusted = adjusted
    features = [
        {
            "feature": p["name"],
            "kind": p["kind"],
            "drift": any(test.significant(alpha) for test in tests),
            "psi": psi,
            "tests": [asdict(test) for test in tests],
        }
        for p, (tests, psi) in zip(profiles, results, strict=True)
    ]
    drifting = [f["feature"] for f in features if f["drift"]]
    return {
        "status": "ok",
        **summary,
        "drift": bool(drifting),
        "drifting": drifting,
        "features": features,
    }


def load_profile(run_id: str | None, tracking_uri: str) -> dict[str, Any] | None:
    """The reference profile logged by training run ``run_id``; None when it has none (a model
    registered before profiles were logged) or the run cannot be read."""
    if not run_id:
        return None
    import json

    from features.registry import run_artifact

    text = run_artifact(tracking_uri, run_id, PROFILE_ARTIFACT)  # the embedded store, directly
    if text is None:
        text = _load_profile_text(run_id, tracking_uri)
    if text is None:
        return None
    profile: dict[str, Any] = json.loads(text)
    return profile if profile.get("format") == PROFILE_FORMAT else None


def _load_profile_text(run_id: str, tracking_uri: str) -> str | None:
    """The profile artifact's text read through MLflow (any store); None when it has none."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    from features.store import use_store

    try:
        use_store(tracking_uri)
        text: str = mlflow.artifacts.load_text(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    except (MlflowException, OSError):
        return None
    return text
