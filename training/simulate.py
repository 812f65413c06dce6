"""First cohort simulator: the label at the setting's prevalence, each red flag drawn given it.

Flags are conditionally independent given the label, with the sensitivities and specificities of
REFERENCES.md; the fuller generative simulator with differential diagnoses replaces this one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import FIELDS, LABEL
from features.model import SETTING_PREVALENCE

# flag: (sensitivity, specificity) for malignancy against every other cause (REFERENCES.md).
_FLAGS = {
    "history_of_cancer": (0.31, 0.98),
    "failed_conservative_treatment": (0.31, 0.90),
    "no_relief_with_rest": (0.90, 0.46),
    "night_pain": (0.50, 0.60),
    "constant_pain": (0.60, 0.80),
    "limb_weakness": (0.20, 0.92),
    "sensory_loss": (0.15, 0.94),
    "gait_difficulty": (0.12, 0.96),
    "numbness_tingling": (0.25, 0.85),
    "bowel_bladder_dysfunction": (0.05, 0.995),
    "fatigue": (0.40, 0.80),
    "fever": (0.05, 0.97),
    "family_history_of_cancer": (0.25, 0.85),
    "pain_worse_lying_down": (0.40, 0.75),
    "recent_trauma": (0.05, 0.90),
    "steroid_use": (0.05, 0.95),
    "immunosuppressed": (0.08, 0.96),
}


def simulate_cohort(n: int, seed: int, setting: str = "primary_care") -> pd.DataFrame:
    """``n`` simulated cases of back pain in ``setting``, deterministic for ``seed``."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if setting not in SETTING_PREVALENCE:
        raise ValueError(f"setting must be one of {', '.join(SETTING_PREVALENCE)}, got '{setting}'")
    rng = np.random.default_rng(seed)
    y = rng.random(n) < SETTING_PREVALENCE[setting]

    def flag(sensitivity: float, specificity: float) -> np.ndarray:
        return np.where(y, rng.random(n) < sensitivity, rng.random(n) < 1 - specificity)

    # Age >= 50: sensitivity 0.77, specificity 0.71.
    old = flag(0.77, 0.71)
    age = np.where(old, rng.uniform(50, 90, n), rng.uniform(18, 50, n)).astype(int)
    cols: dict[str, object] = {"age": pd.array(age, dtype="Int64")}
    cols["sex"] = np.where(rng.random(n) < 0.5, "female", "male")
    for name, (sens, spec) in _FLAGS.items():
        cols[name] = flag(sens, spec)
    if setting == "oncology":
        cols["history_of_cancer"] = np.ones(n, dtype=bool)
    long_pain = flag(0.50, 0.81)
    cols["pain_duration_weeks"] = np.where(
        long_pain, rng.uniform(4.1, 52, n), rng.uniform(0.5, 4, n)
    ).round(1)
    worsening = flag(0.60, 0.80)
    cols["pain_trajectory"] = np.where(
        worsening, "worsening", np.where(rng.random(n) < 0.5, "stable", "improving")
    )
    cols["pain_region"] = np.where(
        flag(0.40, 0.85), "thoracic", np.where(rng.random(n) < 0.8, "lumbar", "cervical")
    )
    cols["pain_score"] = pd.array(rng.integers(2, 10, n), dtype="Int64")
    weight = rng.normal(78, 14, n).clip(40, 150).round(1)
    cols["weight_kg"] = weight
    losing = flag(0.15, 0.94)
    cols["unexplained_weight_loss_kg"] = np.where(losing, rng.uniform(2, 10, n), 0.0).round(1)
    smoking = np.where(
        flag(0.35, 0.80), "current", np.where(rng.random(n) < 0.4, "former", "never")
    )
    cols["smoking_status"] = smoking
    cols["pack_years"] = np.where(smoking == "never", 0.0, rng.uniform(1, 40, n).round(1))
    cancer = np.asarray(cols["history_of_cancer"], dtype=bool)
    types = np.array(["breast", "prostate", "lung", "kidney", "thyroid", "myeloma", "other"])
    cols["cancer_type"] = np.where(cancer, rng.choice(types, n).astype(object), np.array(None))
    years = np.minimum(rng.uniform(0, 15, n), age - 17).round(1)
    cols["years_since_cancer_diagnosis"] = np.where(cancer, years, np.nan)
    cols["esr_mm_per_h"] = np.where(
        flag(0.78, 0.67), rng.uniform(20, 100, n), rng.uniform(2, 19, n)
    )
    frame = pd.DataFrame(cols)
    for name in _FLAGS:
        frame[name] = frame[name].astype("boolean")
    for name in ("sex", "pain_trajectory", "pain_region", "smoking_status", "cancer_type"):
        frame[name] = frame[name].astype("string")
    # Weight and ESR are often unrecorded in primary care.
    for name, rate in (("weight_kg", 0.3), ("esr_mm_per_h", 0.7), ("pain_score", 0.2)):
        frame.loc[rng.random(n) < rate, name] = pd.NA
    frame = frame[list(FIELDS)]
    frame[LABEL] = y.astype(int)
    frame["diagnosis"] = np.where(y, "metastasis", "nonspecific")
    return frame
