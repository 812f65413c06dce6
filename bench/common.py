"""What the benchmarks share: the summary entry, processes started and stopped by id, a light
HTTP load generator, and a temporary store with a champion model.

Every benchmark returns a list of summary entries (``figure``); ``bench/run_all.py`` collects
them into ``bench/results/summary.json`` and prints the table.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCAL = "127.0.0.1"  # everything the benchmarks start or call listens here, nowhere else


def figure(
    name: str,
    value: float,
    unit: str,
    peer: str,
    peer_value: float | None,
    target: str,
    met: bool | None,
    ratio: float | None = None,
) -> dict[str, Any]:
    """One summary entry; ``ratio`` defaults to value / peer_value when both are known."""
    if ratio is None and peer_value:
        ratio = value / peer_value
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "peer": peer,
        "peer_value": peer_value,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def quick() -> bool:
    """A short run (``--quick`` of run_all, or ``BENCH_QUICK=1``): fewer requests, smaller sizes."""
    return os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")


def stopped(signum: int, frame: object) -> None:
    """SIGTERM as ``SystemExit``, so that ``finally`` blocks stop the processes started."""
    raise SystemExit(128 + signum)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL, 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path) -> dict[str, str]:
    """This environment with no REDFLAG_ or tracking settings but ``REDFLAG_HOME=home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDFLAG_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(
        REDFLAG_HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        REDFLAG_LOG_LEVEL="WARNING",  # an access line per request is not what is measured
    )
    return env


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own (so it and its children end by its id)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the process group this script created for ``process``, by its id."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def resident_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and all its descendants, in MB (proportional set size
    where the kernel gives it, so forked workers sharing pages are not counted twice)."""
    import psutil

    root = psutil.Process(pid)
    total = 0
    for process in (root, *root.children(recursive=True)):
        try:
            info = process.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 1e6


def status_of(url: str, body: bytes | None = None, timeout: float = 2) -> int | None:
    """The HTTP status of a GET (or a JSON POST of ``body``) to ``url``; None when it fails."""
    import urllib.error
    import urllib.request

    headers = {"content-type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def wait_until(
    url: str, process: subprocess.Popen[bytes], timeout: float, body: bytes | None = None
) -> float:
    """Seconds from now until ``url`` answers 200 (polled every 20 ms)."""
    begin = time.perf_counter()
    while time.perf_counter() - begin < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        if status_of(url, body) == 200:
            return time.perf_counter() - begin
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    requests: int
    seconds: float
    failures: int
    p50_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def load(port: int, path: str, body: bytes, clients: int, seconds: float) -> Load:
    """POST ``body`` to ``path`` from ``clients`` keep-alive connections for ``seconds``.

    Raw HTTP/1.1 on asyncio streams: the client costs far less CPU per request than the servers
    it measures, which matters when both share two cores.
    """
    return asyncio.run(_load(port, path, body, clients, seconds))


async def _load(port: int, path: str, body: bytes, clients: int, seconds: float) -> Load:
    request = (
        f"POST {path} HTTP/1.1\r\nhost: {LOCAL}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(LOCAL, port)
        await _exchange(reader, writer, request)  # warm the connection; not counted
        while time.perf_counter() < deadline:
            begin = time.perf_counter()
            status = await _exchange(reader, writer, request)
            latencies.append(time.perf_counter() - begin)
            failures += status != 200
        writer.close()

    begin = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - begin
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1e3 if latencies else float("nan")
    return Load(len(latencies), elapsed, failures, p50)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request, read its whole response; its status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        (int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length")),
        None,
    )
    if length is None:
        raise RuntimeError(f"no content-length in the answer: {lines[0]}")
    await reader.readexactly(length)
    return status


def train_store(home: Path, n_cases: int, setting: str = "emergency") -> float:
    """Train a champion on ``n_cases`` simulated cases into ``home``'s store; seconds taken."""
    begin = time.perf_counter()
    subprocess.run(
        [str(BIN / "redflag"), "train", "--n-cases", str(n_cases), "--setting", setting],
        env=clean_env(home),
        cwd=home,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - begin
