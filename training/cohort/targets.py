"""Calibration targets of the cohort simulator: one table of red flags, each with its definition.

Sensitivity and specificity are for spinal malignancy against every other cause of back pain, in
primary care (docs/references.md). A flag is evaluated only on cases where the fields it reads are
recorded: missing values are neither positive nor negative. The simulator solves its intercepts
against this table, and the cohort report compares a frame against it, so revising a figure here
revises both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.record import LABEL

BoolArray = npt.NDArray[np.bool_]
# A flag evaluator returns (positive, recorded) for every row of a case frame.
Evaluator = Callable[[pd.DataFrame], tuple[BoolArray, BoolArray]]

TOLERANCE = 0.03  # absolute, on sensitivity and on specificity

# The prevalences themselves, with their sources, live in features.setting (serving shifts to them).
PREVALENCE_REL_TOLERANCE = 0.10


@dataclass(frozen=True)
class Target:
    """One red flag's published or assumed accuracy for spinal malignancy."""

    name: str
    definition: str
    sensitivity: float
    specificity: float
    status: Literal["published", "assumed"]
    source: str
    evaluate: Evaluator
    # The Deyo rule's sensitivity is a floor (13/13 observed; "take >= 0.95"), not a point target.
    sensitivity_is_floor: bool = False

    @property
    def lr_positive(self) -> float:
        """Positive likelihood ratio implied by the target figures."""
        return self.sensitivity / (1.0 - self.specificity)


def _bool(df: pd.DataFrame, column: str) -> tuple[BoolArray, BoolArray]:
    series = df[column]
    return series.fillna(False).to_numpy(dtype=bool), series.notna().to_numpy()


def _threshold(column: str, at_least: float | None = None, above: float | None = None) -> Evaluator:
    def evaluate(df: pd.DataFrame) -> tuple[BoolArray, BoolArray]:
        values = df[column].to_numpy(dtype=np.float64, na_value=np.nan)
        recorded = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            positive = values >= at_least if at_least is not None else values > above
        return positive & recorded, recorded

    return evaluate


def _equals(column: str, value: str) -> Evaluator:
    def evaluate(df: pd.DataFrame) -> tuple[BoolArray, BoolArray]:
        series = df[column]
        return (series == value).fillna(False).to_numpy(dtype=bool), series.notna().to_numpy()

    return evaluate


def _flag(column: str) -> Evaluator:
    return lambda df: _bool(df, column)


def _any_of(*evaluators: Evaluator) -> Evaluator:
    """Positive if any part is positive; recorded only where every part is recorded."""

    def evaluate(df: pd.DataFrame) -> tuple[BoolArray, BoolArray]:
        parts = [e(df) for e in evaluators]
        recorded = np.logical_and.reduce([r for _, r in parts])
        positive = np.logical_or.reduce([p for p, _ in parts])
        return positive & recorded, recorded

    return evaluate


_age_50 = _threshold("age", at_least=50)
_weight_loss = _threshold("unexplained_weight_loss_kg", above=0)
_DEYO_1988 = "Deyo & Diehl, J Gen Intern Med 1988"

