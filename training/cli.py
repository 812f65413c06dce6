"""The ``redflag`` command line: simulate, train, compare, promote and serve."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from features.model import SETTING_PREVALENCE
from features.store import DEFAULT_EXPERIMENT, default_model_uri
from training.defaults import FRESH_COHORT_CASES, FRESH_COHORT_SEED, TRAINING_CASES

app = typer.Typer(
    help="redflag: calibrated, explained probability of spinal malignancy in back pain. "
    "Research use only; trained on simulated cases; not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SETTINGS_HELP = "Clinical setting: " + ", ".join(SETTING_PREVALENCE)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _quiet_mlflow() -> None:
    # MLflow's own warnings (pickle format advice, registration chatter) drown the command's output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", module="mlflow")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def _bootstrap_bar() -> Iterator[Callable[[int, int], None]]:
    """Progress of a comparison's bootstrap on stderr, from its first sample (none on a pipe)."""
    from tqdm import tqdm

    bars: list[tqdm[Any]] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=total,
                    desc="paired bootstrap",
                    unit="sample",
                    file=sys.stderr,
                    disable=None,
                )
            )
        bars[0].update(done - bars[0].n)

    try:
        yield progress
    finally:
        for bar in bars:
            bar.close()


@app.command()
def train(
    n_cases: Annotated[int, typer.Option(help="Simulated cases to train on.")] = TRAINING_CASES,
    seed: Annotated[int, typer.Option(help="Seed of the cohort, split and model.")] = 42,
    setting: Annotated[str, typer.Option(help=SETTINGS_HELP)] = "primary_care",
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = DEFAULT_EXPERIMENT,
    data: Annotated[
        Path | None, typer.Option(help="Labelled cases (.parquet or .csv) instead of simulated.")
    ] = None,
    label: Annotated[str, typer.Option(help="Label column of --data.")] = "spinal_malignancy",
    if_no_champion: Annotated[
        bool, typer.Option(help="Do nothing when a champion is already registered.")
    ] = False,
    model: Annotated[
        str, typer.Option(help="xgboost, or a baseline: logistic, deyo-rule, red-flag-count.")
    ] = "xgboost",
    tune: Annotated[
        int, typer.Option(help="Hyperparameter-search trials on the validation split (0: none).")
    ] = 0,
    threshold: Annotated[
        float, typer.Option(help="Operating threshold for sensitivity, specificity, PPV, NPV.")
    ] = 0.05,
    engine: Annotated[
        str, typer.Option(help="local, or dask: simulate and fit on a Dask cluster.")
    ] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address [default: a local cluster].")
    ] = None,
) -> None:
    """Train a model, log it to MLflow and register it (champion if none, else challenger)."""
    _quiet_mlflow()
    from contextlib import ExitStack

    from tqdm import tqdm

    from training.distributed import DaskEngineError
    from training.fit import TrainingError, TrainOptions
    from training.fit import train as run_training

    options = TrainOptions(
        n_cases,
        seed,
        setting,
        experiment,
        data,
        label,
        model=model,
        tune_trials=tune,
        threshold=threshold,
        engine=engine,
        scheduler=scheduler,
    )
    try:
        options.validate()
        if if_no_champion:
            from features.store import CHAMPION
            from training.tracking import connect, version_by_alias

            existing = version_by_alias(connect(), CHAMPION)
            if existing is not None:
                typer.echo(f"champion already registered: version {existing.version}; not training")
                return
        with ExitStack() as stack:
            unit = "round" if model == "xgboost" else "step"
            # delay: a bar appears only once work is under way, not before a validation error.
            bar = stack.enter_context(
                tqdm(total=1, desc=f"fitting {model}", unit=unit, file=sys.stderr, delay=0.5)
            )
            trials = (
                stack.enter_context(
                    tqdm(total=tune, desc="tuning", unit="trial", file=sys.stderr, delay=0.5)
                )
                if tune
                else None
            )

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            def trial_progress(done: int, total: int) -> None:
                if trials is not None:
                    trials.update(done - trials.n)

            result = run_training(options, progress=progress, trial_progress=trial_progress)
    except (TrainingError, DaskEngineError, ValueError, OSError) as error:
        raise _fail(str(error)) from None
    typer.echo(f"model:    {result.model}")
    typer.echo(f"run id:   {result.run_id}")
    typer.echo(f"version:  {result.version}")
    typer.echo(f"alias:    {result.alias}")
    typer.echo("test metrics:")
    for name, value in result.metrics.items():
        typer.echo(
            f"  {name:34s} {value:.4f}"
            if not name.startswith("n_")
            else f"  {name:34s} {value:.0f}"
        )


