"""What the unrecorded findings could do: the lowest and highest estimate over every way the
unrecorded yes/no findings could be filled in, exactly.

A finding that feeds only +1 red flags moves the estimate one way (the ordinal encoding makes it
so, recorded or not), so over those the extremes are "all absent" and "all present" together. The
few findings without a clinical direction (fever, numbness, trauma, steroids, immunosuppression)
are enumerated: at most 2^5 combinations, each scored with the others at both extremes.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from features.catalogue import RED_FLAGS, Columns
from features.record import FIELD_KINDS

BOOLEAN_FIELDS: tuple[str, ...] = tuple(
    name for name, kind in FIELD_KINDS.items() if kind == "bool"
)
# Yes/no findings every red flag of which has direction +1: present never lowers the estimate.
MONOTONE_FINDINGS: tuple[str, ...] = tuple(
    name
    for name in BOOLEAN_FIELDS
    if all(flag.direction == 1 for flag in RED_FLAGS if name in flag.inputs)
)
OTHER_FINDINGS: tuple[str, ...] = tuple(n for n in BOOLEAN_FIELDS if n not in MONOTONE_FINDINGS)


def unrecorded_findings(columns: Columns) -> list[tuple[str, ...]]:
    """Per case, the yes/no findings not recorded."""
    missing = {
        name: np.isnan(np.asarray(columns[name], dtype=np.float64)) for name in BOOLEAN_FIELDS
    }
    n = len(columns["age"])
    return [tuple(name for name in BOOLEAN_FIELDS if missing[name][i]) for i in range(n)]


def fillings(unrecorded: tuple[str, ...]) -> list[dict[str, float]]:
    """The ways to fill in ``unrecorded`` that hold both extremes (every other is in between)."""
    monotone = [name for name in unrecorded if name in MONOTONE_FINDINGS]
    other = [name for name in unrecorded if name not in MONOTONE_FINDINGS]
    ways = []
    for combination in itertools.product((0.0, 1.0), repeat=len(other)):
        for extreme in (0.0, 1.0) if monotone else (None,):
            filled = dict(zip(other, combination, strict=True))
            filled |= {name: extreme for name in monotone if extreme is not None}
            ways.append(filled)
    return ways


def bounds_of(
    probabilities: npt.NDArray[np.float64], origin: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(lowest, highest) probability per case over its scored fillings (``origin``: the case)."""
    low, high = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(low, origin, probabilities)
    np.maximum.at(high, origin, probabilities)
    return low, high
