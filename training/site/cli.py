"""The site commands of ``redflag``: validate, recalibrate, prevalence, drift.

Plain functions with Typer annotations, registered by the root app (``training.cli``). Bad input
is one line, ``error: ...``, exit 2, with nothing logged; a failed ``--fail-under`` gate is exit 1,
after every output has been written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features import LABEL
from features.drift import DEFAULT_MIN_CASES
from features.setting import ClinicalSetting
from serving.cli import SETTING_HELP, fail, quiet_mlflow
from training.defaults import RECALIBRATION_HOLDOUT, RecalibrationMethod

DataOption = Annotated[Path, typer.Option("--data", help="The site's cases (.csv or .parquet).")]
LabelOption = Annotated[str, typer.Option(help="Label column (0/1) of --data.")]
ModelOption = Annotated[
    str | None, typer.Option(help="Model to take to the site [default: the champion].")
]


def _errors() -> tuple[type[Exception], ...]:
    from features.loader import ModelUnavailableError
    from training.data import CaseFileError
    from training.site.inputs import SiteError

    return (CaseFileError, ModelUnavailableError, SiteError, ValueError, OSError)


def validate(
    data: DataOption,
    label: LabelOption = LABEL,
    model_uri: ModelOption = None,
    setting: Annotated[
        ClinicalSetting | None, typer.Option(help=SETTING_HELP + " (scored at its prevalence).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every figure here (JSON).")
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(help="Gate, e.g. auroc=0.80,slope_low=0.8,slope_high=1.2: exit 1 if missed."),
    ] = None,
    external_cases: Annotated[
        int | None,
        typer.Option(
            help="Cases of the simulated external cohort also scored (0: none) "
            "[default: as the model's training run]."
        ),
    ] = None,
) -> None:
    """Evaluate a registered model on the site's labelled cases (TRIPOD+AI, subgroup audit)."""
    quiet_mlflow()
    from training.site.validate import (
        ValidationOptions,
        parse_gates,
        summary_lines,
        validate_site,
    )

    try:
        options = ValidationOptions(
            data, label, model_uri, setting.value if setting else None, report, json_out,
            parse_gates(fail_under or []), external_cases=external_cases,
        )  # fmt: skip
        result = validate_site(options)
    except _errors() as error:
        raise fail(str(error)) from None
    typer.echo("\n".join(summary_lines(result)))
    if result.failures:
        raise typer.Exit(code=1)


def recalibrate(
    data: DataOption,
    label: LabelOption = LABEL,
    method: Annotated[
        RecalibrationMethod, typer.Option(help="intercept, or logistic (needs 100 events).")
    ] = RecalibrationMethod.intercept,
    model_uri: ModelOption = None,
    holdout: Annotated[
        float, typer.Option(help="Share of the cases held out to report before and after.")
    ] = RECALIBRATION_HOLDOUT,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
) -> None:
    """Refit the final calibration on the site's cases; register it as the challenger."""
    quiet_mlflow()
    from training.site.recalibrate import RecalibrationOptions, recalibrate_site

    try:
        result = recalibrate_site(
            RecalibrationOptions(data, label, method.value, model_uri, holdout, seed)
        )
    except _errors() as error:
        raise fail(str(error)) from None
    typer.echo(f"version:     {result.version} (challenger), from version {result.source_version}")
    typer.echo(f"run id:      {result.run_id}")
    typer.echo(
        f"method:      {result.method}: log-odds -> {result.intercept:+.4f} + "
        f"{result.slope:.4f} x log-odds; calibrated at prevalence {result.prevalence:.4f}"
    )
    typer.echo(
        f"fitted on {result.fit['n_fit']} cases ({result.fit['events_fit']} events); held out "
        f"{result.fit['n_holdout']} ({result.fit['events_holdout']} events):"
    )
    typer.echo(f"  {'held-out figure':24s} {'before':>9s} {'after':>9s}")
    for name, before in result.before.items():
        after = result.after[name]
        shown = [f"{v:9.4f}" if v is not None else "      n/a" for v in (before, after)]
        typer.echo(f"  {name:24s} {shown[0]} {shown[1]}")


def prevalence(
    data: DataOption,
    model_uri: ModelOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Estimate the site's prevalence from the model's predictions alone (no labels needed)."""
    quiet_mlflow()
    from training.site.prevalence import prevalence_of_file

    try:
        estimate = prevalence_of_file(data, model_uri, seed=seed)
    except _errors() as error:
        raise fail(str(error)) from None
    typer.echo("\n".join(estimate.lines()))


def drift(
    data: DataOption,
    model_uri: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    min_cases: Annotated[
        int, typer.Option(help="Fewest cases to test.", min=1)
    ] = DEFAULT_MIN_CASES,
) -> None:
    """Compare a file's case mix with the model's training reference, feature by feature."""
    quiet_mlflow()
    from training.site.drift import drift_json, drift_of_file, format_drift

    try:
        report = drift_of_file(data, model_uri, min_cases)
    except _errors() as error:
        raise fail(str(error)) from None
    typer.echo(drift_json(report) if as_json else format_drift(report), nl=False)


COMMANDS = (validate, recalibrate, prevalence, drift)
