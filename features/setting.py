"""Clinical settings and their prevalence of spinal malignancy: a known prior shift of the model.

The prevalences are the published pre-test probabilities (docs/references.md). A model calibrated
at one prevalence moves to another by adding the difference of their log-odds to every case's
log-odds (and to the explanation's base value), which keeps the explanation additive.
"""

from __future__ import annotations

from enum import StrEnum

from features.log_odds import logit


class ClinicalSetting(StrEnum):
    """Where the patient is seen; each has its own prevalence and simulated mix of causes."""

    primary_care = "primary_care"
    emergency = "emergency"
    oncology = "oncology"


SITE = "site"


class ServingSetting(StrEnum):
    """What a prediction may be shifted to: a clinical setting, or the site's own prevalence
    (``REDFLAG_SITE_PREVALENCE``, estimated by ``redflag prevalence``). Serving only: the simulator
    and training know the clinical settings alone."""

    primary_care = ClinicalSetting.primary_care.value
    emergency = ClinicalSetting.emergency.value
    oncology = ClinicalSetting.oncology.value
    site = SITE


SETTING_PREVALENCE: dict[str, float] = {
    # Deyo & Diehl 1988: 13/1,975; Cochrane 2013 pooled: 21/6,622 (range 0.3-0.7%).
    ClinicalSetting.primary_care.value: 0.007,
    # Galliker et al., Am J Med 2020: 22 studies, 41,320 patients (range 0-2.1%).
    ClinicalSetting.emergency.value: 0.015,
    # He et al., Eur Spine J 2020: 24.5% of symptomatic newly diagnosed patients.
    ClinicalSetting.oncology.value: 0.25,
}
SETTINGS: tuple[str, ...] = tuple(setting.value for setting in ClinicalSetting)


def prior_shift(from_prevalence: float, to_prevalence: float) -> float:
    """Log-odds to add to move a calibrated model from one prevalence to another."""
    return float(logit(to_prevalence) - logit(from_prevalence))


def check_setting(setting: str, option: str = "setting") -> str:
    """``setting`` when it names a clinical setting; a ValueError naming ``option`` otherwise."""
    if setting not in SETTING_PREVALENCE:
        raise ValueError(f"{option} must be one of {', '.join(SETTINGS)}, got '{setting}'")
    return str(setting)


def setting_shift(train_prevalence: float, setting: str | None) -> tuple[float, float]:
    """(log-odds shift, prevalence) moving a model calibrated at ``train_prevalence`` to
    ``setting``; no shift without one."""
    if setting is None:
        return 0.0, train_prevalence
    prevalence = SETTING_PREVALENCE[check_setting(setting)]
    return prior_shift(train_prevalence, prevalence), prevalence
