"""An external cohort, for evaluation only: the same published figures, built another way.

The main simulator (``training.cohort.simulate``) draws a cause first and each finding from the
cause and the findings before it. This generator is written independently, in the ways real
records differ from that picture (docs/simulator.md, "The external cohort"):

- case-control sampling: the cancers come from a case series with its own mix of causes and the
  others from a primary-care series, joined at the setting's prevalence (a fixed count of each);
- a shared latent severity in everyone: pain at night, constant pain and no relief with rest
  travel together with or without cancer, as do pain score, duration and lying-down pain;
- a shared systemic (inflammatory) factor behind weight loss, ESR, fatigue and fever;
- age and sex mixes of their own per cause (fractures old and female, disc herniation young);
- missingness not at random: an ESR is ordered when cancer is suspected (more red flags), the
  neurological examination is recorded when there are symptoms, a weight when weight is lost;
- a cancer presents without a known history more often than the main simulator's structure has it
  (no cord-compression share is imposed).

Every finding is a Gaussian latent score cut at a threshold per side (malignant or not); the
thresholds are solved by bisection on a large reference sample so that each red flag's rate
among the cases where it is recorded hits the published sensitivity and specificity
(``training.cohort.targets``). It is never used to train a model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.log_odds import sigmoid
from features.record import DIAGNOSES, ENUM_VALUES, FIELDS
from training.cohort.targets import Figures, published_figures
from training.schema import case_frame

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
# A cut of a latent score at per-case thresholds: (positive, recorded).
Make = Callable[[FloatArray], tuple[BoolArray, BoolArray]]

SETTING = "primary_care"
_DX = {name: code for code, name in enumerate(DIAGNOSES)}
_CT = {name: code for code, name in enumerate(ENUM_VALUES["cancer_type"])}
_REGIONS = ENUM_VALUES["pain_region"]

# Case series (malignant) and control series: mixes of their own (more myeloma than a cause-first
# primary-care mix gives; more infection among the controls).
MALIGNANT_MIX = {"metastasis": 0.62, "myeloma": 0.26, "primary_tumour": 0.12}
OTHER_MIX = {"nonspecific": 0.86, "disc_herniation": 0.08, "fracture": 0.045, "infection": 0.015}
PRIMARY_MIX = {"breast": 0.28, "prostate": 0.24, "lung": 0.24, "kidney": 0.10, "thyroid": 0.04,
               "other": 0.10}  # fmt: skip
SURVIVOR_MIX = {"breast": 0.30, "prostate": 0.25, "lung": 0.08, "kidney": 0.06, "thyroid": 0.06,
                "myeloma": 0.02, "other": 0.23}  # fmt: skip
# Age latent (mean, spread) and share female, per cause: osteoporotic fractures in old women,
# disc herniation in the young, myeloma late and more often in men.
AGE_LATENT = {"nonspecific": (0.0, 1.0), "disc_herniation": (-0.9, 0.7), "fracture": (1.6, 0.6),
              "infection": (0.5, 1.0), "metastasis": (0.0, 1.0), "primary_tumour": (-0.8, 1.1),
              "myeloma": (1.0, 0.7)}  # fmt: skip
FEMALE = {"nonspecific": 0.58, "disc_herniation": 0.42, "fracture": 0.78, "infection": 0.35,
          "metastasis": 0.45, "primary_tumour": 0.45, "myeloma": 0.40}  # fmt: skip
# How strongly the shared severity drives the pain pattern (a loading on a unit-variance latent).
SEVERITY_LOADING = 0.75
SYSTEMIC_LOADING = 0.65
# Worsening pain among the malignant and the other cases; the rest of "progressive pain" is
# constant pain, solved to the target.
WORSENING_RATE = (0.10, 0.40)
# A cancer under 50 comes to notice through a known cancer, weight loss or pain that fails
# treatment (the Deyo rule's published sensitivity): a shift of those latents.
YOUNG_CANCER_SHIFT = 1.6

# Not recorded, completely at random; the fields recorded not at random are in `_Draw._record`.
MISSING = {
    "age": 0.0, "sex": 0.02, "pain_duration_weeks": 0.10, "pain_trajectory": 0.12,
    "constant_pain": 0.10, "night_pain": 0.12, "pain_worse_lying_down": 0.20,
    "no_relief_with_rest": 0.10, "failed_conservative_treatment": 0.12, "pain_region": 0.05,
    "pain_score": 0.25, "numbness_tingling": 0.10, "limb_weakness": 0.02, "sensory_loss": 0.02,
    "gait_difficulty": 0.02, "bowel_bladder_dysfunction": 0.15, "weight_kg": 0.0,
    "unexplained_weight_loss_kg": 0.15, "fatigue": 0.15, "fever": 0.12,
    "history_of_cancer": 0.08, "cancer_type": 0.10, "years_since_cancer_diagnosis": 0.30,
    "smoking_status": 0.12, "pack_years": 0.50, "family_history_of_cancer": 0.40,
    "recent_trauma": 0.10, "steroid_use": 0.15, "immunosuppressed": 0.15, "esr_mm_per_h": 0.0,
}  # fmt: skip

REFERENCE_SIZE = 60_000  # half malignant: each rate within ~0.003 (one SE) of its target
_REFERENCE_SEED = 31_415
_NORMALS = ("severity", "systemic", "age", "night", "constant", "no_relief", "worsening",
            "duration", "failed", "history", "weight_loss", "esr", "fatigue", "fever", "thoracic",
            "deficit", "sphincter", "smoker", "family", "pain_score", "weight")  # fmt: skip
_UNIFORMS = ("primary", "sex", "improving", "lying", "numbness", "exam", "esr_ordered",
             "weighed", "weakness", "sensory", "gait", "region", "former", "survivor",
             "myeloma_known", "immunosuppressed", "steroids", "trauma")  # fmt: skip


def external_cohort(
    n: int, seed: int, prevalence: float | None = None, figures: Figures | None = None
) -> pd.DataFrame:
    """``n`` primary-care back-pain cases built independently of the main simulator.

    Args:
        n: number of cases, at least 2 (one of each class).
        seed: seed of ``numpy.random.default_rng``.
        prevalence: share of malignant cases (case-control sampling: exactly round(n *
            prevalence), at least one of each class); the primary-care prevalence by default.
        figures: the figures the cohort reproduces; the published ones by default.

    Returns:
        The case-record fields, ``spinal_malignancy`` and ``diagnosis``, as the main simulator's.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"n: must be a whole number >= 2, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: must be a whole number >= 0, got {seed!r}")
    if prevalence is not None and not 0 < prevalence < 1:
        raise ValueError(f"prevalence: must be strictly between 0 and 1, got {prevalence!r}")
    figures = figures or published_figures()
    rng = np.random.default_rng(seed)
    share = prevalence if prevalence is not None else figures.prevalence_of(SETTING)
    n_malignant = int(np.clip(round(n * share), 1, n - 1))
    dx = _sample_causes(rng, n, n_malignant)
    draw = _Draw(rng, dx, _thresholds(figures), figures)
    draw.draw()
    return draw.frame()


