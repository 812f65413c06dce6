"""The one scoring core: cases in, arrays out (probability, band, urgent rules, explanation).

The API, ``redflag predict``, ``redflag score`` (local and Dask) and evaluation all score through
``score_cases``; each keeps only its own layout of the result (JSON, Parquet, metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.log_odds import sigmoid
from features.model import RiskPipeline
from features.risk import DEFAULT_RISK_THRESHOLDS, risk_bands
from features.setting import setting_shift
from features.transform import CaseInput, case_columns
from features.urgent import fired_reasons, urgent_rules_fired

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Scores:
    """Everything known of a list of scored cases, one row per case in the order given.

    ``base_value`` and ``contributions`` are set only when an explanation was asked for; then
    ``sigmoid(base_value + contributions.sum(axis=1)) == probability`` row by row.
    """

    probability: FloatArray
    risk_band: npt.NDArray[np.object_]
    urgent_fired: npt.NDArray[np.bool_]  # one column per rule of ``features.urgent.RULES``
    prevalence: float
    matrix: FloatArray  # the engineered red-flag values
    base_value: FloatArray | None = None
    contributions: FloatArray | None = None

    @property
    def urgent(self) -> npt.NDArray[np.bool_]:
        """Whether any emergency rule fired, per case."""
        return np.asarray(self.urgent_fired.any(axis=1), dtype=np.bool_)

    def urgent_reasons(self) -> list[tuple[str, ...]]:
        """The reason of every rule that fired, per case (empty: not urgent)."""
        return fired_reasons(self.urgent_fired)


def score_cases(
    pipeline: RiskPipeline,
    cases: CaseInput,
    thresholds: tuple[float, float] = DEFAULT_RISK_THRESHOLDS,
    setting: str | None = None,
    explain: bool = False,
) -> Scores:
    """Score ``cases`` with ``pipeline`` in one vectorised call of its classifier.

    With ``setting``, the log-odds are shifted from the training prevalence to that setting's, and
    the explanation's base value with them, so the explanation still adds up to the probability.
    """
    columns = case_columns(cases)  # read once: the features and the urgent rules share them
    classifier = pipeline.classifier
    matrix = pipeline[0].transform(columns)
    shift, prevalence = setting_shift(classifier.train_prevalence_, setting)
    probability = sigmoid(classifier.decision_function(matrix) + shift)
    base = contributions = None
    if explain:
        base, contributions = classifier.explain(matrix)
        base = base + shift
    return Scores(
        probability=probability,
        risk_band=risk_bands(probability, thresholds),
        urgent_fired=urgent_rules_fired(columns),
        prevalence=prevalence,
        matrix=matrix,
        base_value=base,
        contributions=contributions,
    )
