"""The logistic function and its inverse: the one definition every package uses."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def sigmoid(x: npt.ArrayLike) -> FloatArray:
    """Logistic function, stable for large |x| (tanh never overflows, unlike exp)."""
    return np.asarray(
        0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64))), dtype=np.float64
    )


def logit(p: npt.ArrayLike) -> FloatArray:
    """Log-odds of probabilities strictly between 0 and 1 (clip first where 0 or 1 can occur)."""
    q = np.asarray(p, dtype=np.float64)
    return np.asarray(np.log(q / (1.0 - q)), dtype=np.float64)
