"""Real processes for the reliability tests: stores, ``redflag serve``, ``redflag train``.

Every process gets its store through an explicit environment; each is ended by its own PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from features.store import MODEL_NAME
from tests.serving.conftest import free_port


@dataclass(frozen=True)
class Store:
    """A temporary ``REDFLAG_HOME`` and the champion trained into it."""

    home: Path
    tracking_uri: str
    version: str
    run_id: str

    def env(self, **extra: str) -> dict[str, str]:
        """An environment pointing a process at this store (and nothing else of ours)."""
        return clean_env(REDFLAG_HOME=str(self.home), **extra)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``REDFLAG_*`` or tracking URI, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REDFLAG_") and k != "MLFLOW_TRACKING_URI"
    }
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    return {**env, **extra}


@contextmanager
def pointed_at(env: Mapping[str, str]) -> Iterator[None]:
    """Point this process at a store for a while (in-process training and MLflow clients)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("REDFLAG_") or name == "MLFLOW_TRACKING_URI":
                patch.delenv(name)
        for name, value in env.items():
            if name.startswith(("REDFLAG_", "MLFLOW_")):
                patch.setenv(name, value)
        yield


def train_into(home: Path, seed: int, n_cases: int = 4_000, **env: str) -> Store:
    """Train a small model in this process into ``home`` (or the tracking server in ``env``)."""
    from features.store import tracking_uri
    from training.run import TrainOptions, train

    with pointed_at(clean_env(REDFLAG_HOME=str(home), **env)):
        result = train(TrainOptions(n_cases=n_cases, seed=seed, setting="emergency"))
        uri = tracking_uri()
    return Store(home, uri, result.version, result.run_id)


def set_alias(env: Mapping[str, str], alias: str, version: str) -> None:
    """Move ``alias`` of the registered model, as a data scientist's MLflow client would."""
    from training.tracking import connect

    with pointed_at(env):
        connect().set_registered_model_alias(MODEL_NAME, alias, version)


def redflag(
    *args: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real ``redflag`` command line to its end."""
    return subprocess.run(
        [sys.executable, "-m", "training.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Served:
    """A ``redflag serve`` process on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def wait_ready(self, seconds: float = 90) -> None:
        """Until ``/readyz`` answers 200."""
        if not wait_for(lambda: self.status("/readyz") == 200, seconds, self.process):
            raise RuntimeError(f"not ready in {seconds} s:\n{self.log_text()[-3000:]}")

    def status(self, path: str) -> int | None:
        """The status code of GET ``path``, None when nothing answers."""
        try:
            return httpx.get(self.url + path, timeout=5).status_code
        except httpx.HTTPError:
            return None

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the exit; its return code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


def wait_for(
    condition: Callable[[], bool], seconds: float, process: subprocess.Popen[bytes] | None = None
) -> bool:
    """Poll ``condition()`` until true, the time is up, or ``process`` has exited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(0.1)
    return False


ServeFn = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFn]:
    """Start ``redflag serve`` processes; each still running at the end is stopped by its PID."""
    started: list[Served] = []

    def start(env: Mapping[str, str], *args: str, ready: bool = True) -> Served:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "training.cli", "serve", "--port", str(port), *args],
                env={"REDFLAG_LOG_LEVEL": "INFO", **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        served = Served(process, f"http://127.0.0.1:{port}", log)
        started.append(served)
        if ready:
            served.wait_ready()
        else:
            wait_for(lambda: served.status("/healthz") == 200, 60, process)
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.stop(signal.SIGKILL)
