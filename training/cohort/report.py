"""How a case frame compares with the calibration targets: flags, prevalence, diagnosis mix."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.record import DIAGNOSES, DIAGNOSIS, LABEL
from features.setting import SETTING_PREVALENCE
from training.cohort.targets import (
    PREVALENCE_REL_TOLERANCE,
    SHARE_TARGETS,
    TARGETS,
    TOLERANCE,
    ShareTarget,
    Target,
)

REPORT_COLUMNS = [
    "flag", "status", "target_sensitivity", "sensitivity", "target_specificity", "specificity",
    "target_lr_positive", "lr_positive", "n_malignant", "n_other", "within_tolerance",
]  # fmt: skip


def cohort_report(df: pd.DataFrame, targets: tuple[Target, ...] = TARGETS) -> pd.DataFrame:
    """Target against observed sensitivity, specificity and LR+ of every red flag in `df`.

    Each flag is measured among the cases where its fields are recorded (`n_malignant`,
    `n_other`); `within_tolerance` is |observed - target| <= TOLERANCE on both, except for a
    sensitivity floor (the Deyo rule), which only has to be reached.
    """
    malignant = _label(df)
    rows = []
    for target in targets:
        positive, recorded = target.evaluate(df)
        n_malignant = int((malignant & recorded).sum())
        n_other = int((~malignant & recorded).sum())
        sensitivity = _share(positive, malignant & recorded)
        specificity = 1.0 - _share(positive, ~malignant & recorded)
        rows.append(
            {
                "flag": target.name,
                "status": target.status,
                "target_sensitivity": target.sensitivity,
                "sensitivity": sensitivity,
                "target_specificity": target.specificity,
                "specificity": specificity,
                "target_lr_positive": target.lr_positive,
                "lr_positive": _ratio(sensitivity, 1.0 - specificity),
                "n_malignant": n_malignant,
                "n_other": n_other,
                "within_tolerance": _within(target, sensitivity, specificity),
            }
        )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


SHARE_COLUMNS = [
    "share_target",
    "status",
    "target_share",
    "share",
    "n_subgroup",
    "within_tolerance",
]


def share_report(
    df: pd.DataFrame, targets: tuple[ShareTarget, ...] = SHARE_TARGETS
) -> pd.DataFrame:
    """Target against observed share of a red flag within a subgroup of the malignant cases.

    The subgroups are small (a fifth of the cancers), so `within_tolerance` allows the larger of
    TOLERANCE and three standard errors of the target share at the observed `n_subgroup`.
    """
    _label(df)
    rows = []
    for target in targets:
        among, positive = target.evaluate(df)
        n = int(among.sum())
        share = _share(positive, among)
        allowed = max(TOLERANCE, 3 * math.sqrt(target.share * (1 - target.share) / max(n, 1)))
        rows.append(
            {
                "share_target": target.name,
                "status": target.status,
                "target_share": target.share,
                "share": share,
                "n_subgroup": n,
                "within_tolerance": bool(n > 0 and abs(share - target.share) <= allowed),
            }
        )
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


def prevalence(df: pd.DataFrame) -> float:
    """Share of cases with spinal malignancy."""
    return float(_label(df).mean())


def prevalence_within_tolerance(df: pd.DataFrame, setting: str) -> bool:
    """Whether the prevalence in `df` is within 10% (relative) of `setting`'s target."""
    target = SETTING_PREVALENCE[setting]
    return abs(prevalence(df) - target) <= PREVALENCE_REL_TOLERANCE * target


def diagnosis_mix(df: pd.DataFrame) -> pd.Series:
    """Share of each diagnosis, every diagnosis listed (0 where absent)."""
    if DIAGNOSIS not in df.columns:
        raise ValueError(f"diagnosis_mix: the frame has no '{DIAGNOSIS}' column")
    counts = df[DIAGNOSIS].value_counts().reindex(list(DIAGNOSES), fill_value=0)
    return (counts / len(df)).astype(np.float64).rename("share")