TARGETS: tuple[Target, ...] = (
    Target("age_50_or_over", "age >= 50", 0.77, 0.71, "published",
           f"{_DEYO_1988} (tabulated in Deyo, Rainville & Kent, JAMA 1992)", _age_50),
    Target("history_of_cancer", "history_of_cancer is true", 0.31, 0.98, "published",
           f"{_DEYO_1988}; Henschke et al., Cochrane 2013; Downie et al., BMJ 2013",
           _flag("history_of_cancer")),
    Target("unexplained_weight_loss", "unexplained_weight_loss_kg > 0", 0.15, 0.94, "published",
           _DEYO_1988, _weight_loss),
    Target("failed_conservative_treatment", "failed_conservative_treatment is true", 0.31, 0.90,
           "published", _DEYO_1988, _flag("failed_conservative_treatment")),
    Target("no_relief_with_rest", "no_relief_with_rest is true", 0.90, 0.46, "published",
           _DEYO_1988, _flag("no_relief_with_rest")),
    Target("duration_over_4_weeks", "pain_duration_weeks > 4", 0.50, 0.81, "published",
           _DEYO_1988, _threshold("pain_duration_weeks", above=4)),
    Target("deyo_rule",
           "any of age >= 50, history_of_cancer, weight loss > 0, failed_conservative_treatment "
           "(evaluated where all four are recorded)",
           0.95, 0.60, "published", f"{_DEYO_1988}: sensitivity 13/13, taken as >= 0.95",
           _any_of(_age_50, _flag("history_of_cancer"), _weight_loss,
                   _flag("failed_conservative_treatment")),
           sensitivity_is_floor=True),
    Target("esr_20_or_more", "esr_mm_per_h >= 20 (where ESR is recorded)", 0.78, 0.67,
           "published", _DEYO_1988, _threshold("esr_mm_per_h", at_least=20)),
    Target("night_pain", "night_pain is true", 0.50, 0.60, "assumed",
           "night pain in 44% of 482 triage-clinic patients (Harding et al., Spine 2005)",
           _flag("night_pain")),
    Target("thoracic_pain", "pain_region == 'thoracic'", 0.40, 0.85, "assumed",
           "70% of cord compressions are thoracic; most back pain is lumbar (Enthoven 2016)",
           _equals("pain_region", "thoracic")),
    Target("progressive_pain",
           "constant_pain is true or pain_trajectory == 'worsening' (where both are recorded)",
           0.60, 0.80, "assumed", "NICE CG75: progressive and unremitting pain as triggers",
           _any_of(_flag("constant_pain"), _equals("pain_trajectory", "worsening"))),
    Target("any_neuro_deficit",
           "any of limb_weakness, sensory_loss, gait_difficulty (where all three are recorded)",
           0.20, 0.92, "assumed",
           "low sensitivity (Cochrane 2013); radiculopathy is the common false positive",
           _any_of(_flag("limb_weakness"), _flag("sensory_loss"), _flag("gait_difficulty"))),
    Target("bowel_bladder_dysfunction", "bowel_bladder_dysfunction is true", 0.05, 0.995,
           "assumed", "project assumption", _flag("bowel_bladder_dysfunction")),
    Target("fatigue", "fatigue is true", 0.40, 0.80, "assumed",
           "fatigue OR 1.5 for kidney cancer (Shephard, BJGP 2013)", _flag("fatigue")),
    Target("fever", "fever is true", 0.05, 0.97, "assumed",
           "fever mostly marks spinal infection", _flag("fever")),
    Target("current_smoker", "smoking_status == 'current'", 0.35, 0.80, "assumed",
           "risk factor in QCancer; drives lung primaries", _equals("smoking_status", "current")),
    Target("family_history_of_cancer", "family_history_of_cancer is true", 0.25, 0.85, "assumed",
           "project assumption", _flag("family_history_of_cancer")),
)  # fmt: skip

TARGETS_BY_NAME: dict[str, Target] = {t.name: t for t in TARGETS}


@dataclass(frozen=True)
class ShareTarget:
    """A published share of one red flag within a subgroup of the malignant cases.

    Sensitivity and specificity fix each flag on its own; a share fixes how two findings travel
    together among the cancers, which is where likelihood ratios stop multiplying.
    """

    name: str
    flag: str  # the target in TARGETS whose rate this share constrains
    subgroup: str  # what the subgroup is, in words
    share: float
    status: Literal["published", "assumed"]
    source: str
    # (in the subgroup, flag recorded) and (flag positive) for every row of a case frame.
    evaluate: Callable[[pd.DataFrame], tuple[BoolArray, BoolArray]]


_DEFICIT_FIELDS = ("limb_weakness", "sensory_loss", "gait_difficulty")


def _in_cord_compression(flag: Evaluator) -> Callable[[pd.DataFrame], tuple[BoolArray, BoolArray]]:
    """Malignant cases with a recorded neurological deficit (the record's view of a compressed
    cord), where `flag` is recorded."""

    def evaluate(df: pd.DataFrame) -> tuple[BoolArray, BoolArray]:
        deficit = np.logical_or.reduce([_bool(df, name)[0] for name in _DEFICIT_FIELDS])
        malignant = df[LABEL].to_numpy(dtype=np.int64) == 1
        positive, recorded = flag(df)
        return malignant & deficit & recorded, positive

    return evaluate


