"""The ``redflag`` command line: simulate, train, compare, promote and serve."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from features.model import SETTING_PREVALENCE
from features.store import DEFAULT_EXPERIMENT, default_model_uri

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


@app.command()
def train(
    n_cases: Annotated[int, typer.Option(help="Simulated cases to train on.")] = 200_000,
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
) -> None:
    """Train a model, log it to MLflow and register it (champion if none, else challenger)."""
    _quiet_mlflow()
    from tqdm import tqdm

    from training.fit import TrainingError, TrainOptions
    from training.fit import train as run_training

    options = TrainOptions(n_cases, seed, setting, experiment, data, label)
    try:
        options.validate()
        if if_no_champion:
            from features.store import CHAMPION
            from training.registry import connect, version_by_alias

            existing = version_by_alias(connect(), CHAMPION)
            if existing is not None:
                typer.echo(f"champion already registered: version {existing.version}; not training")
                return
        bars: list[tqdm[None]] = []

        def progress(done: int, total: int) -> None:
            # Started on the first round, so validation errors are not preceded by a bar.
            if not bars:
                bars.append(
                    tqdm(total=total, desc="boosting rounds", unit="round", file=sys.stderr)
                )
            bars[0].update(done - bars[0].n)

        try:
            result = run_training(options, progress=progress)
        finally:
            for bar in bars:
                bar.close()
    except (TrainingError, ValueError, OSError) as error:
        raise _fail(str(error)) from None
    typer.echo(f"run id:   {result.run_id}")
    typer.echo(f"version:  {result.version}")
    typer.echo(f"alias:    {result.alias}")
    typer.echo("test metrics:")
    for name, value in result.metrics.items():
        typer.echo(
            f"  {name:24s} {value:.4f}"
            if not name.startswith("n_")
            else f"  {name:24s} {value:.0f}"
        )


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
    from training.cohort_cli import report_text, write_cohort

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
    from training.score import ScoreOptions, score_file, score_file_on_dask

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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