def format_report(df: pd.DataFrame, setting: str | None = None) -> str:
    """Plain-text report of a cohort: flag table, prevalence and diagnosis mix.

    Fixed-width, so it reads the same in a terminal, a log and a Markdown code block.
    """
    lines = [
        f"Cohort of {len(df):,} cases" + (f" ({setting})" if setting else ""),
        f"Red flags against the primary-care targets (tolerance +/-{TOLERANCE:.2f}; the Deyo rule's"
        " sensitivity is a floor; each flag measured where its fields are recorded)",
    ]
    if setting not in (None, "primary_care"):
        lines.append("The targets are primary-care figures: other settings need not match them.")
    header = ("flag", "status", "sens", "target", "spec", "target", "LR+", "target", "n_mal", "ok")
    lines += ["", _REPORT_ROW.format(*header)]
    report = cohort_report(df, TARGETS)
    for row, target in zip(report.to_dict("records"), TARGETS, strict=True):
        floor = ">=" if target.sensitivity_is_floor else ""
        lines.append(
            _REPORT_ROW.format(
                row["flag"],
                row["status"],
                f"{row['sensitivity']:.3f}",
                f"{floor}{row['target_sensitivity']:.3f}",
                f"{row['specificity']:.3f}",
                f"{row['target_specificity']:.3f}",
                f"{row['lr_positive']:.1f}",
                f"{row['target_lr_positive']:.1f}",
                row["n_malignant"],
                "yes" if row["within_tolerance"] else "NO",
            )  # fmt: skip
        )
    lines += ["", "Red flags travelling together among the malignant cases:", ""]
    lines.append(_SHARE_ROW.format("share", "status", "share", "target", "n", "ok"))
    for row in share_report(df).to_dict("records"):
        lines.append(
            _SHARE_ROW.format(
                row["share_target"],
                row["status"],
                f"{row['share']:.3f}",
                f"{row['target_share']:.3f}",
                row["n_subgroup"],
                "yes" if row["within_tolerance"] else "NO",
            )
        )
    lines += ["", f"Prevalence: {prevalence(df):.4f}"]
    if setting is not None:
        ok = "yes" if prevalence_within_tolerance(df, setting) else "NO"
        expected = SETTING_PREVALENCE[setting]
        lines[-1] += f" (target {expected:.4f}, within {PREVALENCE_REL_TOLERANCE:.0%}: {ok})"
    if DIAGNOSIS in df.columns:
        lines += ["", "Diagnosis mix:"]
        lines += [f"  {name:<16} {share:7.4f}" for name, share in diagnosis_mix(df).items()]
    lines += ["", "Definitions (status: source):"]
    for target in TARGETS:
        lines.append(f"  {target.name}: {target.definition}")
        lines.append(f"      {target.status}: {target.source}")
    for share in SHARE_TARGETS:
        lines.append(f"  {share.name}: share with {share.flag} among {share.subgroup}")
        lines.append(f"      {share.status}: {share.source}")
    return "\n".join(lines) + "\n"


_REPORT_ROW = "{:<30} {:<9} {:>6} {:>7} {:>6} {:>7} {:>5} {:>6} {:>6} {:>3}"
_SHARE_ROW = "{:<36} {:<9} {:>6} {:>7} {:>6} {:>3}"


def _label(df: pd.DataFrame) -> npt.NDArray[np.bool_]:
    if LABEL not in df.columns:
        raise ValueError(f"cohort_report: the frame has no '{LABEL}' column")
    return np.asarray(df[LABEL].to_numpy(dtype=np.int64) == 1)


def _share(positive: npt.NDArray[np.bool_], among: npt.NDArray[np.bool_]) -> float:
    count = int(among.sum())
    return float(positive[among].sum() / count) if count else math.nan


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def _within(target: Target, sensitivity: float, specificity: float) -> bool:
    if target.sensitivity_is_floor:
        sensitivity_ok = sensitivity >= target.sensitivity
    else:
        sensitivity_ok = abs(sensitivity - target.sensitivity) <= TOLERANCE
    return bool(sensitivity_ok and abs(specificity - target.specificity) <= TOLERANCE)
