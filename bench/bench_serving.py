"""Serving benchmark: `redflag serve` against `mlflow models serve`, measured in the same run.

Trains a small model into a temporary store, starts both servers on 127.0.0.1, and measures
one-case requests sequentially and from concurrent threads (requests/s, p50/p95 latency), plus
1000-case batches on redflag. The peer answers a probability only; redflag also explains it.

    python bench/bench_serving.py [--requests 400] [--threads 8] [--n-cases 20000]

Everything it starts is stopped by process id (group) at the end; it touches nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serving.examples import METASTASIS_SUSPECTED  # noqa: E402

BIN = Path(sys.executable).parent
MODEL = "models:/redflag-spinal-malignancy@champion"


@dataclass
class Result:
    """Throughput and latency of one way of calling one server."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    failures: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        return (
            f"{self.name:44s} {self.per_second:8.1f} req/s   p50 {self.p50_ms:7.2f} ms   "
            f"p95 {self.p95_ms:7.2f} ms   failures {self.failures}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} was not ready after {timeout}s")


def measure(
    name: str, send: Callable[[httpx.Client], httpx.Response], n: int, threads: int
) -> Result:
    """``n`` requests in all, spread over ``threads`` clients (keep-alive each)."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    per_thread = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def work(count: int) -> None:
        nonlocal failures
        with httpx.Client(timeout=60) as client:
            send(client)  # warm the connection; not counted
            for _ in range(count):
                start = time.perf_counter()
                response = send(client)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    failures += response.status_code != 200

    workers = [threading.Thread(target=work, args=(c,)) for c in per_thread]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - start
    return Result(
        name,
        len(latencies),
        seconds,
        percentile(latencies, 0.5) * 1e3,
        percentile(latencies, 0.95) * 1e3,
        failures,
    )


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # A session of its own, so that it and the children it spawns can be ended by its id; run in
    # the temporary store's directory so that nothing lands in the repository.
    out = log.open("wb")
    return subprocess.Popen(
        command,
        env=env,
        cwd=log.parent,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # the group this script created, by its id
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def main() -> None:
    args = parse_args()
    home, env = set_up_store(args.n_cases)
    ours_port, peer_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ours_url, peer_url = start_servers(home, env, ours_port, peer_port, processes)
        compare_one_case(ours_url, peer_url)
        results = measure_all(ours_url, peer_url, args.requests, args.threads, args.batches)
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(home, ignore_errors=True)  # the temporary store this run created
    print_results(results, args.threads)
    write_results(results, args.out, args.requests, args.threads)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="one-case requests per run")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    parser.add_argument("--batches", type=int, default=5, help="1000-case batches to time")
    parser.add_argument("--n-cases", type=int, default=20_000, help="cases to train on")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if not 1 <= args.requests <= 10_000 or not 1 <= args.threads <= 64:
        parser.error("--requests must be 1..10000 and --threads 1..64")
    return args


def set_up_store(n_cases: int) -> tuple[Path, dict[str, str]]:
    """A temporary store with a champion model trained on `n_cases`, and the servers' env."""
    home = Path(tempfile.mkdtemp(prefix="redflag-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDFLAG_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(
        REDFLAG_HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        REDFLAG_LOG_LEVEL="WARNING",  # an access line per request is not what is measured
    )
    print(f"store: {home}")
    t0 = time.perf_counter()
    subprocess.run(
        [str(BIN / "redflag"), "train", "--n-cases", str(n_cases), "--setting", "emergency"],
        env=env,
        cwd=home,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(f"trained {n_cases} simulated cases in {time.perf_counter() - t0:.1f} s")
    return home, env


def start_servers(
    home: Path,
    env: dict[str, str],
    ours_port: int,
    peer_port: int,
    processes: list[subprocess.Popen[bytes]],
) -> tuple[str, str]:
    """Start both servers and wait until they answer; (redflag URL, mlflow URL).

    Each process joins `processes` as soon as it starts, so that the caller stops it even when
    the other fails to start or to become ready.
    """
    peer_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"}
    ours = start(
        [str(BIN / "redflag"), "serve", "--port", str(ours_port)], env, home / "redflag.log"
    )
    processes.append(ours)
    peer = start(
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "--env-manager",
            "local",
            "-m",
            MODEL,
            "-h",
            "127.0.0.1",
            "-p",
            str(peer_port),
        ],
        peer_env,
        home / "mlflow.log",
    )
    processes.append(peer)
    ours_url, peer_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{peer_port}"
    print(f"redflag serve ready in {wait_until_ready(ours_url + '/readyz', ours):.1f} s")
    print(f"mlflow models serve ready in {wait_until_ready(peer_url + '/ping', peer):.1f} s")
    return ours_url, peer_url


def compare_one_case(ours_url: str, peer_url: str) -> None:
    """Print both servers' probability for the same case: they serve the same model."""
    case = METASTASIS_SUSPECTED
    ours_probability = httpx.post(ours_url + "/v1/predict", json=case).json()["probability"]
    peer_answer = httpx.post(peer_url + "/invocations", json={"dataframe_records": [case]}).json()
    peer_probability = peer_answer["predictions"][0][1]
    print(f"same case: redflag p={ours_probability:.6f}, mlflow p={peer_probability:.6f}")


def measure_all(ours_url: str, peer_url: str, n: int, k: int, batches: int) -> list[Result]:
    """One-case requests sequentially and from `k` threads, then 1000-case batches, on both."""
    case = METASTASIS_SUSPECTED

    def ours_one(client: httpx.Client) -> httpx.Response:
        return client.post(ours_url + "/v1/predict", json=case)

    def peer_one(client: httpx.Client) -> httpx.Response:
        return client.post(peer_url + "/invocations", json={"dataframe_records": [case]})

    batch = {"cases": [case] * 1000}

    def ours_batch(client: httpx.Client) -> httpx.Response:
        return client.post(ours_url + "/v1/predict/batch", json=batch)

    peer_rows = {"dataframe_records": batch["cases"]}

    def peer_batch(client: httpx.Client) -> httpx.Response:
        return client.post(peer_url + "/invocations", json=peer_rows)

    return [
        measure("redflag /v1/predict, sequential", ours_one, n, 1),
        measure("mlflow /invocations, sequential", peer_one, n, 1),
        measure(f"redflag /v1/predict, {k} threads", ours_one, n, k),
        measure(f"mlflow /invocations, {k} threads", peer_one, n, k),
        measure("redflag /v1/predict/batch 1000 cases", ours_batch, batches, 1),
        measure("mlflow /invocations 1000 rows", peer_batch, batches, 1),
    ]


def print_results(results: list[Result], k: int) -> None:
    print()
    for result in results:
        print(result.line())
    print()
    seq, peer_seq, conc, peer_conc, big, peer_big = results
    print("ratio redflag / mlflow models serve (requests/s; > 1: redflag faster):")
    print(f"  sequential     {seq.per_second / peer_seq.per_second:5.2f}x")
    print(f"  {k} threads      {conc.per_second / peer_conc.per_second:5.2f}x")
    print(f"  1000-case batch {peer_big.p50_ms / big.p50_ms:5.2f}x (p50 time per batch, inverted)")
    print("redflag answers with the full explanation, urgent flag and risk band; mlflow with the")
    print("probability only.")


def write_results(results: list[Result], out: Path, n: int, k: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    report: dict[str, Any] = {
        "results": [asdict(r) | {"per_second": r.per_second} for r in results],
        "requests": n,
        "threads": k,
    }
    (out / f"serving-{stamp}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
