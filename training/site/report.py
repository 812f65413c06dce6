"""The validation report: one self-contained HTML file, its plots embedded as base64 PNGs, so it
opens offline in any browser and can be mailed or archived as it is."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: a report must never need a display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from features.intended_use import NOT_A_MEDICAL_DEVICE  # noqa: E402

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;"
    "padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child"
    "{text-align:left}.flag{color:#b00020;font-weight:600}img{max-width:100%}"
    ".note{background:#fff8e1;padding:.5rem 1rem;border-left:4px solid #f0b400}"
)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{encoded}">'


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, list):
        return html.escape(", ".join(map(str, value))) or "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[str], digits: int = 3) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_num(row.get(c), digits)}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _roc_plot(figures: dict[str, Any]) -> str:
    figure, ax = plt.subplots(figsize=(5, 5))
    m = figures["metrics"]
    ax.plot(figures["roc"]["fpr"], figures["roc"]["tpr"], label=f"model {_num(m['auroc'])}")
    for row in figures["comparators"]:
        ax.plot(row["roc"]["fpr"], row["roc"]["tpr"], label=f"{row['score']} {_num(row['auroc'])}")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC on the site's cases")
    ax.legend(loc="lower right")
    return _png(figure)


def _calibration_plot(figures: dict[str, Any]) -> str:
    rows = figures["calibration_curve"]
    predicted = [r["mean_predicted"] for r in rows]
    floor = max(min(predicted) / 2, 1e-5)
    figure, ax = plt.subplots(figsize=(5, 5))
    ax.fill_between(
        predicted,
        [max(r["ci_low"], floor) for r in rows],
        [max(r["ci_high"], floor) for r in rows],
        alpha=0.25,
        label="95% interval (Wilson)",
    )
    ax.plot(predicted, [max(r["observed"], floor) for r in rows], "o-", label="observed")
    ax.plot([floor, 1], [floor, 1], "--", color="grey", linewidth=0.8, label="ideal")
    ax.set(xscale="log", yscale="log", xlabel="mean predicted risk", ylabel="observed rate")
    ax.set_title("Calibration (deciles of predicted risk)")
    ax.legend(loc="upper left")
    return _png(figure)


def _decision_plot(figures: dict[str, Any]) -> str:
    rows = figures["decision_curve"]
    t = [r["threshold"] for r in rows]
    figure, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(t, [r["model"] for r in rows], label="model")
    ax.plot(t, [r["treat_all"] for r in rows], label="treat all")
    ax.plot(t, [0.0] * len(rows), color="black", linewidth=0.8, label="treat none")
    top = max(max(r["model"] for r in rows), rows[0]["treat_all"], 1e-4)
    ax.set(
        xscale="log",
        ylim=(-0.25 * top, 1.1 * top),
        xlabel="threshold probability",
        ylabel="net benefit",
        title="Decision curve",
    )
    ax.legend(loc="upper right")
    return _png(figure)


def _headline(figures: dict[str, Any]) -> str:
    m = figures["metrics"]
    rows = [
        (
            "AUROC (95% CI)",
            f"{_num(m['auroc'])} ({_num(m['auroc_ci_low'])}-{_num(m['auroc_ci_high'])})",
        ),
        (
            "AUPRC (95% CI)",
            f"{_num(m['auprc'])} ({_num(m['auprc_ci_low'])}-{_num(m['auprc_ci_high'])})",
        ),
        ("Brier", _num(m["brier"], 5)),
        (
            "Calibration-in-the-large (95% CI)",
            f"{_num(m['calibration_intercept'])} "
            f"({_num(m['calibration_intercept_ci_low'])} to "
            f"{_num(m['calibration_intercept_ci_high'])})",
        ),
        (
            "Calibration slope (95% CI)",
            f"{_num(m['calibration_slope'])} "
            f"({_num(m['calibration_slope_ci_low'])} to {_num(m['calibration_slope_ci_high'])})",
        ),
        ("ECE", _num(m["ece"], 4)),
    ]
    return "<table>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def render_report(figures: dict[str, Any]) -> str:
    """The HTML report of a validation's ``figures`` (``training.site.validate.site_figures``)."""
    model, data = figures["model"], figures["data"]
    flags = "".join(f'<li class="flag">{html.escape(f)}</li>' for f in figures["subgroups_flagged"])
    failed = "".join(f'<li class="flag">{html.escape(f)}</li>' for f in figures["gates"]["failed"])
    subgroup_columns = [
        *("variable", "group", "n", "n_positive", "auroc", "calibration_intercept"),
        *("calibration_slope", "sensitivity", "ppv", "flagged", "withheld"),
    ]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>redflag validation: "
        f"{html.escape(str(model['name']))} v{html.escape(str(model['version']))}</title>"
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Local validation of {html.escape(str(model['name']))} version "
        f"{html.escape(str(model['version']))}</h1>",
        f"<p>{data['n_cases']} cases, {data['n_events']} events, from "
        f"<code>{html.escape(data['file'])}</code> (digest <code>{data.get('digest', '')}"
        f"</code>); scored at prevalence {_num(figures['scored_at_prevalence'], 4)}"
        f"{' (setting ' + html.escape(figures['setting']) + ')' if figures['setting'] else ''}."
        f"</p><p class='note'>{html.escape(NOT_A_MEDICAL_DEVICE)}</p>",
        f"<ul>{failed}</ul>" if failed else "",
        "<h2>Discrimination and calibration</h2>",
        _headline(figures),
        _roc_plot(figures),
        _calibration_plot(figures),
        "<h2>Clinical utility</h2>",
        _decision_plot(figures),
        "<h2>Classification</h2>",
        _table(
            figures["classification"],
            ["rule", "sensitivity", "specificity", "ppv", "npv", "flagged_fraction"],
        ),
        "<h2>Clinical rules on the same cases</h2>",
        _table(
            figures["comparators"], ["score", "auroc", "auroc_ci_low", "auroc_ci_high", "auprc"]
        ),
        "<h2>Subgroups</h2><p>Cells with fewer than 10 events or 100 cases are withheld; a "
        "subgroup is flagged when its sensitivity or PPV at the high band falls below 80% of the "
        "overall figure.</p>",
        f"<ul>{flags}</ul>" if flags else "<p>None flagged.</p>",
        _table(figures["subgroups"], subgroup_columns),
        "</body></html>",
    ]
    return "\n".join(parts)