_NICE_CG75 = "NICE CG75 (metastatic spinal cord compression)"

SHARE_TARGETS: tuple[ShareTarget, ...] = (
    ShareTarget("cord_compression_with_known_cancer", "history_of_cancer",
                "malignant cases with a neurological deficit (cord compression)", 0.77,
                "published", f"{_NICE_CG75}: 23% of cord compressions present with no prior "
                "cancer diagnosis", _in_cord_compression(_flag("history_of_cancer"))),
    ShareTarget("cord_compression_thoracic", "thoracic_pain",
                "malignant cases with a neurological deficit (cord compression)", 0.70,
                "published", f"{_NICE_CG75}: cord compression is thoracic in 70%",
                _in_cord_compression(_equals("pain_region", "thoracic"))),
)  # fmt: skip

SHARE_TARGETS_BY_FLAG: dict[str, ShareTarget] = {t.flag: t for t in SHARE_TARGETS}


# --- the uncertainty of the figures -----------------------------------------------------------
# How many cases stand behind each figure. Deyo & Diehl 1988 saw 13 cancers among 1,975 patients;
# an assumed figure is given the uncertainty of a small cohort (20 cancers, 500 others), no less
# than the weakest published one; the cord-compression shares that of 100 compressions.
DEYO_1988_COUNTS = (13, 1_962)
ASSUMED_COUNTS = (20, 500)
SHARE_COUNT = 100
# (cases with a malignancy, cases in all) behind each setting's prevalence (features.setting):
# Deyo & Diehl 1988; ~1.5% of Galliker et al.'s 41,320; oncology assumed from 200 patients.
PREVALENCE_COUNTS: dict[str, tuple[int, int]] = {
    "primary_care": (13, 1_975),
    "emergency": (620, 41_320),
    "oncology": (49, 200),
}


@dataclass(frozen=True)
class Figures:
    """The figures one simulated world is drawn at: every flag's (sensitivity, specificity), the
    subgroup shares and each setting's prevalence. ``published_figures()`` is the table above;
    ``redraw_figures`` draws another world within the sampling uncertainty of the sources."""

    flags: tuple[tuple[str, float, float], ...]
    shares: tuple[tuple[str, float], ...]
    prevalence: tuple[tuple[str, float], ...]

    def rates(self, name: str) -> tuple[float, float]:
        """(sensitivity, specificity) of flag ``name``."""
        return next((sens, spec) for flag, sens, spec in self.flags if flag == name)

    def share(self, flag: str) -> float:
        """The published share of ``flag`` within its subgroup of the malignant cases."""
        return next(share for name, share in self.shares if name == flag)

    def prevalence_of(self, setting: str) -> float:
        """The prevalence of spinal malignancy in ``setting``."""
        return next(value for name, value in self.prevalence if name == setting)


def published_figures() -> Figures:
    """The figures of the tables above as they stand (a revised target revises them)."""
    from features.setting import SETTING_PREVALENCE

    return Figures(
        flags=tuple((t.name, t.sensitivity, t.specificity) for t in TARGETS_BY_NAME.values()),
        shares=tuple((t.flag, t.share) for t in SHARE_TARGETS_BY_FLAG.values()),
        prevalence=tuple(SETTING_PREVALENCE.items()),
    )


def _beta(rng: np.random.Generator, rate: float, n: float) -> float:
    """A rate redrawn from its Jeffreys posterior given ``n`` observations at ``rate``."""
    return float(rng.beta(rate * n + 0.5, (1 - rate) * n + 0.5))


def redraw_figures(rng: np.random.Generator) -> Figures:
    """One world drawn within the sampling uncertainty of every figure's source counts."""
    flags = []
    for target in TARGETS:
        malignant, other = DEYO_1988_COUNTS if target.status == "published" else ASSUMED_COUNTS
        flags.append(
            (
                target.name,
                _beta(rng, target.sensitivity, malignant),
                _beta(rng, target.specificity, other),
            )
        )
    shares = tuple((t.flag, _beta(rng, t.share, SHARE_COUNT)) for t in SHARE_TARGETS)
    prevalence = tuple(
        (setting, _beta(rng, cases / total, total))
        for setting, (cases, total) in PREVALENCE_COUNTS.items()
    )
    return Figures(tuple(flags), shares, prevalence)
