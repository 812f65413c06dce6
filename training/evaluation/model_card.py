"""The model card of a run (markdown), following the TRIPOD+AI reporting items that apply."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from features import DIAGNOSIS, LABEL
from features.intended_use import INTENDED_USE, NOT_A_MEDICAL_DEVICE, SIMULATED_DATA_WARNING
from features.interval import EvidenceInterval
from training.evaluation.external import ExternalValidity
from training.evaluation.metrics import Evaluation

MODEL_DESCRIPTIONS = {
    "xgboost": "Gradient-boosted trees (XGBoost) on the engineered red flags, monotone constraints "
    "from each red flag's clinical direction (a +1 flag not recorded is given a value between "
    "absent and present, so recording it present never lowers the estimate and recording it "
    "absent never raises it; flags without a direction keep XGBoost's own missing-value handling), "
    "never splitting on the `ignored_features` (by default the pain score, whose link to cancer "
    "only the simulator makes; docs/models.md), "
    "early-stopped and Platt-recalibrated on the validation split; explained with exact "
    "TreeSHAP scaled by the recalibration slope.",
    "logistic": "L2 logistic regression on the same engineered red flags (a +1 flag not recorded "
    "between absent and present and its weight kept at 0 or above; median imputation plus a "
    "missing indicator for flags without a direction; standardised), Platt-recalibrated on the "
    "validation split; "
    "explained exactly by its linear terms.",
    "deyo-rule": "The Deyo rule (Deyo & Diehl 1988: any of age 50 or over, previous cancer, "
    "unexplained weight loss, failed conservative treatment) mapped to a probability by a logistic "
    "recalibration on the validation split; no other learned weights.",
    "red-flag-count": "The number of red flags present, mapped to a probability by a logistic "
    "recalibration on the validation split; no other learned weights.",
}

LIMITATIONS = (
    "Trained and tested on simulated cases: the test metrics describe agreement with the "
    "simulator, and the external ones agreement with a second simulator holding the same "
    "published figures; neither is performance on patients. Expect lower discrimination at "
    "external validation on real cases (a median loss of 11.7% AUROC for models at high risk of "
    "bias, Venema et al. 2021).",
    "The published figures behind the simulator come from small cohorts (13 cancers in 1,975 "
    "primary-care patients in Deyo & Diehl 1988), so the targets themselves are uncertain.",
    "Probabilities are calibrated to the training prevalence; another setting needs the prior "
    "shift that serving applies, and local recalibration before any use.",
    "Subgroup results with few positive cases have wide uncertainty; groups with one class are "
    "reported without AUROC or calibration.",
    "Hyperparameters, early stopping and recalibration use the validation split only; the test "
    "split is untouched until this evaluation, but it comes from the same simulated population.",
)


@dataclass(frozen=True)
class CardInputs:
    """What a model card describes."""

    run_id: str
    model: str
    params: Mapping[str, Any]
    tags: Mapping[str, str]
    cases: pd.DataFrame
    setting: str | None
    simulated: bool
    split_sizes: Mapping[str, int]
    evaluation: Evaluation
    interval: EvidenceInterval | None = None
    external: ExternalValidity | None = None


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def cohort_section(cases: pd.DataFrame, setting: str | None) -> str:
    """The training data: the cohort report (red flags against their published targets,
    prevalence, diagnosis mix) and which fields were left unrecorded, and how often."""
    from training.cohort.report import format_report

    lines = ["```", format_report(cases, setting).rstrip(), "```", ""]
    missing = cases.drop(columns=[c for c in (LABEL, DIAGNOSIS) if c in cases]).isna().mean()
    missing = missing[missing > 0].sort_values(ascending=False)
    if len(missing):
        lines.append(
            "- fields not recorded: " + ", ".join(f"{k} {v:.0%}" for k, v in missing.items())
        )
    return "\n".join(lines) + "\n"


def render_model_card(inputs: CardInputs) -> str:
    """The markdown model card of one run."""
    # Each section is a list of lines ending in a blank one, so that joining them all once gives
    # the card; the training-data section ends in the cohort report, which brings its own newline.
    return "\n".join(
        [
            *_title(inputs),
            *_intended_use_section(),
            *_model_section(inputs),
            *_training_data_section(inputs),
            *_performance_section(inputs.evaluation),
            *_subgroups_section(inputs.evaluation),
            *external_section(inputs.external),
            *_interval_section(inputs.interval),
            *_limitations_section(),
            *_not_a_medical_device_section(),
        ]
    )


def _title(inputs: CardInputs) -> list[str]:
    return [
        f"# Model card: redflag spinal-malignancy risk ({inputs.model})",
        "",
        f"Run `{inputs.run_id}`; git commit `{inputs.tags.get('git_commit', 'unknown')}`; "
        f"data digest `{inputs.tags.get('data_digest', 'unknown')}`.",
        "",
    ]


def _intended_use_section() -> list[str]:
    return ["## Intended use", "", INTENDED_USE, "", f"**{NOT_A_MEDICAL_DEVICE}**", ""]


def _model_section(inputs: CardInputs) -> list[str]:
    # The model, the data and its seed are reported in the title and under training data.
    params = ", ".join(
        f"`{k}`={v}"
        for k, v in inputs.params.items()
        if k not in ("data", "data_digest", "model", "n_cases", "seed", "setting")
    )
    return [
        "## Model",
        "",
        MODEL_DESCRIPTIONS.get(inputs.model, inputs.model),
        "",
        "Parameters: " + params + ".",
        "",
    ]


def _training_data_section(inputs: CardInputs) -> list[str]:
    data = "simulated" if inputs.simulated else "user-supplied file"
    sizes = ", ".join(f"{name} {n:,}" for name, n in inputs.split_sizes.items())
    return [
        "## Training data",
        "",
        (SIMULATED_DATA_WARNING if inputs.simulated else "Cases from a user-supplied file.")
        + f" Source: {data}; setting: {inputs.setting or 'n/a'}; seed "
        f"{inputs.params.get('seed', 'n/a')}. Stratified split 60/20/20: {sizes}.",
        "",
        cohort_section(inputs.cases, inputs.setting),
    ]


def _performance_section(evaluation: Evaluation) -> list[str]:
    m, t = evaluation.metrics, evaluation.threshold
    return [
        "## Performance on the held-out test split",
        "",
        "| metric | value |",
        "|---|---|",
        f"| AUROC (95% bootstrap interval) | {_fmt(m['auroc'])} "
        f"({_fmt(m['auroc_ci_low'])}-{_fmt(m['auroc_ci_high'])}) |",
        f"| AUPRC | {_fmt(m['auprc'])} |",
        f"| Brier score | {_fmt(m['brier'], 5)} |",
        f"| log loss | {_fmt(m['log_loss'], 4)} |",
        f"| calibration intercept (in the large) | {_fmt(m['calibration_intercept'])} |",
        f"| calibration slope | {_fmt(m['calibration_slope'])} |",
        f"| expected calibration error (10 equal-count bins) | {_fmt(m['ece'], 4)} |",
        f"| observed rate / mean predicted | {_fmt(m['observed_rate'], 4)} / "
        f"{_fmt(m['mean_predicted'], 4)} |",
        f"| sensitivity at {t:g} | {_fmt(m['sensitivity_at_threshold'])} |",
        f"| specificity at {t:g} | {_fmt(m['specificity_at_threshold'])} |",
        f"| PPV at {t:g} | {_fmt(m['ppv_at_threshold'])} |",
        f"| NPV at {t:g} | {_fmt(m['npv_at_threshold'], 4)} |",
        f"| net benefit at {t:g} (treat all) | {_fmt(m['net_benefit_at_threshold'], 5)} "
        f"({_fmt(m['net_benefit_treat_all_at_threshold'], 5)}) |",
        f"| test cases (positive) | {int(m['n_cases']):,} ({int(m['n_positive']):,}) |",
        "",
        f"Operating threshold {t:g}: the lower edge of the serving `high` risk band. The decision "
        "curve (`plots/decision_curve.png`, `evaluation.json`) gives net benefit across thresholds "
        "against treat-all and treat-none.",
        "",
    ]


def _subgroups_section(evaluation: Evaluation) -> list[str]:
    return [
        "## Subgroups",
        "",
        "| variable | group | n | positive | AUROC | calibration intercept | calibration slope "
        "| note |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {row['variable']} | {row['group']} | {row['n']:,} | {row['n_positive']:,} | "
            f"{_fmt(row['auroc'])} | {_fmt(row['calibration_intercept'])} | "
            f"{_fmt(row['calibration_slope'])} | {row['skipped'] or ''} |"
            for row in evaluation.subgroups
        ),
        "",
    ]


EXTERNAL_MEANING = (
    "The external cohort keeps every published red-flag figure but is built differently from "
    "the training simulator (case-control sampling, a shared severity behind night pain, constant "
    "pain and no relief with rest, its own age and sex mix per cause, an ESR ordered when cancer "
    "is suspected; docs/simulator.md). The ceiling is the AUROC a flexible model fitted on that "
    "cohort itself reaches by 5-fold cross-validation; the share retained is how much of it this "
    "model keeps without seeing it. A loss here is structure learned from the training simulator "
    "rather than from the evidence. Both cohorts are simulated: neither figure is performance "
    "on patients, which only a validation on a site's own labelled cases can give."
)


def external_section(external: ExternalValidity | None) -> list[str]:
    """The model on the external cohort against that cohort's ceiling (``redflag train``)."""
    if external is None:
        return ["## External validity", "", "Not measured: this run skipped the check.", ""]
    return [
        "## External validity",
        "",
        EXTERNAL_MEANING,
        "",
        "| metric | value |",
        "|---|---|",
        f"| AUROC on the external cohort | {_fmt(external.auroc)} |",
        f"| ceiling AUROC (5-fold cross-validated boosted trees) | "
        f"{_fmt(external.ceiling_auroc)} |",
        f"| share of the ceiling retained | {external.share_retained:.1%} |",
        f"| calibration slope | {_fmt(external.calibration_slope)} |",
        f"| calibration intercept (in the large) | {_fmt(external.calibration_intercept)} |",
        f"| external cases (positive), seed | {external.n_cases:,} "
        f"({external.n_positive:,}), {external.seed} |",
        "",
        "Calibration on the external cohort: `plots/external_calibration.png`.",
        "",
    ]


