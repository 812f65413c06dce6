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
    model: Annotated[
        str, typer.Option(help="xgboost, or a baseline: logistic, deyo-rule, red-flag-count.")
    ] = "xgboost",
    tune: Annotated[
        int, typer.Option(help="Hyperparameter-search trials on the validation split (0: none).")
    ] = 0,
    threshold: Annotated[
        float, typer.Option(help="Operating threshold for sensitivity, specificity, PPV, NPV.")
    ] = 0.05,
) -> None:
    """Train a model, log it to MLflow and register it (champion if none, else challenger)."""
    _quiet_mlflow()
    from contextlib import ExitStack

    from tqdm import tqdm

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
    )
    try:
        options.validate()
        if if_no_champion:
            from features.store import CHAMPION
            from training.registry import connect, version_by_alias

            existing = version_by_alias(connect(), CHAMPION)
            if existing is not None:
                typer.echo(f"champion already registered: version {existing.version}; not training")
                return
        with ExitStack() as stack:
            unit = "round" if model == "xgboost" else "step"
            bar = stack.enter_context(
                tqdm(total=1, desc=f"fitting {model}", unit=unit, file=sys.stderr)
            )
            trials = (
                stack.enter_context(tqdm(total=tune, desc="tuning", unit="trial", file=sys.stderr))
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
    except (TrainingError, ValueError, OSError) as error:
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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
