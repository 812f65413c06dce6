"""An interval per estimate that carries the uncertainty of the evidence behind the model.

The simulator's figures come from small cohorts (13 cancers in 1,975 patients in Deyo & Diehl
1988), so a million simulated cases do not make an estimate precise. Training fits a few members,
each on a cohort simulated with every published figure redrawn from its sampling uncertainty
(``training.evidence``); a case's interval is the model's own estimate moved by the spread of the
members' log-odds around their mean (the ``level`` quantiles). It always contains the estimate.

At scoring time boosted members are read through one booster holding all their trees, one output
per member (``features.ensemble``): one call instead of one per member, the same numbers exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from features.ensemble import MergedMembers, merge_members
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
    # The members' trees in one booster, built on first use and never pickled; a copy with
    # recalibrated members (``dataclasses.replace``) shares it, since their boosters are the same.
    _merged: MergedMembers | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_merged", None)  # rebuilt from the members when needed
        return state

    def member_log_odds(self, matrix: FloatArray) -> FloatArray:
        """Calibrated log-odds of every member for every case (cases × members)."""
        merged = self._merged
        if merged is None or not merged.serves(self.members):
            merged = self._merged = merge_members(self.members)
        if merged.booster is not None:
            return merged.log_odds(self.members, matrix)
        return np.column_stack([member.decision_function(matrix) for member in self.members])

    def spread(self, member_log_odds: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(lower, upper) quantile of the members' deviation from their mean, per case (≤0, ≥0)."""
        deviations = member_log_odds - member_log_odds.mean(axis=1, keepdims=True)
        tail = (1.0 - self.level) / 2.0
        low, high = quantiles(deviations, (tail, 1.0 - tail))
        return self.scale * np.minimum(low, 0.0), self.scale * np.maximum(high, 0.0)

    def bounds(self, matrix: FloatArray, log_odds: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(low, high) probability around each case's estimate ``log_odds`` (setting included)."""
        low, high = self.spread(self.member_log_odds(matrix))
        return sigmoid(log_odds + low), sigmoid(log_odds + high)


def quantiles(values: FloatArray, levels: tuple[float, ...]) -> list[FloatArray]:
    """Each row's quantiles at ``levels``, the same numbers as ``np.quantile(values, levels,
    axis=1)`` (its default linear method, the same arithmetic) at a tenth of its cost on a few
    rows: one sort, then each level read between two neighbours."""
    ordered = np.sort(values, axis=1)
    last = ordered.shape[1] - 1
    out = []
    for level in levels:
        position = last * level
        below = min(int(np.floor(position)), last)
        above = min(below + 1, last)
        gamma = position - below
        lower, upper = ordered[:, below], ordered[:, above]
        step = upper - lower
        # numpy's _lerp: from the lower neighbour below the midpoint, from the upper above it.
        out.append(upper - step * (1 - gamma) if gamma >= 0.5 else lower + step * gamma)
    return out