def _sample_causes(rng: np.random.Generator, n: int, n_malignant: int) -> IntArray:
    """Causes of a fixed count of cases and of controls, each from its own series, shuffled."""

    def series(mix: dict[str, float], size: int) -> IntArray:
        codes = np.array([_DX[name] for name in mix])
        probs = np.array(list(mix.values()))
        return codes[rng.choice(len(codes), size=size, p=probs / probs.sum())]

    dx = np.concatenate([series(MALIGNANT_MIX, n_malignant), series(OTHER_MIX, n - n_malignant)])
    return dx[rng.permutation(n)]


@functools.cache
def _thresholds(figures: Figures) -> dict[str, tuple[float, float]]:
    """Each latent's (other, malignant) threshold, solved on a half-malignant reference sample."""
    rng = np.random.default_rng(_REFERENCE_SEED)
    dx = _sample_causes(rng, REFERENCE_SIZE, REFERENCE_SIZE // 2)
    solved: dict[str, tuple[float, float]] = {}
    _Draw(rng, dx, solved, figures, solving=True).draw()
    return solved


def _bisect(make: Make, side: BoolArray, rate: float) -> float:
    """The threshold at which the positive share among the recorded cases of ``side`` is
    ``rate``: the share falls as the threshold rises."""
    low, high = -15.0, 15.0
    for _ in range(32):  # 30 / 2**32: far finer than the sample
        middle = (low + high) / 2
        positive, recorded = make(np.full(len(side), middle))
        among = side & recorded
        if positive[among].mean() > rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _every(values: FloatArray) -> BoolArray:
    return np.ones(len(values), dtype=bool)


@dataclass
class _Draw:
    """One cohort's draws; with ``solving`` it fills ``thresholds`` as it goes."""

    rng: np.random.Generator
    dx: IntArray
    thresholds: dict[str, tuple[float, float]]
    figures: Figures
    solving: bool = False
    values: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    missing: dict[str, BoolArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.n = len(self.dx)
        self.malignant = np.isin(self.dx, [_DX[name] for name in MALIGNANT_MIX])
        # Every random number is drawn up front, by name: a threshold moved never moves a draw.
        normals = self.rng.standard_normal((len(_NORMALS), self.n))
        uniforms = self.rng.random((len(_UNIFORMS), self.n))
        self.z = dict(zip(_NORMALS, normals, strict=True))
        self.u = dict(zip(_UNIFORMS, uniforms, strict=True))

    def is_dx(self, name: str) -> BoolArray:
        return np.asarray(self.dx == _DX[name])

    def by_dx(self, values: dict[str, float], default: float = 0.0) -> FloatArray:
        table = np.array([values.get(name, default) for name in DIAGNOSES])
        return np.asarray(table[self.dx], dtype=np.float64)

    def cut(self, name: str, make: Make, rates: tuple[float, float] | None = None) -> BoolArray:
        """``make`` at this latent's thresholds, solved first when solving.

        ``rates`` are the (other, malignant) positive shares; by default the flag ``name``'s
        (1 - specificity, sensitivity).
        """
        if self.solving:
            if rates is None:
                sensitivity, specificity = self.figures.rates(name)
                rates = (1 - specificity, sensitivity)
            self.thresholds[name] = (
                _bisect(make, ~self.malignant, rates[0]),
                _bisect(make, self.malignant, rates[1]),
            )
        return make(self.at(name))[0]

    def at(self, name: str) -> FloatArray:
        other, malignant = self.thresholds[name]
        return np.where(self.malignant, malignant, other)

    def latent(self, noise: str, *loadings: tuple[float, FloatArray]) -> FloatArray:
        """A unit-variance score: the loaded shared factors plus this finding's own noise."""
        shared = sum(weight * factor for weight, factor in loadings)
        own = np.sqrt(1 - sum(weight**2 for weight, _ in loadings))
        return np.asarray(shared + own * self.z[noise], dtype=np.float64)

    def flag(self, name: str, score: FloatArray) -> BoolArray:
        return self.cut(name, lambda c: (score > c, _every(c)))

    def chance(self, uniform: str, p: FloatArray | float) -> BoolArray:
        return np.asarray(self.u[uniform] < p)

    def draw(self) -> None:
        """Every field, then what goes unrecorded."""
        severity, systemic = self.z["severity"], self.z["systemic"]
        age, female, primary = self._person()
        young = self.malignant & (age < 50)
        self._pain_pattern(severity)
        self._duration(severity, young)
        history = self._history(age, young)
        weight_loss = self._weight(female, systemic, young)
        self._systemic(systemic, severity)
        self._location_and_neurology(severity)
        self._smoking(age, primary)
        self.values["family_history_of_cancer"] = self.flag(
            "family_history_of_cancer", self.z["family"] + 0.3 * young
        )
        self._cancer_type(age, female, primary, history)
        self._background()
        self._record(weight_loss)

    def _person(self) -> tuple[IntArray, BoolArray, IntArray]:
        """Primary site of a metastasis, sex and age; (age, female, primary site or -1)."""
        sites = np.array([_CT[name] for name in PRIMARY_MIX])
        cumulative = np.cumsum(list(PRIMARY_MIX.values()))
        picked = sites[np.searchsorted(cumulative / cumulative[-1], self.u["primary"])]
        primary = np.where(self.is_dx("metastasis"), picked, -1)
        p_female = self.by_dx(FEMALE)
        p_female = np.where(primary == _CT["breast"], 1.0, p_female)
        female = self.chance("sex", np.where(primary == _CT["prostate"], 0.0, p_female))
        mean, spread = (
            self.by_dx({k: v[0] for k, v in AGE_LATENT.items()}),
            self.by_dx({k: v[1] for k, v in AGE_LATENT.items()}),
        )
        score = mean + spread * self.z["age"]
        self.flag("age_50_or_over", score)
        # 11 years a unit of score from 50, so that "age >= 50" is exactly "score above the cut".
        age = np.clip(50 + np.floor(11 * (score - self.at("age_50_or_over"))), 18, 100)
        self.values.update(age=age.astype(np.int64), sex=np.where(female, 0, 1))
        return age.astype(np.int64), female, primary

    def _pain_pattern(self, severity: FloatArray) -> None:
        """Night pain, no relief with rest and constant pain from the shared severity."""
        load = (SEVERITY_LOADING, severity)
        infection = self.is_dx("infection")
        night = self.flag("night_pain", self.latent("night", load) + 0.8 * infection)
        no_relief = self.flag("no_relief_with_rest", self.latent("no_relief", load))
        worsening_score = self.latent("worsening", (0.3, severity))
        worsening = self.cut(
            "worsening", lambda c: (worsening_score > c, _every(c)), WORSENING_RATE
        )
        constant_score = self.latent("constant", load)
        constant = self.cut(
            "progressive_pain", lambda c: ((constant_score > c) | worsening, _every(c))
        )
        improving = (
            ~worsening
            & ~constant
            & self.chance(
                "improving", self.by_dx({"disc_herniation": 0.7, "nonspecific": 0.5}, 0.25)
            )
        )
        lying = self.chance("lying", sigmoid(-1.6 + 1.0 * severity + 0.6 * self.malignant))
        pain_score = np.round(
            4.8 + 1.3 * severity + self.by_dx({"fracture": 1.5, "disc_herniation": 1.0})
            + 1.4 * self.z["pain_score"]
        )  # fmt: skip
        self.values.update(
            night_pain=night,
            no_relief_with_rest=no_relief,
            constant_pain=constant,
            pain_trajectory=np.where(worsening, 2, np.where(improving, 0, 1)),
            pain_worse_lying_down=lying,
            pain_score=np.clip(pain_score, 0, 10).astype(np.int64),
        )

    def _duration(self, severity: FloatArray, young: BoolArray) -> None:
        """Weeks of pain and failed conservative treatment (only after 4 weeks)."""
        shift = self.by_dx({"disc_herniation": -0.5, "fracture": -0.8, "primary_tumour": 0.4})
        score = self.latent("duration", (0.35, severity)) + shift
        self.flag("duration_over_4_weeks", score)
        weeks = 4 * np.exp(0.8 * np.minimum(score - self.at("duration_over_4_weeks"), 6.0))
        duration = np.minimum(np.ceil(10 * weeks) / 10, 520)  # ceil: "> 4" is "above the cut"
        long_pain = duration > 4
        failed_score = self.latent("failed", (0.4, severity)) + YOUNG_CANCER_SHIFT * young
        failed = self.cut(
            "failed_conservative_treatment", lambda c: ((failed_score > c) & long_pain, _every(c))
        )
        self.values.update(pain_duration_weeks=duration, failed_conservative_treatment=failed)

    def _history(self, age: IntArray, young: BoolArray) -> BoolArray:
        """A known cancer: commoner with age; primary tumours and myeloma are mostly first seen."""
        shift = self.by_dx(
            {"metastasis": 0.6, "primary_tumour": -1.2, "myeloma": -0.6, "infection": 0.5}
        )
        older = (age - 55) / 15
        score = 0.45 * older + self.z["history"] + shift + YOUNG_CANCER_SHIFT * young
        history = self.flag("history_of_cancer", score)
        self.values["history_of_cancer"] = history
        return history

    def _weight(self, female: BoolArray, systemic: FloatArray, young: BoolArray) -> BoolArray:
        """Weight loss from the systemic factor; weight and kilograms lost."""
        score = self.latent("weight_loss", (SYSTEMIC_LOADING, systemic))
        loss = self.flag("unexplained_weight_loss", score + YOUNG_CANCER_SHIFT * young)
        weight = np.clip(np.where(female, 68, 83) + 14 * self.z["weight"], 40, 180)
        kilograms = np.minimum(1.0 + 4.0 * np.abs(self.z["weight_loss"]), 0.25 * weight)
        self.values.update(
            weight_kg=np.round(weight, 1),
            unexplained_weight_loss_kg=np.where(loss, np.round(kilograms, 1), 0.0),
        )
        return loss

    def _systemic(self, systemic: FloatArray, severity: FloatArray) -> None:
        """Fatigue and fever, then ESR, ordered more often the more a cancer is suspected."""
        load = (SYSTEMIC_LOADING, systemic)
        infection = self.is_dx("infection")
        fatigue = self.flag("fatigue", self.latent("fatigue", load, (0.3, severity)))
        fever = self.flag("fever", self.latent("fever", load) + 3.0 * infection)
        v = self.values
        suspicion = (
            (v["age"] >= 50).astype(float) + v["history_of_cancer"] + fatigue + fever
            + (v["unexplained_weight_loss_kg"] > 0) + v["night_pain"]
        )  # fmt: skip
        ordered = self.chance("esr_ordered", sigmoid(-1.9 + 0.9 * suspicion))
        score = self.latent("esr", load) + self.by_dx(
            {"infection": 2.0, "myeloma": 1.0, "fracture": 0.3}
        )
        self.cut("esr_20_or_more", lambda c: (score > c, ordered))
        esr = np.floor(20 * np.exp(0.5 * np.minimum(score - self.at("esr_20_or_more"), 10)))
        self.values.update(fatigue=fatigue, fever=fever, esr_mm_per_h=np.clip(esr, 0, 200))
        self.missing["esr_mm_per_h"] = ~ordered

    def _location_and_neurology(self, severity: FloatArray) -> None:
        """Region; a deficit, examined more often when there are symptoms; its findings."""
        region_shift = {"fracture": 1.2, "myeloma": 0.4, "metastasis": 0.4, "disc_herniation": -1.5}
        thoracic = self.flag("thoracic_pain", self.z["thoracic"] + self.by_dx(region_shift))
        cumulative = np.array([0.12, 0.12, 0.92, 1.0])  # cervical, (thoracic), lumbar, sacral
        other = np.searchsorted(cumulative, self.u["region"], side="right")
        self.values["pain_region"] = np.where(thoracic, _REGIONS.index("thoracic"), other)
        disc = self.is_dx("disc_herniation")
        score = self.latent("deficit", (0.25, severity)) + self.by_dx(
            {"disc_herniation": 2.2, "infection": 0.8, "fracture": 0.3}
        )

        def examined(c: FloatArray) -> tuple[BoolArray, BoolArray, BoolArray]:
            deficit = score > c
            numbness = self.chance("numbness", np.where(deficit, 0.7, np.where(disc, 0.45, 0.1)))
            exam = self.chance("exam", np.where(deficit | numbness, 0.95, 0.45))
            return deficit, exam, numbness

        self.cut("any_neuro_deficit", lambda c: examined(c)[:2])
        deficit, exam, numbness = examined(self.at("any_neuro_deficit"))
        weakness = deficit & self.chance("weakness", 0.7)
        sensory = deficit & self.chance("sensory", 0.6)
        gait = deficit & self.chance("gait", np.where(self.malignant, 0.6, 0.25))
        weakness |= deficit & ~sensory & ~gait
        sphincter = self.flag("bowel_bladder_dysfunction", self.z["sphincter"] + 2.5 * deficit)
        self.values.update(
            numbness_tingling=numbness, limb_weakness=weakness, sensory_loss=sensory,
            gait_difficulty=gait, bowel_bladder_dysfunction=sphincter,
        )  # fmt: skip
        for name in ("limb_weakness", "sensory_loss", "gait_difficulty"):
            self.missing[name] = ~exam

    def _smoking(self, age: IntArray, primary: IntArray) -> None:
        older = (age - 55) / 15
        lung, kidney = primary == _CT["lung"], primary == _CT["kidney"]
        current = self.flag(
            "current_smoker", self.z["smoker"] + 1.6 * lung + 0.4 * kidney - 0.35 * older
        )
        former = ~current & self.chance("former", sigmoid(-0.8 + 0.6 * older + 1.2 * lung))
        status = np.where(current, 2, np.where(former, 1, 0))
        years = np.maximum(age - 17, 1) * np.where(current, 0.8, 0.4)
        pack_years = np.round(np.minimum(years * (0.4 + 0.6 * self.u["former"]), 200), 1)
        self.values.update(smoking_status=status, pack_years=np.where(status == 0, 0.0, pack_years))

    def _cancer_type(
        self, age: IntArray, female: BoolArray, primary: IntArray, history: BoolArray
    ) -> None:
        """The known cancer's type (the metastasis's primary where there is one) and its age."""
        sites = np.array([_CT[name] for name in SURVIVOR_MIX])
        cumulative = np.cumsum(list(SURVIVOR_MIX.values()))
        survivor = sites[np.searchsorted(cumulative / cumulative[-1], self.u["survivor"])]
        survivor = np.where(female & (survivor == _CT["prostate"]), _CT["breast"], survivor)
        survivor = np.where(~female & (survivor == _CT["breast"]), _CT["prostate"], survivor)
        myeloma = self.is_dx("myeloma") & self.chance("myeloma_known", 0.6)
        kind = np.where(primary >= 0, primary, np.where(myeloma, _CT["myeloma"], survivor))
        mean_years = np.where(self.is_dx("metastasis"), 2.5, 7.0)
        years = np.minimum(mean_years * -np.log1p(-self.u["survivor"]), age - 18)
        self.values.update(
            cancer_type=np.where(history, kind, -1),
            years_since_cancer_diagnosis=np.floor(10 * years) / 10,
        )

    def _background(self) -> None:
        """Immunosuppression, steroids and recent trauma, by cause."""
        self.values.update(
            immunosuppressed=self.chance(
                "immunosuppressed", self.by_dx({"infection": 0.30, "myeloma": 0.15}, 0.04)
            ),
            steroid_use=self.chance("steroids", self.by_dx({"fracture": 0.25}, 0.04)),
            recent_trauma=self.chance("trauma", self.by_dx({"fracture": 0.40}, 0.06)),
        )

    def _record(self, weight_loss: BoolArray) -> None:
        """What goes unrecorded: at random at each field's rate, and weight when weight is lost."""
        chance = self.rng.random((len(FIELDS), self.n))
        for row, name in enumerate(FIELDS):
            at_random = chance[row] < MISSING[name]
            self.missing[name] = self.missing.get(name, np.zeros(self.n, dtype=bool)) | at_random
        weighed = self.chance("weighed", np.where(weight_loss, 0.85, 0.35))
        self.missing["weight_kg"] |= ~weighed
        unknown = self.missing["history_of_cancer"] | ~self.values["history_of_cancer"]
        self.missing["cancer_type"] |= unknown
        self.missing["years_since_cancer_diagnosis"] |= unknown

    def frame(self) -> pd.DataFrame:
        return case_frame(self.values, self.missing, self.malignant.astype(np.int64), self.dx)
