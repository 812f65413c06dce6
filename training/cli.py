"""The ``redflag`` command line: training's commands and serving's, assembled in one Typer app.

Every choice is an enum that Typer validates; any usage error is one line, ``error: ...``, and
exit 2. This is the one module of ``training`` that imports ``serving`` (import-linter checks it).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from features import LABEL
from features.risk import DEFAULT_RISK_THRESHOLDS
from features.setting import ClinicalSetting
from features.store import CHAMPION, DEFAULT_EXPERIMENT, default_model_uri
from serving.cli import SETTING_HELP, fail, predict, quiet_mlflow, serve

if TYPE_CHECKING:
    from features.model import ProgressFn
from training.defaults import (
    AUROC_TOLERANCE,
    CALIBRATION_TOLERANCE,
    COHORT_CASES,
    COHORT_SEED,
    DEFAULT_SEED,
    DEFAULT_SETTING,
    EXTERNAL_COHORT_CASES,
    FRESH_COHORT_CASES,
    FRESH_COHORT_SEED,
    INTERVAL_MEMBERS,
    TRAINING_CASES,
    Engine,
    ModelKind,
    OutputFormat,
    SortKey,
)
from training.site.cli import COMMANDS as SITE_COMMANDS


class _OneLineErrors(TyperGroup):
    """Reports a usage error of any command as ``error: <what was wrong>`` and exit 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.TyperException as error:  # Typer's usage errors, bad values and options
            raise fail(_usage_message(error)) from None


def _usage_message(error: Any) -> str:
    param = getattr(error, "param", None)
    message = str(getattr(error, "message", error))
    if param is None:
        return message
    name = param.opts[0] if param.opts else param.name
    described = getattr(param, "type_descriptor", None)
    if described is not None and described.is_choice and described.choices:
        known = ", ".join(str(choice) for choice in described.choices)
        given = re.search(r"'(.*?)' is not one of", message)
        return f"{name} must be one of {known}, got '{given[1] if given else '?'}'"
    return f"{name}: {message}"


app = typer.Typer(
    cls=_OneLineErrors,
    help="redflag: calibrated, explained probability of spinal malignancy in back pain. "
    "Research use only; trained on simulated cases; not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@contextmanager
def _bar(
    description: str, unit: str, total: int | None = None, terminal_only: bool = False
) -> Iterator[ProgressFn]:
    """A progress bar on stderr, shown once work is under way (not before a validation error);
    ``terminal_only`` keeps it off a pipe, where a command's one-line answer is read."""
    from tqdm import tqdm

    disable = None if terminal_only else False
    with tqdm(
        total=total, desc=description, unit=unit, file=sys.stderr, delay=0.5, disable=disable
    ) as bar:

        def progress(done: int, total: int) -> None:
            if total:
                bar.total = total
            bar.update(done - bar.n)

        yield progress


@contextmanager
def _training_bars(
    model: str, trials: int, members: int
) -> Iterator[tuple[ProgressFn, ProgressFn | None, ProgressFn | None]]:
    """The fit's bar; the tuning trials' and the evidence members' when there are any."""
    with ExitStack() as stack:
        unit = "round" if model == ModelKind.xgboost else "step"
        fitting = stack.enter_context(_bar(f"fitting {model}", unit, total=1))
        tuning = stack.enter_context(_bar("tuning", "trial", total=trials)) if trials else None
        evidence = (
            stack.enter_context(_bar("evidence members", "model", total=members))
            if members
            else None
        )
        yield fitting, tuning, evidence


def _champion_version() -> str | None:
    from training.tracking import connect, version_by_alias

    existing = version_by_alias(connect(), CHAMPION)
    return None if existing is None else str(existing.version)


@app.command()
def train(
    n_cases: Annotated[int, typer.Option(help="Simulated cases to train on.")] = TRAINING_CASES,
    seed: Annotated[int, typer.Option(help="Seed of the cohort, split and model.")] = DEFAULT_SEED,
    setting: Annotated[ClinicalSetting, typer.Option(help=SETTING_HELP)] = DEFAULT_SETTING,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = DEFAULT_EXPERIMENT,
    data: Annotated[
        Path | None, typer.Option(help="Labelled cases (.parquet or .csv) instead of simulated.")
    ] = None,
    label: Annotated[str, typer.Option(help="Label column of --data.")] = LABEL,
    if_no_champion: Annotated[
        bool, typer.Option(help="Do nothing when a champion is already registered.")
    ] = False,
    model: Annotated[
        ModelKind, typer.Option(help="xgboost, or a baseline: logistic, deyo-rule, red-flag-count.")
    ] = ModelKind.xgboost,
    tune: Annotated[
        int, typer.Option(help="Hyperparameter-search trials on the validation split (0: none).")
    ] = 0,
    threshold: Annotated[
        float, typer.Option(help="Operating threshold for sensitivity, specificity, PPV, NPV.")
    ] = DEFAULT_RISK_THRESHOLDS[1],
    engine: Annotated[
        Engine, typer.Option(help="local, or dask: simulate and fit on a Dask cluster.")
    ] = Engine.local,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address [default: a local cluster].")
    ] = None,
    interval_members: Annotated[
        int,
        typer.Option(
            help="Models fitted on redrawn evidence for each estimate's interval (0: none).",
            min=0,
        ),
    ] = INTERVAL_MEMBERS,
    external_cases: Annotated[
        int | None,
        typer.Option(
            help="Cases of the simulated external cohort the model is also scored on (0: none) "
            f"[default: {EXTERNAL_COHORT_CASES:,}, no more than the run's cases].",
        ),
    ] = None,
) -> None:
    """Train a model, log it to MLflow and register it (champion if none, else challenger)."""
    quiet_mlflow()
    from training.distributed import DaskEngineError
    from training.fit import TrainingError
    from training.run import TrainOptions
    from training.run import train as run_training

    options = TrainOptions(
        n_cases, seed, setting, experiment, data, label, model=model, tune_trials=tune,
        threshold=threshold, engine=engine, scheduler=scheduler, interval_members=interval_members,
        external_cases=external_cases,
    )  # fmt: skip
    try:
        options.validate()
        if if_no_champion and (existing := _champion_version()) is not None:
            typer.echo(f"champion already registered: version {existing}; not training")
            return
        with _training_bars(model, tune, interval_members) as (fit, trials, members):
            result = run_training(options, fit, trials, members)
    except (TrainingError, DaskEngineError, ValueError, OSError) as error:
        raise fail(str(error)) from None
    typer.echo(f"model:    {result.model}")
    typer.echo(f"run id:   {result.run_id}")
    typer.echo(f"version:  {result.version}")
    typer.echo(f"alias:    {result.alias}")
    typer.echo("test metrics:")
    for name, value in result.metrics.items():
        shown = f"{value:.0f}" if name.startswith("n_") else f"{value:.4f}"
        typer.echo(f"  {name:34s} {shown}")


