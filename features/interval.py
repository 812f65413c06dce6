"""An interval per estimate that carries the uncertainty of the evidence behind the model.

The simulator's figures come from small cohorts (13 cancers in 1,975 patients in Deyo & Diehl
1988), so a million simulated cases do not make an estimate precise. Training fits a few members,
each on a cohort simulated with every published figure redrawn from its sampling uncertainty
(``training.evidence``); a case's interval is the model's own estimate moved by the spread of the
members' log-odds around their mean (the ``level`` quantiles). It always contains the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from features.log_odds import sigmoid

FloatArray = npt.NDArray[np.float64]

DEFAULT_LEVEL = 0.9


@dataclass
class EvidenceInterval:
    """The members and what training measured of them (pickled with the model)."""

    members: list[Any]  # final pipeline steps: ``decision_function`` of the model's matrix
    method: str
    level: float = DEFAULT_LEVEL
    # How far the members' quantiles are stretched so that a member left out falls inside the
    # others' interval at ``level`` (a few members under-cover: their quantiles sit inside the
    # spread of the next draw); set at training.
    scale: float = 1.0
    # Measured at training: leave-one-member-out coverage on the test cases at ``scale``, and the
    # median width (log-odds) by how many yes/no findings a case has recorded.
    coverage: float | None = None
    widths: dict[str, float] = field(default_factory=dict)

    def member_log_odds(self, matrix: FloatArray) -> FloatArray:
        """Calibrated log-odds of every member for every case (cases × members)."""
        return np.column_stack([member.decision_function(matrix) for member in self.members])

    def spread(self, member_log_odds: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(lower, upper) quantile of the members' deviation from their mean, per case (≤0, ≥0)."""
        deviations = member_log_odds - member_log_odds.mean(axis=1, keepdims=True)
        tail = (1.0 - self.level) / 2.0
        low, high = np.quantile(deviations, [tail, 1.0 - tail], axis=1)
        return self.scale * np.minimum(low, 0.0), self.scale * np.maximum(high, 0.0)

    def bounds(self, matrix: FloatArray, log_odds: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(low, high) probability around each case's estimate ``log_odds`` (setting included)."""
        low, high = self.spread(self.member_log_odds(matrix))
        return sigmoid(log_odds + low), sigmoid(log_odds + high)
