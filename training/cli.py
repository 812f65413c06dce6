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
        with tqdm(total=1, desc="boosting rounds", unit="round", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = run_training(options, progress=progress)
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