@app.command()
def compare(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Two run ids: evaluate both on one fresh cohort (paired bootstrap)."),
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = DEFAULT_EXPERIMENT,
    sort: Annotated[SortKey, typer.Option(help="What to sort by; best first.")] = SortKey.auroc,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="How to print.")
    ] = OutputFormat.table,
    n_cases: Annotated[
        int, typer.Option(help="Cases in the fresh cohort (two runs).")
    ] = FRESH_COHORT_CASES,
    seed: Annotated[
        int, typer.Option(help="Seed of the fresh cohort; must differ from the runs' seeds.")
    ] = FRESH_COHORT_SEED,
    setting: Annotated[
        ClinicalSetting | None, typer.Option(help="Setting of the fresh cohort [default: run A's].")
    ] = None,
) -> None:
    """Runs side by side with test metrics and registry alias; or two runs on fresh cases."""
    quiet_mlflow()
    from training.evaluation.compare import (
        ComparisonError,
        compare_pair,
        experiment_runs,
        format_pair,
        format_runs,
        sort_runs,
    )
    from training.tracking import connect

    try:
        client = connect()
        if not runs:
            rows = sort_runs(experiment_runs(client, experiment), sort)
            output = format_runs(rows, output_format)
        elif len(runs) == 2:
            with _bar("paired bootstrap", "sample", terminal_only=True) as progress:
                comparison = compare_pair(
                    client, runs[0], runs[1], n_cases, seed, setting, progress=progress
                )
            output = format_pair(comparison, output_format)
        else:
            raise ComparisonError(f"give two run ids to compare, or none to list; got {len(runs)}")
    except (ComparisonError, ValueError, OSError) as error:
        raise fail(str(error)) from None
    typer.echo(output, nl=False)


