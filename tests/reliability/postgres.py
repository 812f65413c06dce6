"""A throwaway PostgreSQL cluster and an ``mlflow server`` on it, as a team would run them.

PostgreSQL is Debian's ``postgresql`` package (``.ci/run`` installs it); ``initdb`` refuses to
run as root, so as root the cluster belongs to the package's ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

from tests.reliability.processes import clean_env, wait_for
from tests.serving.conftest import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: apt-get install postgresql (.ci/run does)"
        )
    return found[-1]


def _as_owner(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@dataclass
class Postgres:
    """One cluster in a temporary folder, listening on a loopback port."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_owner(_bin("pg_ctl"), "-D", str(self.data), *args), check=True,
                       capture_output=True, timeout=60)  # fmt: skip

    def start(self) -> None:
        options = f"-k {self.folder} -p {self.port} -h 127.0.0.1"
        self._ctl("-l", str(self.folder / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A running cluster with a database ``mlflow``; stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="redflag-pg-"))  # not under a root-only folder
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = Postgres(folder, free_port())
    subprocess.run(
        _as_owner(_bin("initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust"),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    cluster.start()
    try:
        subprocess.run(
            _as_owner(_bin("createdb"), "-h", "127.0.0.1", "-p", str(cluster.port),
                      "-U", "postgres", "mlflow"),
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def mlflow_server(backend: str, artifacts: Path) -> Iterator[str]:
    """``mlflow server`` on ``backend`` with proxied artifacts; its URL. Ended by its PID."""
    port = free_port()
    log = artifacts.parent / "mlflow-server.log"
    command = [
        sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
        "--artifacts-destination", str(artifacts), "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=clean_env(), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(url + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        if not wait_for(healthy, 180, process):  # type: ignore[arg-type]
            raise RuntimeError(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