@app.command()
def compare(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Two run ids: evaluate both on one fresh cohort (paired bootstrap)."),
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = DEFAULT_EXPERIMENT,
    sort: Annotated[
        str,
        typer.Option(
            help="auroc, auprc, brier, log_loss, ece, calibration_slope, "
            "calibration_intercept or start_time; best first."
        ),
    ] = "auroc",
    output_format: Annotated[
        str, typer.Option("--format", help="table, markdown, csv or json.")
    ] = "table",
    n_cases: Annotated[
        int, typer.Option(help="Cases in the fresh cohort (two runs).")
    ] = FRESH_COHORT_CASES,
    seed: Annotated[
        int, typer.Option(help="Seed of the fresh cohort; must differ from the runs' seeds.")
    ] = FRESH_COHORT_SEED,
    setting: Annotated[
        str | None, typer.Option(help="Setting of the fresh cohort [default: run A's].")
    ] = None,
) -> None:
    """Runs side by side with test metrics and registry alias; or two runs on fresh cases."""
    _quiet_mlflow()
    from training.evaluation.compare import (
        FORMATS,
        SORT_KEYS,
        ComparisonError,
        compare_pair,
        experiment_runs,
        format_pair,
        format_runs,
        sort_runs,
    )
    from training.tracking import connect

    try:
        if output_format not in FORMATS:
            known = ", ".join(FORMATS)
            raise ComparisonError(f"--format must be one of {known}, got '{output_format}'")
        if sort not in SORT_KEYS:
            raise ComparisonError(f"--sort must be one of {', '.join(SORT_KEYS)}, got '{sort}'")
        client = connect()
        if not runs:
            output = format_runs(
                sort_runs(experiment_runs(client, experiment), sort), output_format
            )
        elif len(runs) == 2:
            with _bootstrap_bar() as progress:
                comparison = compare_pair(
                    client, runs[0], runs[1], n_cases, seed, setting, progress=progress
                )
            output = format_pair(comparison, output_format)
        else:
            raise ComparisonError(f"give two run ids to compare, or none to list; got {len(runs)}")
    except (ComparisonError, ValueError, OSError) as error:
        raise _fail(str(error)) from None
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
    ] = 0.01,
    calibration_tolerance: Annotated[
        float,
        typer.Option(help="Largest worsening of |slope - 1| or |intercept| accepted."),
    ] = 0.1,
) -> None:
    """Make a model the champion, if it is not worse than the current one on fresh cases."""
    _quiet_mlflow()
    from training.promote import PromotionError
    from training.promote import promote as run_promotion
    from training.tracking import connect

    try:
        with _bootstrap_bar() as progress:
            result = run_promotion(
                connect(),
                run_id=run,
                version=version,
                force=force,
                reason=reason,
                n_cases=n_cases,
                seed=seed,
                auroc_tolerance=auroc_tolerance,
                calibration_tolerance=calibration_tolerance,
                progress=progress,
            )
    except (PromotionError, ValueError, OSError) as error:
        raise _fail(str(error)) from None
    previous = result.previous or "none"
    typer.echo(f"champion: version {result.version} (previous champion: {previous})")
    if result.comparison is not None:
        from training.evaluation.compare import format_pair

        typer.echo(format_pair(result.comparison, "table"), nl=False)
    if result.forced:
        typer.echo("forced past the gate: " + "; ".join(result.reasons))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=1, max=65535)] = 8000,
    model_uri: Annotated[
        str | None, typer.Option(help="Model to serve [default: models:/<name>@champion].")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Serve the prediction API with uvicorn."""
    _quiet_mlflow()
    import uvicorn

    if model_uri:
        os.environ["REDFLAG_MODEL_URI"] = model_uri
    os.environ.setdefault("REDFLAG_MODEL_URI", default_model_uri())
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


@app.command()
def cohort(
    n: Annotated[int, typer.Option("--n", help="Cases to simulate.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed of the cohort.")] = 0,
    setting: Annotated[str, typer.Option(help=SETTINGS_HELP)] = "primary_care",
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
        raise _fail(
            "give --out FILE to write a cohort, or --report to print the calibration report"
        )
    try:
        if out is not None:
            written = write_cohort(n, seed, setting, out, overwrite=force)
            typer.echo(f"wrote {n} simulated cases ({setting}, seed {seed}) to {written}")
        if report:
            typer.echo(report_text(n, seed, setting))
    except (ValueError, OSError) as error:
        raise _fail(str(error)) from None


@app.command()
def score(
    input: Annotated[Path, typer.Option("--input", help="Cases to score (.parquet or .csv).")],
    output: Annotated[Path, typer.Option("--output", help="Scores to write (.parquet).")],
    model_uri: Annotated[
        str | None, typer.Option(help="Model to score with [default: the champion].")
    ] = None,
    setting: Annotated[str | None, typer.Option(help=SETTINGS_HELP)] = None,
    explain: Annotated[
        bool, typer.Option(help="Add base value and one column per feature.")
    ] = False,
    keep: Annotated[
        list[str] | None,
        typer.Option(help="Input column to copy to the output (an id); repeatable."),
    ] = None,
    engine: Annotated[str, typer.Option(help="local, or dask for a Parquet dataset.")] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address [default: a local cluster].")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --output if it exists.")] = False,
) -> None:
    """Score a file of cases in bulk: probability, risk band and urgent flag for every row."""
    _quiet_mlflow()
    from tqdm import tqdm

    from features.store import tracking_uri
    from serving.core import ModelUnavailableError, load_model
    from training.data import CaseFileError
    from training.distributed import DaskEngineError
    from training.batch import ScoreOptions, score_file, score_file_on_dask

    options = ScoreOptions(setting=setting, explain=explain, keep=tuple(keep or ()))
    if engine not in ("local", "dask"):
        raise _fail(f"--engine must be local or dask, got '{engine}'")
    try:
        options.validate()
        model = load_model(model_uri or default_model_uri(), tracking_uri())
        if engine == "dask":
            rows = score_file_on_dask(
                model.pipeline, str(input), output, options, scheduler, overwrite=force
            )
        else:
            with tqdm(desc="scoring", unit=" cases", file=sys.stderr, delay=1) as bar:
                rows = score_file(model.pipeline, input, output, options, force, bar.update)
    except (CaseFileError, ModelUnavailableError, DaskEngineError, ValueError, OSError) as error:
        raise _fail(str(error)) from None
    version = model.identity.version or model.identity.uri
    typer.echo(f"scored {rows} cases with model version {version} into {output}")


@app.command()
def predict(
    input: Annotated[
        str,
        typer.Option(
            "--input", "-i", help="JSON file: one case, or a list of cases (a batch); '-': stdin."
        ),
    ],
    model_uri: Annotated[
        str | None,
        typer.Option(help="Model to score with (default: REDFLAG_MODEL_URI, else the champion)."),
    ] = None,
    setting: Annotated[
        str | None,
        typer.Option(help=SETTINGS_HELP + " (default: the prevalence the model was trained at)."),
    ] = None,
) -> None:
    """Score cases offline and print the JSON the API would answer for them."""
    _quiet_mlflow()
    import json

    from pydantic import ValidationError

    from features.store import tracking_uri
    from serving.config import Settings
    from serving.core import ModelUnavailableError, load_model
    from serving.offline import CaseInputError, parse_cases, predict_offline

    if setting is not None and setting not in SETTING_PREVALENCE:
        raise _fail(f"--setting must be one of {', '.join(SETTING_PREVALENCE)}, got '{setting}'")
    try:
        text = sys.stdin.read() if input == "-" else Path(input).read_text(encoding="utf-8")
        cases, batch = parse_cases(text)
        settings = Settings()
        model = load_model(model_uri or settings.model_uri, tracking_uri())
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {input}: {error}") from None
    except CaseInputError as error:
        raise _fail(str(error)) from None
    except ValidationError as error:
        first = error.errors()[0]
        raise _fail(f"REDFLAG_{'_'.join(map(str, first['loc'])).upper()}: {first['msg']}") from None
    except ModelUnavailableError as error:
        raise _fail(str(error)) from None
    payload = predict_offline(model, cases, batch, settings.risk_thresholds, setting)
    typer.echo(json.dumps(payload, allow_nan=False))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