@app.command()
def promote(
    run: Annotated[str | None, typer.Option(help="Run whose registered model to promote.")] = None,
    version: Annotated[str | None, typer.Option(help="Registry version to promote.")] = None,
    force: Annotated[bool, typer.Option(help="Promote even when the gate refuses.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why; recorded on the version.")] = None,
    n_cases: Annotated[
        int, typer.Option(help="Cases in the gate's fresh cohort.")
    ] = FRESH_COHORT_CASES,
    seed: Annotated[int, typer.Option(help="Seed of the gate's fresh cohort.")] = FRESH_COHORT_SEED,
    auroc_tolerance: Annotated[
        float, typer.Option(help="Largest AUROC loss against the champion accepted.")
    ] = AUROC_TOLERANCE,
    calibration_tolerance: Annotated[
        float,
        typer.Option(help="Largest worsening of |slope - 1| or |intercept| accepted."),
    ] = CALIBRATION_TOLERANCE,
) -> None:
    """Make a model the champion, if it is not worse than the current one on fresh cases."""
    quiet_mlflow()
    from training.evaluation.compare import format_pair
    from training.promote import PromotionError
    from training.promote import promote as run_promotion
    from training.tracking import connect

    try:
        with _bar("paired bootstrap", "sample", terminal_only=True) as progress:
            result = run_promotion(
                connect(), run_id=run, version=version, force=force, reason=reason,
                n_cases=n_cases, seed=seed, auroc_tolerance=auroc_tolerance,
                calibration_tolerance=calibration_tolerance, progress=progress,
            )  # fmt: skip
    except (PromotionError, ValueError, OSError) as error:
        raise fail(str(error)) from None
    typer.echo(
        f"champion: version {result.version} (previous champion: {result.previous or 'none'})"
    )
    if result.comparison is not None:
        typer.echo(format_pair(result.comparison, OutputFormat.table), nl=False)
    if result.forced:
        typer.echo("forced past the gate: " + "; ".join(result.reasons))


@app.command()
def cohort(
    n: Annotated[int, typer.Option("--n", help="Cases to simulate.")] = COHORT_CASES,
    seed: Annotated[int, typer.Option(help="Seed of the cohort.")] = COHORT_SEED,
    setting: Annotated[ClinicalSetting, typer.Option(help=SETTING_HELP)] = DEFAULT_SETTING,
    out: Annotated[
        Path | None, typer.Option(help="Write the cohort here (.parquet or .csv).")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Print target vs simulated figures, flag by flag.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Simulate a cohort: write it to a file, or report how it matches the published figures."""
    from training.cohort.files import report_text, write_cohort

    if out is None and not report:
        raise fail("give --out FILE to write a cohort, or --report to print the calibration report")
    try:
        if out is not None:
            written = write_cohort(n, seed, setting, out, overwrite=force)
            typer.echo(f"wrote {n} simulated cases ({setting}, seed {seed}) to {written}")
        if report:
            typer.echo(report_text(n, seed, setting))
    except (ValueError, OSError) as error:
        raise fail(str(error)) from None


@app.command()
def score(
    input: Annotated[Path, typer.Option("--input", help="Cases to score (.parquet or .csv).")],
    output: Annotated[Path, typer.Option("--output", help="Scores to write (.parquet).")],
    model_uri: Annotated[
        str | None, typer.Option(help="Model to score with [default: the champion].")
    ] = None,
    setting: Annotated[ClinicalSetting | None, typer.Option(help=SETTING_HELP)] = None,
    explain: Annotated[
        bool, typer.Option(help="Add base value and one column per feature.")
    ] = False,
    detail: Annotated[
        bool,
        typer.Option(
            help="Add interval_low/high, unrecorded_low/high and next_question (slower: each "
            "case is scored again with its unrecorded answers filled in)."
        ),
    ] = False,
    keep: Annotated[
        list[str] | None,
        typer.Option(help="Input column to copy to the output (an id); repeatable."),
    ] = None,
    engine: Annotated[
        Engine, typer.Option(help="local, or dask for a Parquet dataset.")
    ] = Engine.local,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address [default: a local cluster].")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --output if it exists.")] = False,
) -> None:
    """Score a file of cases in bulk: probability, risk band and urgent flag for every row."""
    quiet_mlflow()
    from features.loader import ModelUnavailableError, load_model
    from features.store import tracking_uri
    from training.batch import ScoreOptions, score_file, score_file_on_dask
    from training.data import CaseFileError
    from training.distributed import DaskEngineError

    chosen = setting.value if setting is not None else None
    options = ScoreOptions(setting=chosen, explain=explain, keep=tuple(keep or ()), detail=detail)
    try:
        options.validate()
        model = load_model(model_uri or default_model_uri(), tracking_uri())
        if engine == Engine.dask:
            rows = score_file_on_dask(
                model.pipeline, str(input), output, options, scheduler, overwrite=force
            )
        else:
            with _bar("scoring", " cases") as progress:
                rows = score_file(model.pipeline, input, output, options, force, progress)
    except (CaseFileError, ModelUnavailableError, DaskEngineError, ValueError, OSError) as error:
        raise fail(str(error)) from None
    version = model.identity.version or model.identity.uri
    typer.echo(f"scored {rows} cases with model version {version} into {output}")


app.command()(serve)
app.command()(predict)
for _site_command in SITE_COMMANDS:
    app.command()(_site_command)


def main() -> None:
    """Console-script entry point."""
    # Before XGBoost loads OpenMP (nothing above imports it): threads that spin while they wait
    # burn the cores they wait for on a shared machine; a 200k-case fit took 210 s wall there
    # against 29 s passive, the same trees. A user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":
    main()