def _interval_section(interval: EvidenceInterval | None) -> list[str]:
    """How each estimate's interval is made, why, and what it was measured to do."""
    if interval is None:
        return ["## Interval", "", "None: this run fitted no evidence members.", ""]
    lines = [
        "## Interval",
        "",
        f"Level {interval.level:.0%}; method: {interval.method}.",
        "",
        "Why: the published figures the simulator reproduces come from small cohorts (13 cancers "
        "among 1,975 patients in Deyo & Diehl 1988), so an interval that only reflected the "
        "simulated sample would shrink to nothing with a million cases. Redrawing every figure "
        "within its source's sampling uncertainty and refitting shows how far that evidence "
        "leaves each estimate open.",
        "",
        f"Coverage, leaving one member out (the chance a fresh redrawn world falls inside a "
        f"case's interval, on test cases): {_fmt(interval.coverage)}, with the members' "
        f"quantiles stretched {interval.scale:g}-fold to reach it.",
        "",
        "Width as fewer findings are recorded (test cases with all but some of their yes/no "
        "findings struck out):",
        "",
        "| yes/no findings recorded | median width (log-odds) |",
        "|---|---|",
        *(f"| {group} | {width:.3f} |" for group, width in interval.widths.items()),
        "",
    ]
    return lines


def _limitations_section() -> list[str]:
    return ["## Limitations", "", *(f"- {item}" for item in LIMITATIONS), ""]


def _not_a_medical_device_section() -> list[str]:
    return ["## Not a medical device", "", NOT_A_MEDICAL_DEVICE, ""]
