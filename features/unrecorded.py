"""What the unrecorded findings could do: the lowest and highest estimate over every way the
unrecorded yes/no findings could be filled in, exactly.

A finding that feeds only +1 red flags moves the estimate one way (the ordinal encoding makes it
so, recorded or not), so over those the extremes are "all absent" and "all present" together. The
few findings without a clinical direction (fever, numbness, trauma, steroids, immunosuppression)
are enumerated: at most 2^5 combinations, each scored with the others at both extremes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from features.catalogue import RED_FLAGS, Columns
from features.record import FIELD_KINDS

FloatArray = npt.NDArray[np.float64]

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


def filling_rows(columns: Columns) -> tuple[npt.NDArray[np.int64], dict[str, FloatArray]]:
    """The ways to fill in each case's unrecorded findings that hold both extremes (every other is
    in between), as rows: each combination of the findings without a direction, with the monotone
    findings all absent and all present.

    Returns:
        (the case of each row, the value each yes/no finding takes in each row).
    """
    missing = {
        name: np.isnan(np.asarray(columns[name], dtype=np.float64)) for name in BOOLEAN_FIELDS
    }
    others = len(OTHER_FINDINGS)
    ways = np.arange(2 ** (others + 1))  # a bit per other finding, then the monotone extreme
    bits = (ways[:, None] >> np.arange(others + 1)) & 1  # ways × (others + 1)
    # A way is kept when it sets only unrecorded findings: bits of recorded ones are 0, and the
    # extreme is 1 only where a monotone finding is unrecorded.
    unset = np.column_stack(
        [~missing[name] for name in OTHER_FINDINGS]
        + [~np.logical_or.reduce([missing[name] for name in MONOTONE_FINDINGS])]
    )  # cases × (others + 1)
    keep = ~(unset[:, None, :] & (bits[None, :, :] == 1)).any(axis=2)  # cases × ways
    origin, way = np.nonzero(keep)
    values: dict[str, FloatArray] = {}
    for j, name in enumerate(OTHER_FINDINGS):
        given = np.asarray(columns[name], dtype=np.float64)[origin]
        values[name] = np.where(missing[name][origin], bits[way, j], given)
    extreme = bits[way, others].astype(np.float64)
    for name in MONOTONE_FINDINGS:
        given = np.asarray(columns[name], dtype=np.float64)[origin]
        values[name] = np.where(missing[name][origin], extreme, given)
    return origin.astype(np.int64), values


def bounds_of(
    probabilities: npt.NDArray[np.float64], origin: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(lowest, highest) probability per case over its scored fillings (``origin``: the case)."""
    low, high = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(low, origin, probabilities)
    np.maximum.at(high, origin, probabilities)
    return low, high
