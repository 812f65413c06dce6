"""Risk bands: the one definition the API, batch scoring and evaluation share."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RISK_BANDS = ("low", "moderate", "high")
# Probabilities where `moderate` and `high` start; `high` is also the evaluation's operating point.
DEFAULT_RISK_THRESHOLDS = (0.01, 0.05)


def check_risk_thresholds(thresholds: tuple[float, float], name: str = "risk_thresholds") -> None:
    """Refuse cut-offs that are not two ascending probabilities."""
    low, high = thresholds
    if not 0 < low < high < 1:
        raise ValueError(f"{name} must be two probabilities with 0 < low < high < 1")


def risk_bands(
    probabilities: npt.ArrayLike, thresholds: tuple[float, float]
) -> npt.NDArray[np.object_]:
    """low below the first threshold, high at or above the second, moderate between."""
    p = np.asarray(probabilities, dtype=np.float64)
    index = (p >= thresholds[0]).astype(np.int64) + (p >= thresholds[1]).astype(np.int64)
    bands: npt.NDArray[np.object_] = np.asarray(RISK_BANDS, dtype=object)[index]
    return bands
