"""``redflag prevalence``: a site's prevalence from the model's predictions alone.

Saerens, Latinne & Decaestecker (Neural Computation 2002): when only the prior changes (the
likelihood ratios carry over), a calibrated model's posteriors re-weighted to a candidate prior
average back to that prior at the maximum-likelihood estimate, which their EM iterates towards.
The log-likelihood of the prior is concave, so we solve its score equation directly (Brent's
method: the EM's fixed point in ~40 passes over the cases instead of hundreds); the interval is a
percentile bootstrap over cases. The assumption fails when the case mix itself differs (another
setting's causes, other recording habits): the estimate comes with the drift check of the
engineered features, and a warning when they drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from features.drift import ALPHA, DriftTest, compare_with_profile, load_profile
from features.log_odds import logit
from features.scoring import score_cases
from features.store import tracking_uri
from training.site.inputs import load_site_model

FloatArray = npt.NDArray[np.float64]
BOOTSTRAP = 200
_EDGE = 1e-9


def em_prevalence(p: FloatArray, train_prevalence: float) -> float:
    """The maximum-likelihood prior of posteriors ``p`` calibrated at ``train_prevalence``."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    a, b = q / train_prevalence, (1 - q) / (1 - train_prevalence)
    diff = a - b

    def score(prior: float) -> float:  # d/d(prior) of the log-likelihood; decreasing
        return float(np.sum(diff / (prior * a + (1 - prior) * b)))

    if score(_EDGE) <= 0:
        return _EDGE
    if score(1 - _EDGE) >= 0:
        return 1 - _EDGE
    return float(brentq(score, _EDGE, 1 - _EDGE, xtol=1e-12))


@dataclass(frozen=True)
class PrevalenceEstimate:
    """The estimate, its 95% bootstrap interval, and what else is known of the cases."""

    estimate: float
    ci_low: float
    ci_high: float
    n_cases: int
    mean_predicted: float
    train_prevalence: float
    observed: float | None  # when the file has labels
    drifting: list[str]
    model: dict[str, Any]

    def lines(self) -> list[str]:
        """What ``redflag prevalence`` prints, ending with how to serve at the estimate."""
        out = [
            f"model:               version {self.model['version']} (calibrated at prevalence "
            f"{self.train_prevalence:.4f})",
            f"cases:               {self.n_cases}",
            f"estimated prevalence {self.estimate:.4f} (95% CI {self.ci_low:.4f}-"
            f"{self.ci_high:.4f}; Saerens-Latinne-Decaestecker EM)",
            f"mean predicted risk  {self.mean_predicted:.4f} (the naive estimate)",
        ]
        if self.observed is not None:
            out.append(f"observed in the file {self.observed:.4f} (labels present)")
        if self.drifting:
            out.append(
                f"warning: what is recorded differs from the training cohort in "
                f"{len(self.drifting)} features ({', '.join(self.drifting[:5])}"
                f"{', ...' if len(self.drifting) > 5 else ''}); the estimate assumes only the "
                "prevalence changed: check it against labelled cases before serving at it"
            )
        out.append(
            f"serve at it:         REDFLAG_SITE_PREVALENCE={self.estimate:.4g} redflag "
            "serve, then ?setting=site"
        )
        return out


def estimate_prevalence(
    p: FloatArray, train_prevalence: float, n_boot: int = BOOTSTRAP, seed: int = 0
) -> tuple[float, float, float]:
    """(estimate, 95% interval) of the prevalence behind posteriors ``p``."""
    estimate = em_prevalence(p, train_prevalence)
    rng = np.random.default_rng(seed)
    draws = [
        em_prevalence(p[rng.integers(0, len(p), len(p))], train_prevalence) for _ in range(n_boot)
    ]
    low, high = np.percentile(draws, [2.5, 97.5])
    return estimate, float(low), float(high)


def prevalence_of_file(
    path: Path, model_uri: str | None, n_boot: int = BOOTSTRAP, seed: int = 0
) -> PrevalenceEstimate:
    """Estimate the prevalence of the cases in ``path`` (labels, if any, only reported)."""
    from training.data import load_unlabelled_cases

    model = load_site_model(model_uri)
    cases, labels = load_unlabelled_cases(path)
    scores = score_cases(model.pipeline, cases)
    estimate, low, high = estimate_prevalence(
        scores.probability, model.train_prevalence, n_boot, seed
    )
    drifting: list[str] = []
    profile = load_profile(model.identity.run_id, tracking_uri())
    if profile is not None:
        log_odds = logit(np.clip(scores.probability, 1e-12, 1 - 1e-12))
        report = compare_with_profile(profile, scores.values, log_odds)
        # A new prior moves every feature's distribution (malignant cases look different), so
        # only a change in what is recorded says the likelihood ratios may not carry over.
        drifting = [
            feature["feature"]
            for feature in report["features"]
            if any(
                t["quantity"] == "not_recorded" and DriftTest(**t).significant(ALPHA)
                for t in feature["tests"]
            )
        ]
    return PrevalenceEstimate(
        estimate,
        low,
        high,
        len(cases),
        float(np.mean(scores.probability)),
        model.train_prevalence,
        None if labels is None else float(np.mean(labels)),
        drifting,
        model.identity.as_response(),
    )
