"""Simulated cohorts of back-pain cases, calibrated to the published red-flag figures.

Each case first gets a cause (its diagnosis); its presentation is then drawn from that cause and
from what was drawn before it (age, cord compression, weight loss, ...). Every calibrated flag is
a latent logistic score `b_side + eta`: `eta` carries the clinical structure (which diagnosis, which
earlier findings raise the flag), and the intercepts `b_malignant`, `b_other` are solved once, on a
large reference sample with the primary-care mix of causes, so that the flag's rate among
malignant cases is the target sensitivity and among the others one minus the target specificity
(`training.cohort.targets`). Where a published figure says how two findings travel together
among the cancers (a known cancer in 77% of cord compressions, thoracic level in 70%:
`SHARE_TARGETS`), the malignant side gets a third intercept for that subgroup, solved to the share,
while the rest of the malignant side keeps the flag's sensitivity on target. Other settings reuse
the same per-cause model with their own mix of causes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.log_odds import sigmoid
from features.record import DIAGNOSES, DIAGNOSIS, ENUM_VALUES, FIELD_KINDS, FIELDS, LABEL
from features.setting import SETTING_PREVALENCE, SETTINGS
from training.cohort.targets import SHARE_TARGETS_BY_FLAG, Figures, published_figures
from training.schema import bool_column, enum_column, float_column, int_column

FloatArray = npt.NDArray[np.float64]
# Log-odds shifts come out of numpy arithmetic on bools and floats as any floating dtype.
Shift = npt.NDArray[np.floating[Any]] | float
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_DX = {name: code for code, name in enumerate(DIAGNOSES)}
_MALIGNANT_CODES = np.array([_DX["metastasis"], _DX["primary_tumour"], _DX["myeloma"]])
_CANCER = ENUM_VALUES["cancer_type"]
_CT = {name: code for code, name in enumerate(_CANCER)}

# Mix of causes within each side, per setting. Fracture and infection are commoner in the emergency
# department and in people with cancer (steroids, bone loss, chemotherapy).
_OTHER_MIX: dict[str, dict[str, float]] = {
    "primary_care": {"nonspecific": 0.885, "disc_herniation": 0.07, "fracture": 0.04,
                     "infection": 0.005},
    "emergency": {"nonspecific": 0.80, "disc_herniation": 0.10, "fracture": 0.08,
                  "infection": 0.02},
    "oncology": {"nonspecific": 0.74, "disc_herniation": 0.06, "fracture": 0.16,
                 "infection": 0.04},
}  # fmt: skip
_MALIGNANT_MIX: dict[str, dict[str, float]] = {
    "primary_care": {"metastasis": 0.70, "primary_tumour": 0.12, "myeloma": 0.18},
    "emergency": {"metastasis": 0.70, "primary_tumour": 0.12, "myeloma": 0.18},
    "oncology": {"metastasis": 0.85, "primary_tumour": 0.03, "myeloma": 0.12},
}
# Primaries that reach the spine: breast, lung, prostate, then kidney (docs/references.md).
_PRIMARY_MIX = {"breast": 0.30, "lung": 0.25, "prostate": 0.20, "kidney": 0.10, "thyroid": 0.03,
                "other": 0.12}  # fmt: skip
# Earlier cancers among people whose back pain is not malignant, by sex.
_SURVIVOR_MIX = {
    "female": {"breast": 0.45, "lung": 0.07, "kidney": 0.05, "thyroid": 0.08, "myeloma": 0.02,
               "other": 0.33},
    "male": {"prostate": 0.45, "lung": 0.10, "kidney": 0.08, "thyroid": 0.03, "myeloma": 0.03,
             "other": 0.31},
}  # fmt: skip

# Share of cases with a field not recorded, completely at random; settings override some.
_MISSING_BASE: dict[str, float] = {
    "age": 0.0, "sex": 0.01, "pain_duration_weeks": 0.06, "pain_trajectory": 0.08,
    "constant_pain": 0.08, "night_pain": 0.08, "pain_worse_lying_down": 0.12,
    "no_relief_with_rest": 0.08, "failed_conservative_treatment": 0.08, "pain_region": 0.04,
    "pain_score": 0.15, "numbness_tingling": 0.06, "limb_weakness": 0.05, "sensory_loss": 0.07,
    "gait_difficulty": 0.06, "bowel_bladder_dysfunction": 0.08, "weight_kg": 0.30,
    "unexplained_weight_loss_kg": 0.10, "fatigue": 0.10, "fever": 0.08,
    "history_of_cancer": 0.05, "cancer_type": 0.05, "years_since_cancer_diagnosis": 0.20,
    "smoking_status": 0.08, "pack_years": 0.35, "family_history_of_cancer": 0.25,
    "recent_trauma": 0.06, "steroid_use": 0.10, "immunosuppressed": 0.10, "esr_mm_per_h": 0.50,
}  # fmt: skip
_MISSING_BY_SETTING: dict[str, dict[str, float]] = {
    # Primary care rarely weighs the patient or orders an ESR for back pain.
    "primary_care": {"weight_kg": 0.55, "esr_mm_per_h": 0.65},
    "emergency": {"weight_kg": 0.35, "esr_mm_per_h": 0.35, "pain_score": 0.05},
    # Oncology follow-up knows the cancer history and weighs patients at each visit.
    "oncology": {"weight_kg": 0.08, "esr_mm_per_h": 0.25, "history_of_cancer": 0.0,
                 "cancer_type": 0.02, "years_since_cancer_diagnosis": 0.08},
}  # fmt: skip

# How each cause shifts the log-odds of each calibrated flag, relative to nonspecific pain. Only
# differences within a side matter: the side's intercept is solved to hit the target.
_CAUSE_LOGIT: dict[str, dict[str, float]] = {
    # Fracture and myeloma in the old, disc herniation and primary tumours in the younger.
    "age_50_or_over": {"disc_herniation": -1.0, "fracture": 2.5, "infection": 1.0,
                       "primary_tumour": -1.0, "myeloma": 1.5},
    # Cord compression (malignancy) or a compressed root (disc herniation).
    "any_neuro_deficit": {"disc_herniation": 3.5, "fracture": 0.5, "infection": 1.0,
                          "primary_tumour": 0.5, "myeloma": -0.3},
    "history_of_cancer": {"disc_herniation": -0.3, "fracture": 0.5, "infection": 0.8,
                          "metastasis": 1.5, "primary_tumour": -2.5, "myeloma": -2.0},
    "unexplained_weight_loss": {"disc_herniation": -0.5, "fracture": 0.3, "infection": 1.5,
                                "primary_tumour": -0.5, "myeloma": 0.3},
    "duration_over_4_weeks": {"disc_herniation": -0.5, "fracture": -0.5, "infection": 0.3,
                              "primary_tumour": 0.5},
    "failed_conservative_treatment": {"disc_herniation": 0.5, "fracture": 0.3, "infection": 0.8,
                                      "primary_tumour": 0.3},
    "progressive_pain": {"disc_herniation": -1.5, "fracture": 0.5, "infection": 1.5},
    "no_relief_with_rest": {"disc_herniation": -0.3, "fracture": 0.5, "infection": 1.0},
    "night_pain": {"fracture": 0.3, "infection": 1.2},
    "thoracic_pain": {"disc_herniation": -2.0, "fracture": 2.0, "infection": 0.5, "myeloma": 0.3},
    "fatigue": {"fracture": 0.2, "infection": 1.5, "myeloma": 0.8},
    "fever": {"disc_herniation": -0.5, "infection": 4.0, "myeloma": 0.3},
    "current_smoker": {"disc_herniation": 0.2, "fracture": 0.3, "infection": 0.5},
    "esr_20_or_more": {"fracture": 0.3, "infection": 3.0, "primary_tumour": -0.5, "myeloma": 2.0},
}  # fmt: skip
# Probabilities of the findings that are not calibrated, by cause.
_CAUSE_RATE: dict[str, dict[str, float]] = {
    "female": {"nonspecific": 0.55, "disc_herniation": 0.45, "fracture": 0.70, "infection": 0.40,
               "metastasis": 0.45, "primary_tumour": 0.5, "myeloma": 0.45},
    # Radiculopathy from a disc settles: most non-progressive disc pain is improving.
    "improving": {"nonspecific": 0.5, "disc_herniation": 0.75, "fracture": 0.35,
                  "infection": 0.2, "metastasis": 0.25, "primary_tumour": 0.25, "myeloma": 0.25},
    "immunosuppressed": {"nonspecific": 0.03, "disc_herniation": 0.02, "fracture": 0.08,
                         "infection": 0.35, "metastasis": 0.08, "primary_tumour": 0.06,
                         "myeloma": 0.20},
    "steroid_use": {"nonspecific": 0.03, "disc_herniation": 0.02, "fracture": 0.22,
                    "infection": 0.10, "metastasis": 0.06, "primary_tumour": 0.05, "myeloma": 0.08},
    "recent_trauma": {"nonspecific": 0.08, "disc_herniation": 0.12, "fracture": 0.45,
                      "infection": 0.03, "metastasis": 0.04, "primary_tumour": 0.04,
                      "myeloma": 0.04},
}  # fmt: skip
_PAIN_SCORE_MEAN = {"nonspecific": 4.8, "disc_herniation": 6.3, "fracture": 7.0, "infection": 6.8,
                    "metastasis": 6.3, "primary_tumour": 6.0, "myeloma": 6.3}  # fmt: skip

_CALIBRATION_SEED = 20261201
_CALIBRATION_SIZE = 200_000  # half malignant: intercepts within ~0.002 of the targets
# Age and duration are latent logistic scores mapped monotonically onto years and weeks, so that
# "age >= 50" and "duration > 4 weeks" are exactly "score > 0" and can be calibrated like a flag.
_AGE_OFFSET = math.log(32 / 60)  # 18 + 92 * sigmoid(offset) == 50
_AGE_SLOPE = 0.38  # ~8 years per unit of score around 50
_DURATION_SLOPE = 0.7
_ESR_SLOPE = 0.45  # log-ESR SD ~0.8


def simulate_cohort(
    n: int, seed: int, setting: str = "primary_care", figures: Figures | None = None
) -> pd.DataFrame:
    """Simulate `n` back-pain cases in `setting`, deterministic for `seed`.

    Args:
        n: number of cases, at least 1.
        seed: seed of `numpy.random.default_rng`.
        setting: "primary_care", "emergency" or "oncology" (known cancer, new back pain).
        figures: the figures the cohort reproduces: the published ones by default, another
            world's (drawn by `training.cohort.targets.redraw_figures`) for the evidence ensemble.

    Returns:
        One row per case: the case-record fields in order, then `spinal_malignancy` (0/1) and
        `diagnosis`; nullable dtypes, with <NA>/NaN where a field was not recorded.
    """
    frame, _ = simulate_with_latents(n, seed, setting, figures=figures)
    return frame


def simulate_with_latents(
    n: int,
    seed: int,
    setting: str = "primary_care",
    *,
    prevalence: float | None = None,
    figures: Figures | None = None,
) -> tuple[pd.DataFrame, dict[str, npt.NDArray[np.generic]]]:
    """`simulate_cohort`, plus the unrecorded latent state (cord compression, primary site).

    Args:
        prevalence: replaces the setting's prevalence, keeping its mix of causes within each
            side (e.g. 0.5 to study malignant cases without simulating a huge cohort).
    """
    _check_arguments(n, setting)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: must be a whole number >= 0, got {seed!r}")
    if prevalence is not None and not 0 < prevalence < 1:
        raise ValueError(f"prevalence: must be strictly between 0 and 1, got {prevalence!r}")
    rng = np.random.default_rng(seed)
    figures = figures or published_figures()
    probs = _diagnosis_probabilities(setting, prevalence or figures.prevalence_of(setting))
    dx = rng.choice(len(DIAGNOSES), size=n, p=probs)
    cohort = _Cohort(rng, dx, _intercepts(figures), setting, figures=figures)
    cohort.draw()
    cohort.hide_unrecorded(_missing_rates(setting))
    return cohort.frame(), cohort.latents()


def setting_diagnosis_mix(setting: str) -> dict[str, float]:
    """Expected share of each diagnosis in `setting`."""
    _check_arguments(1, setting)
    return dict(zip(DIAGNOSES, _diagnosis_probabilities(setting).tolist(), strict=True))


def _check_arguments(n: int, setting: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n: must be a whole number >= 1, got {n!r}")
    if setting not in SETTING_PREVALENCE:
        raise ValueError(f"setting: must be one of {', '.join(SETTINGS)}, got {setting!r}")


def _diagnosis_probabilities(setting: str, prevalence: float | None = None) -> FloatArray:
    prev = SETTING_PREVALENCE[setting] if prevalence is None else prevalence
    probs = np.zeros(len(DIAGNOSES))
    for name, share in _OTHER_MIX[setting].items():
        probs[_DX[name]] = (1 - prev) * share
    for name, share in _MALIGNANT_MIX[setting].items():
        probs[_DX[name]] = prev * share
    return np.asarray(probs / probs.sum(), dtype=np.float64)


def _missing_rates(setting: str) -> dict[str, float]:
    return {**_MISSING_BASE, **_MISSING_BY_SETTING[setting]}


@functools.cache
def _intercepts(figures: Figures | None = None) -> dict[str, tuple[float, float, float]]:
    """Solve every calibrated flag's intercepts on a primary-care reference.

    Each is (other, malignant, malignant subgroup): the last differs from the second only for a
    flag with a published share within a subgroup of the malignant cases.
    """
    figures = figures or published_figures()
    rng = np.random.default_rng(_CALIBRATION_SEED)
    # Half malignant, each side with the primary-care mix: the per-side rates are what the
    # targets constrain, and oversampling a side leaves its conditional distribution unchanged.
    probs = _diagnosis_probabilities("primary_care", prevalence=0.5)
    dx = rng.choice(len(DIAGNOSES), size=_CALIBRATION_SIZE, p=probs)
    solved: dict[str, tuple[float, float, float]] = {}
    _Cohort(rng, dx, solved, "primary_care", solving=True, figures=figures).draw()
    return solved


def _solve_intercept(eta: FloatArray, rate: float) -> float:
    """The b with mean(sigmoid(b + eta)) == rate: safeguarded Newton on a monotone function."""
    low, high = -50.0, 50.0
    b = math.log(rate / (1 - rate)) - float(np.median(eta))
    for _ in range(100):
        p = sigmoid(b + eta)
        error = float(p.mean()) - rate
        if abs(error) < 1e-10:
            break
        if error > 0:
            high = b
        else:
            low = b
        slope = float((p * (1 - p)).mean())
        step = b - error / slope if slope > 0 else math.nan
        b = step if low < step < high else (low + high) / 2
    return b


def _pick(
    rng: np.random.Generator, mix: dict[str, float], values: tuple[str, ...], n: int
) -> IntArray:
    """Codes (indices into `values`) of `n` draws from `mix`."""
    codes = np.array([values.index(v) for v in mix])
    probs = np.array(list(mix.values()))
    return codes[rng.choice(len(codes), size=n, p=probs / probs.sum())]


@dataclass(frozen=True)
class _Person:
    """Who the case is: drawn first, and shifting the odds of many later findings."""

    primary: IntArray  # primary site of a metastasis (a `cancer_type` code), -1 otherwise
    female: BoolArray
    age: IntArray
    young_malignant: BoolArray
    from_50: FloatArray
    older_other: FloatArray  # age raises flags without cancer


@dataclass(frozen=True)
class _Cancer:
    """The findings of the cancer block that later blocks depend on."""

    deficit: BoolArray
    cord_compression: BoolArray
    history: BoolArray
    weight_loss: BoolArray
    # Young malignant cases with neither a known cancer nor weight loss: the Deyo rule's blind
    # spot, which the later flags cover.
    undeclared: BoolArray


@dataclass
class _Cohort:
    """The draws of one cohort, in causal order; `solving` fills `intercepts` as it goes."""

    rng: np.random.Generator
    dx: IntArray
    intercepts: dict[str, tuple[float, float, float]]
    setting: str
    solving: bool = False
    figures: Figures = field(default_factory=published_figures)
    values: dict[str, npt.NDArray[np.generic]] = field(default_factory=dict)
    missing: dict[str, BoolArray] = field(default_factory=dict)
    latent: dict[str, npt.NDArray[np.generic]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.n = len(self.dx)
        self.malignant: BoolArray = np.isin(self.dx, _MALIGNANT_CODES)

    def by_dx(self, table: dict[str, float]) -> FloatArray:
        """Per-case value from per-diagnosis values; diagnoses not named get 0."""
        return np.array([table.get(name, 0.0) for name in DIAGNOSES])[self.dx]

    def is_dx(self, name: str) -> BoolArray:
        return np.asarray(self.dx == _DX[name])

    def score(self, name: str, eta: Shift, subgroup: BoolArray | None = None) -> FloatArray:
        """Latent logistic score of calibrated flag `name`: positive with its calibrated odds.

        Args:
            name: the target's name; its per-cause offsets are added to `eta`.
            eta: the case's log-odds shift from what was drawn before.
            subgroup: the malignant cases in which a published share of this flag applies
                (`training.cohort.targets.SHARE_TARGETS`, e.g. a known cancer in 77% of cord
                compressions); they get their own solved offset, the rest of the malignant
                side the one that keeps the flag's sensitivity on target.
        """
        total: FloatArray = np.asarray(self.by_dx(_CAUSE_LOGIT.get(name, {})) + eta, np.float64)
        if self.solving:
            self.intercepts[name] = self._solve(name, total, subgroup)
        b_other, b_malignant, b_subgroup = self.intercepts[name]
        shift = np.where(self.malignant, b_malignant, b_other)
        if subgroup is not None:
            shift = np.where(subgroup & self.malignant, b_subgroup, shift)
        return np.asarray(shift + total + self.rng.logistic(size=self.n), dtype=np.float64)

    def _solve(
        self, name: str, total: FloatArray, subgroup: BoolArray | None
    ) -> tuple[float, float, float]:
        """(other, malignant, malignant subgroup) intercepts that put `name` on its targets."""
        sensitivity, specificity = self.figures.rates(name)
        b_other = _solve_intercept(total[~self.malignant], 1 - specificity)
        if subgroup is None:
            b_malignant = _solve_intercept(total[self.malignant], sensitivity)
            return b_other, b_malignant, b_malignant
        share = self.figures.share(SHARE_TARGETS_BY_FLAG[name].flag)
        inside, outside = self.malignant & subgroup, self.malignant & ~subgroup
        # The rest of the malignant side carries what the subgroup leaves of the sensitivity.
        rest = (sensitivity * self.malignant.sum() - share * inside.sum()) / outside.sum()
        if not 0 < rest < 1:
            raise ValueError(
                f"{name}: a share of {share} in its subgroup cannot coexist with a sensitivity "
                f"of {sensitivity}"
            )
        return (
            b_other,
            _solve_intercept(total[outside], float(rest)),
            _solve_intercept(total[inside], share),
        )

    def flag(self, name: str, eta: Shift = 0.0, subgroup: BoolArray | None = None) -> BoolArray:
        return self.score(name, eta, subgroup) > 0

    def chance(self, p: FloatArray | float) -> BoolArray:
        return self.rng.random(self.n) < p

    def draw(self) -> None:
        """Draw every field, cause first.

        Every block draws from the one seeded generator, so their order (and the order of the
        draws within each) fixes the published cohorts and the solved intercepts: keep it.
        """
        person = self._demographics()
        cancer = self._cancer_and_cord_compression(person)
        long_pain, failed = self._pain_duration(person, cancer)
        progressive, night = self._pain_pattern(cancer, long_pain, failed)
        self._location(cancer.cord_compression)
        self._neurological_findings(cancer)
        self._systemic_signs(cancer)
        self._smoking(person)
        self._family_history(person)
        self._labs(person)
        self._cancer_history(person, cancer.history)
        self._weight(person, cancer.weight_loss)
        self._pain_score(cancer, progressive, night)
        self.latent.update(
            cord_compression=cancer.cord_compression,
            neuro_deficit=cancer.deficit,
            primary=person.primary,
        )

    def _demographics(self) -> _Person:
        """The primary site of a metastasis, then sex and age."""
        primary = np.where(
            self.is_dx("metastasis"), _pick(self.rng, _PRIMARY_MIX, _CANCER, self.n), -1
        )
        p_female = self.by_dx(_CAUSE_RATE["female"])
        p_female = np.where(primary == _CT["breast"], 1.0, p_female)
        female = self.chance(np.where(primary == _CT["prostate"], 0.0, p_female))
        age_score = self.score("age_50_or_over", np.zeros(self.n))
        age = np.floor(18 + 92 * sigmoid(_AGE_SLOPE * age_score + _AGE_OFFSET)).astype(np.int64)
        self.values.update(age=age, sex=np.where(female, 0, 1))
        from_50 = (age - 50).astype(np.float64)
        return _Person(
            primary=primary,
            female=female,
            age=age,
            young_malignant=self.malignant & (age < 50),
            from_50=from_50,
            older_other=np.where(self.malignant, 0.0, 0.02 * from_50),
        )

    def _cancer_and_cord_compression(self, person: _Person) -> _Cancer:
        """Neurological deficit (cord compression where malignant), known cancer, weight loss."""
        deficit = self.flag("any_neuro_deficit")
        cord_compression = self.malignant & deficit
        young_malignant, older_other = person.young_malignant, person.older_other
        # The Deyo rule misses almost no cancer: a malignancy under 50 nearly always shows one of
        # the other three flags, so their odds rise together in young malignant cases lacking one.
        # Cord compression is mostly a late event of a known cancer: only 23% present without one.
        history = self.flag(
            "history_of_cancer", 1.5 * older_other + 2.0 * young_malignant, cord_compression
        )
        if self.setting == "oncology":
            # Still drawn above: skipping the draw would change every later one in this setting.
            history = np.ones(self.n, dtype=bool)
        weight_loss = self.flag(
            "unexplained_weight_loss", older_other + 2.5 * (young_malignant & ~history)
        )
        self.values.update(history_of_cancer=history)
        return _Cancer(
            deficit=deficit,
            cord_compression=cord_compression,
            history=history,
            weight_loss=weight_loss,
            undeclared=young_malignant & ~history & ~weight_loss,
        )

    def _pain_duration(self, person: _Person, cancer: _Cancer) -> tuple[BoolArray, BoolArray]:
        """Duration of the pain and failed conservative treatment; (over 4 weeks, failed)."""
        undeclared = cancer.undeclared
        duration_score = self.score(
            "duration_over_4_weeks", 0.3 * cancer.weight_loss + 2.0 * undeclared
        )
        weeks = np.minimum(4 * np.exp(_DURATION_SLOPE * duration_score), 520)
        duration = np.ceil(10 * weeks) / 10  # ceil keeps "> 4 weeks" exactly "score > 0"
        long_pain = duration > 4
        # "Failed conservative treatment" means no improvement after 4 weeks: only in longer pain.
        failed = self.flag(
            "failed_conservative_treatment",
            np.where(long_pain, person.older_other + 3.0 * undeclared, -40.0),
        )
        self.values.update(pain_duration_weeks=duration, failed_conservative_treatment=failed)
        return long_pain, failed

    def _pain_pattern(
        self, cancer: _Cancer, long_pain: BoolArray, failed: BoolArray
    ) -> tuple[BoolArray, BoolArray]:
        """Trajectory, constancy, rest, night and lying down; (progressive, night pain)."""
        cord_compression = cancer.cord_compression
        progressive = self.flag(
            "progressive_pain", 0.8 * long_pain + 0.5 * failed + 1.0 * cord_compression
        )
        pattern = self.rng.random(self.n)
        constant = progressive & ((pattern < 0.35) | (pattern >= 0.60))
        worsening = progressive & (pattern >= 0.35)
        improving = ~progressive & self.chance(self.by_dx(_CAUSE_RATE["improving"]))
        no_relief = self.flag("no_relief_with_rest", 1.0 * progressive)
        night = self.flag("night_pain", 0.5 * cord_compression + 0.6 * progressive)
        fracture = self.is_dx("fracture")
        lying = self.chance(sigmoid(-1.8 + 1.5 * night + 0.8 * self.malignant + 0.5 * fracture))
        self.values.update(
            pain_trajectory=np.where(worsening, 2, np.where(improving, 0, 1)),
            constant_pain=constant,
            night_pain=night,
            pain_worse_lying_down=lying,
            no_relief_with_rest=no_relief,
        )
        return progressive, night

    def _location(self, cord_compression: BoolArray) -> None:
        """Pain region codes: thoracic as a calibrated flag, the rest split by cause."""
        # Cord compression is mostly thoracic (70%), then lumbar (20%) and cervical (10%).
        thoracic = self.flag("thoracic_pain", subgroup=cord_compression)
        regions = ENUM_VALUES["pain_region"]
        other = _pick(self.rng, {"cervical": 0.12, "lumbar": 0.80, "sacral": 0.08}, regions, self.n)
        disc = _pick(self.rng, {"cervical": 0.12, "lumbar": 0.85, "sacral": 0.03}, regions, self.n)
        cord = _pick(self.rng, {"cervical": 1 / 3, "lumbar": 2 / 3}, regions, self.n)
        region = np.where(
            cord_compression, cord, np.where(self.is_dx("disc_herniation"), disc, other)
        )
        self.values.update(pain_region=np.where(thoracic, regions.index("thoracic"), region))

    def _neurological_findings(self, cancer: _Cancer) -> None:
        """Weakness, sensory loss, gait, numbness and sphincter disturbance."""
        deficit, cord_compression = cancer.deficit, cancer.cord_compression
        disc = self.is_dx("disc_herniation")
        # A compressed cord brings weakness, sensory loss and gait difficulty together.
        weakness = deficit & self.chance(
            np.where(cord_compression, 0.85, np.where(disc, 0.65, 0.6))
        )
        sensory = deficit & self.chance(
            np.where(cord_compression, 0.75, np.where(disc, 0.55, 0.45))
        )
        gait = deficit & self.chance(np.where(cord_compression, 0.70, np.where(disc, 0.15, 0.35)))
        # A deficit must show as at least one finding.
        weakness |= deficit & ~sensory & ~gait
        numbness = self.chance(
            np.where(deficit, np.where(disc, 0.9, 0.55), np.where(disc, 0.45, 0.08))
        )
        sphincter = self.flag("bowel_bladder_dysfunction", 4.0 * deficit + 0.5 * disc)
        self.values.update(
            numbness_tingling=numbness,
            limb_weakness=weakness,
            sensory_loss=sensory,
            gait_difficulty=gait,
            bowel_bladder_dysfunction=sphincter,
        )

    def _systemic_signs(self, cancer: _Cancer) -> None:
        """Fatigue, immunosuppression, fever, steroids and recent trauma."""
        fatigue = self.flag("fatigue", 2.0 * cancer.weight_loss)
        immunosuppressed = self.chance(
            self.by_dx(_CAUSE_RATE["immunosuppressed"]) + 0.12 * cancer.history
        )
        fever = self.flag("fever", 0.5 * immunosuppressed)
        steroids = self.chance(self.by_dx(_CAUSE_RATE["steroid_use"]) + 0.04 * immunosuppressed)
        trauma = self.chance(self.by_dx(_CAUSE_RATE["recent_trauma"]))
        self.values.update(
            fatigue=fatigue,
            immunosuppressed=immunosuppressed,
            fever=fever,
            steroid_use=steroids,
            recent_trauma=trauma,
        )

    def _smoking(self, person: _Person) -> None:
        """Smoking status and pack-years."""
        rng, n, from_50 = self.rng, self.n, person.from_50
        # Smoking is drawn after the primary, so lung primaries concentrate among smokers.
        lung_primary = person.primary == _CT["lung"]
        kidney_primary = person.primary == _CT["kidney"]
        current = self.flag(
            "current_smoker", 2.5 * lung_primary + 0.5 * kidney_primary - 0.015 * from_50
        )
        former = ~current & self.chance(sigmoid(-1.0 + 0.04 * from_50 + 1.5 * lung_primary))
        smoking = np.where(current, 2, np.where(former, 1, 0))
        packs_per_day = rng.gamma(2.0, 0.35, n) * np.where(lung_primary, 1.5, 1.0)
        share_smoked = np.where(current, rng.uniform(0.6, 1.0, n), rng.uniform(0.15, 0.6, n))
        pack_years = np.round(np.minimum(packs_per_day * (person.age - 16) * share_smoked, 200), 1)
        self.values.update(
            smoking_status=smoking, pack_years=np.where(smoking == 0, 0.0, pack_years)
        )

    def _family_history(self, person: _Person) -> None:
        family = self.flag("family_history_of_cancer", 0.5 * person.young_malignant)
        self.values.update(family_history_of_cancer=family)

    def _labs(self, person: _Person) -> None:
        """ESR, as a calibrated score mapped onto mm/h (20 mm/h where the score is 0)."""
        esr_score = self.score("esr_20_or_more", 0.02 * person.from_50)
        esr = np.clip(np.floor(20 * np.exp(_ESR_SLOPE * np.minimum(esr_score, 20))), 0, 200)
        self.values.update(esr_mm_per_h=esr)

    def _cancer_history(self, person: _Person, history: BoolArray) -> None:
        """Cancer type and years since diagnosis where there is a history, else -1 and NaN."""
        rng, n = self.rng, self.n
        survivor = np.where(person.female, _pick(rng, _SURVIVOR_MIX["female"], _CANCER, n),
                            _pick(rng, _SURVIVOR_MIX["male"], _CANCER, n))  # fmt: skip
        # A known myeloma (or its precursor) often precedes spinal myeloma.
        myeloma_known = self.is_dx("myeloma") & self.chance(0.5)
        primary = person.primary
        kind = np.where(primary >= 0, primary, np.where(myeloma_known, _CT["myeloma"], survivor))
        mean_years = np.where(self.is_dx("metastasis"), 3.0,
                              np.where(self.malignant, 6.0, 8.0))  # fmt: skip
        years = (
            np.floor(10 * np.minimum(rng.exponential(mean_years), np.minimum(80, person.age - 18)))
            / 10
        )
        self.values.update(
            cancer_type=np.where(history, kind, -1),
            years_since_cancer_diagnosis=np.where(history, years, np.nan),
        )

    def _weight(self, person: _Person, weight_loss: BoolArray) -> None:
        """Body weight and, where there is unexplained weight loss, how much."""
        rng, n = self.rng, self.n
        weight = np.clip(
            np.where(person.female, rng.normal(70, 14, n), rng.normal(84, 15, n)), 40, 180
        )
        loss_kg = rng.gamma(2.0, np.where(self.malignant, 3.5, 2.0)) + 0.5
        loss = np.where(weight_loss, np.round(np.minimum(loss_kg, 0.3 * weight), 1), 0.0)
        self.values.update(weight_kg=np.round(weight, 1), unexplained_weight_loss_kg=loss)

    def _pain_score(self, cancer: _Cancer, progressive: BoolArray, night: BoolArray) -> None:
        """Pain score 0-10; drawn last (not with the pain course) as the seeded stream requires."""
        mean_score = (
            self.by_dx(_PAIN_SCORE_MEAN)
            + 0.5 * progressive
            + 0.5 * cancer.cord_compression
            + 0.3 * night
        )
        pain_score = np.clip(np.round(self.rng.normal(mean_score, 1.8)), 0, 10).astype(np.int64)
        self.values.update(pain_score=pain_score)

    def hide_unrecorded(self, rates: dict[str, float]) -> None:
        """Mark fields not recorded, completely at random at each field's rate."""
        for name in FIELDS:
            self.missing[name] = self.chance(rates[name])
        # Type and date of a cancer are only recorded along with the history itself.
        no_history = self.missing["history_of_cancer"] | ~self.values["history_of_cancer"].astype(
            bool
        )
        self.missing["cancer_type"] |= no_history
        self.missing["years_since_cancer_diagnosis"] |= no_history

    def frame(self) -> pd.DataFrame:
        """The cohort as a case frame with the project's nullable dtypes."""
        columns: dict[str, pd.Series] = {}
        for name in FIELDS:
            values, missing = self.values[name], self.missing[name]
            kind = FIELD_KINDS[name]
            if kind == "bool":
                columns[name] = bool_column(values.astype(bool), missing)
            elif kind == "int":
                columns[name] = int_column(values.astype(np.int64), missing)
            elif kind == "float":
                columns[name] = float_column(values.astype(np.float64), missing)
            else:
                codes = np.where(missing, -1, values.astype(np.int64))
                columns[name] = enum_column(codes, ENUM_VALUES[name])
        columns[LABEL] = pd.Series(self.malignant.astype(np.int64))
        columns[DIAGNOSIS] = enum_column(self.dx, DIAGNOSES)
        return pd.DataFrame(columns)

    def latents(self) -> dict[str, npt.NDArray[np.generic]]:
        """Latent state that no record shows, for tests and analysis."""
        return dict(self.latent)
