"""The serving commands of ``redflag``: ``serve`` the API, ``predict`` offline.

They are plain functions with Typer annotations; the root app (``training.cli``) assembles them
with training's commands. ``fail`` and ``quiet_mlflow`` are shared with those commands.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from features.setting import ClinicalSetting
from features.store import default_model_uri
from serving.config import DEFAULT_NEXT_QUESTIONS, MAX_NEXT_QUESTIONS

SETTING_HELP = "Clinical setting: " + ", ".join(ClinicalSetting)


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; the ``typer.Exit`` to raise (exit 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def quiet_mlflow() -> None:
    """Silence MLflow's own warnings (pickle advice, registration chatter): they drown output."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", module="mlflow")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


_MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=1, max=65535)] = 8000,
    model_uri: Annotated[
        str | None, typer.Option(help="Model to serve [default: models:/<name>@champion].")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Serve the prediction API with uvicorn."""
    quiet_mlflow()
    import uvicorn

    if model_uri:
        os.environ["REDFLAG_MODEL_URI"] = model_uri
    os.environ.setdefault("REDFLAG_MODEL_URI", default_model_uri())
    # MLflow retries an unreachable tracking server for about four minutes per call by default;
    # the service retries loads itself (serving/reload.py), and a start-up must not hang that long.
    for name, value in _MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # uvicorn re-raises SIGTERM once it has shut down gracefully, so the process would end
    # "killed by signal 15"; a supervisor (systemd, Kubernetes) expects a clean stop to exit 0.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


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
        ClinicalSetting | None,
        typer.Option(help=SETTING_HELP + " (default: the prevalence the model was trained at)."),
    ] = None,
    next_questions: Annotated[
        int,
        typer.Option(
            help="Unrecorded questions to rank per case (0: none).", min=0, max=MAX_NEXT_QUESTIONS
        ),
    ] = DEFAULT_NEXT_QUESTIONS,
) -> None:
    """Score cases offline and print the JSON the API would answer for them."""
    quiet_mlflow()
    from pydantic import ValidationError

    from features.loader import ModelUnavailableError, load_model
    from features.store import tracking_uri
    from serving.config import Settings
    from serving.offline import CaseInputError, parse_cases, predict_offline

    try:
        text = sys.stdin.read() if input == "-" else Path(input).read_text(encoding="utf-8")
        cases, batch = parse_cases(text)
        settings = Settings()
        model = load_model(model_uri or settings.model_uri, tracking_uri())
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"cannot read {input}: {error}") from None
    except (CaseInputError, ModelUnavailableError) as error:
        raise fail(str(error)) from None
    except ValidationError as error:
        first = error.errors()[0]
        raise fail(f"REDFLAG_{'_'.join(map(str, first['loc'])).upper()}: {first['msg']}") from None
    chosen = setting.value if setting is not None else None
    payload = predict_offline(model, cases, batch, settings.risk_thresholds, chosen, next_questions)
    typer.echo(json.dumps(payload, allow_nan=False))
