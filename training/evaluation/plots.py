"""Evaluation plots of a run, written as PNG files (matplotlib, Agg backend; no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: a training run must never need a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from features.catalogue import RED_FLAGS  # noqa: E402
from training.evaluation.external import ExternalValidity  # noqa: E402
from training.evaluation.metrics import Evaluation  # noqa: E402

Array = npt.NDArray[np.float64]
SHAP_SAMPLE = 2000
PLOT_NAMES = (
    "roc.png",
    "precision_recall.png",
    "calibration.png",
    "decision_curve.png",
    "shap_summary.png",
    "shap_waterfall.png",
)


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")  # shap plots overflow their axes
    plt.close(figure)
    return path


def roc_plot(y: Array, p: Array, evaluation: Evaluation, path: Path) -> Path:
    """ROC curve with the AUROC and its interval in the legend."""
    fpr, tpr, _ = roc_curve(y, p)
    m = evaluation.metrics
    figure, ax = plt.subplots(figsize=(5, 5))
    label = f"AUROC {m['auroc']:.3f} ({m['auroc_ci_low']:.3f}-{m['auroc_ci_high']:.3f})"
    ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC (test split)")
    ax.legend(loc="lower right")
    return _save(figure, path)


def precision_recall_plot(y: Array, p: Array, evaluation: Evaluation, path: Path) -> Path:
    """Precision-recall curve against the prevalence line."""
    precision, recall, _ = precision_recall_curve(y, p)
    figure, ax = plt.subplots(figsize=(5, 5))
    ax.plot(recall, precision, label=f"AUPRC {evaluation.metrics['auprc']:.3f}")
    ax.axhline(float(np.mean(y)), linestyle="--", color="grey", linewidth=0.8, label="prevalence")
    ax.set(xlabel="recall (sensitivity)", ylabel="precision (PPV)", title="Precision-recall")
    ax.legend(loc="upper right")
    return _save(figure, path)


def calibration_plot(
    evaluation: Evaluation, path: Path, title: str = "Calibration (deciles of predicted risk)"
) -> Path:
    """Observed rate against mean predicted risk per equal-count bin, on log axes."""
    rows = evaluation.calibration
    predicted = [r["mean_predicted"] for r in rows]
    observed = [r["observed"] for r in rows]
    m = evaluation.metrics
    figure, ax = plt.subplots(figsize=(5, 5))
    floor = max(min(predicted + [o for o in observed if o > 0] or [1e-4]) / 2, 1e-5)
    ax.plot([floor, 1], [floor, 1], "--", color="grey", linewidth=0.8, label="ideal")
    label = f"slope {m['calibration_slope']:.2f}, intercept {m['calibration_intercept']:.2f}"
    ax.plot(predicted, np.maximum(observed, floor), "o-", label=label)
    ax.set(xscale="log", yscale="log", xlabel="mean predicted risk", ylabel="observed rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return _save(figure, path)


EXTERNAL_PLOT = "external_calibration.png"


def external_calibration_plot(validity: ExternalValidity, path: Path) -> Path:
    """The calibration plot of the model on the external cohort, titled with its AUROC."""
    metrics = {
        "calibration_slope": validity.calibration_slope,
        "calibration_intercept": validity.calibration_intercept,
    }
    evaluation = Evaluation(metrics, 0.0, validity.calibration, [])
    title = (
        f"External cohort: AUROC {validity.auroc:.3f}, "
        f"{validity.share_retained:.1%} of its ceiling {validity.ceiling_auroc:.3f}"
    )
    return calibration_plot(evaluation, path, title)


def decision_curve_plot(evaluation: Evaluation, path: Path) -> Path:
    """Net benefit of the model against treat-all and treat-none (Vickers & Elkin 2006)."""
    rows = evaluation.decision_curve
    t = [r["threshold"] for r in rows]
    model = [r["model"] for r in rows]
    figure, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(t, model, label="model")
    ax.plot(t, [r["treat_all"] for r in rows], label="treat all")
    ax.plot(t, [0.0 for _ in rows], label="treat none", color="black", linewidth=0.8)
    ax.axvline(evaluation.threshold, linestyle=":", color="grey", label="operating threshold")
    top = max(max(model), float(rows[0]["treat_all"]), 1e-4)
    ax.set(xscale="log", ylim=(-0.25 * top, 1.1 * top))
    ax.set(xlabel="threshold probability", ylabel="net benefit", title="Decision curve")
    ax.legend(loc="upper right")
    return _save(figure, path)


def _explanation(base: Array, contributions: Array, matrix: Array) -> object:
    import shap

    # The model's own exact contributions and base values (not the explainer's
    # expected_value), so the plots show what the API returns.
    return shap.Explanation(
        values=contributions,
        base_values=base,
        data=matrix,
        feature_names=[flag.label for flag in RED_FLAGS],
    )


def shap_summary_plot(
    base: Array, contributions: Array, matrix: Array, path: Path, seed: int = 0
) -> Path:
    """Beeswarm of the contributions over (a sample of) the test cases."""
    import shap

    rows = np.arange(len(base))
    if len(rows) > SHAP_SAMPLE:
        rows = np.sort(np.random.default_rng(seed).choice(rows, SHAP_SAMPLE, replace=False))
    explanation = _explanation(base[rows], contributions[rows], matrix[rows])
    plt.figure()
    shap.plots.beeswarm(explanation, max_display=15, show=False)
    figure = plt.gcf()
    figure.set_size_inches(9, 7)
    figure.suptitle("Contributions to calibrated log-odds (test split)")
    return _save(figure, path)


def shap_waterfall_plot(
    base: Array, contributions: Array, matrix: Array, row: int, path: Path
) -> Path:
    """Waterfall of one case: from the base value to its log-odds, feature by feature."""
    import shap

    explanation = _explanation(base, contributions, matrix)
    plt.figure()
    shap.plots.waterfall(explanation[row], max_display=12, show=False)  # type: ignore[index]
    figure = plt.gcf()
    figure.set_size_inches(9, 6)
    figure.suptitle("One test case, in calibrated log-odds")
    return _save(figure, path)


def write_plots(
    y: Array,
    p: Array,
    evaluation: Evaluation,
    explanation: tuple[Array, Array, Array],
    example_row: int,
    directory: Path,
    seed: int = 0,
) -> list[Path]:
    """Every plot of a run into ``directory``, in ``PLOT_NAMES`` order."""
    matrix, base, contributions = explanation
    names = dict(zip(("roc", "pr", "cal", "dc", "sum", "wf"), PLOT_NAMES, strict=True))
    return [
        roc_plot(y, p, evaluation, directory / names["roc"]),
        precision_recall_plot(y, p, evaluation, directory / names["pr"]),
        calibration_plot(evaluation, directory / names["cal"]),
        decision_curve_plot(evaluation, directory / names["dc"]),
        shap_summary_plot(base, contributions, matrix, directory / names["sum"], seed),
        shap_waterfall_plot(base, contributions, matrix, example_row, directory / names["wf"]),
    ]
