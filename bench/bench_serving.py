"""Serving benchmark: `redflag serve` against `mlflow models serve` and the framework's floor.

In one run, on 127.0.0.1: `redflag serve`; `mlflow models serve --env-manager local` of the same
registered model (it answers the probability only; redflag also explains it); a bare FastAPI
endpoint under the same server that returns a constant (``bench/floor_app.py``). Measured: one-case
requests/s at 1 and 16 keep-alive clients, start to ready, resident memory of all each one's
processes, and a 1000-case batch against the booster's own ``pred_contribs`` rows/s.

    python bench/bench_serving.py [--seconds 8] [--store DIR]

Without ``--store`` (or ``BENCH_STORE``) it trains a small model into a temporary store. Every
process it starts is stopped by its id (its process group); it touches nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BIN,
    LOCAL,
    ROOT,
    clean_env,
    figure,
    free_port,
    load,
    quick,
    resident_mb,
    start,
    stop,
    stopped,
    train_store,
    wait_until,
)
from serving.examples import METASTASIS_SUSPECTED  # noqa: E402

MODEL = "models:/redflag-spinal-malignancy@champion"
BATCH = 1000


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    own_store = args.store is None
    home = Path(tempfile.mkdtemp(prefix="redflag-bench-")) if own_store else args.store
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if own_store:
            print(f"trained {args.n_cases} cases in {train_store(home, args.n_cases):.0f} s")
        servers = start_servers(home, processes)
        figures = measure(home, servers, args.seconds)
    finally:
        for process in processes:
            stop(process)
        if own_store:
            shutil.rmtree(home, ignore_errors=True)  # the temporary store this run created
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0 if quick() else 8.0)
    parser.add_argument("--n-cases", type=int, default=30_000, help="cases to train on")
    store = os.environ.get("BENCH_STORE")
    parser.add_argument("--store", type=Path, default=Path(store) if store else None)
    return parser.parse_args(argv)


def start_servers(home: Path, processes: list[subprocess.Popen[bytes]]) -> dict[str, Any]:
    """Start the three servers one after another (each timed to ready on a quiet machine)."""
    env = clean_env(home)
    ports = {"redflag": free_port(), "mlflow": free_port(), "floor": free_port()}
    commands = {
        "redflag": [str(BIN / "redflag"), "serve", "--port", str(ports["redflag"])],
        "mlflow": [
            *(str(BIN / "mlflow"), "models", "serve", "--env-manager", "local", "-m", MODEL),
            *("-h", LOCAL, "-p", str(ports["mlflow"])),
        ],
        "floor": [
            *(str(BIN / "uvicorn"), "--factory", "bench.floor_app:create_app"),
            *("--host", LOCAL, "--port", str(ports["floor"]), "--log-level", "warning"),
        ],
    }
    envs = {
        "redflag": env,
        "mlflow": {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"},
        "floor": {**env, "PYTHONPATH": str(ROOT)},
    }
    ready = {"redflag": "/readyz", "mlflow": "/ping", "floor": "/readyz"}
    started: dict[str, Any] = {"ports": ports, "processes": {}, "ready_s": {}}
    for name, command in commands.items():
        process = start(command, envs[name], home / f"{name}.log")
        processes.append(process)
        url = f"http://{LOCAL}:{ports[name]}{ready[name]}"
        started["processes"][name] = process
        started["ready_s"][name] = wait_until(url, process, timeout=180)
        print(f"{name} ready in {started['ready_s'][name]:.2f} s")
    return started


def import_floor() -> float:
    """Seconds for a fresh interpreter to import what the service cannot start without."""
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import xgboost, fastapi, uvicorn"], check=True)
    return time.perf_counter() - begin


def measure(home: Path, servers: dict[str, Any], seconds: float) -> list[dict[str, Any]]:
    ports = servers["ports"]
    case = json.dumps(METASTASIS_SUSPECTED).encode()
    peer_case = json.dumps({"dataframe_records": [METASTASIS_SUSPECTED]}).encode()
    bodies = {"redflag": ("/v1/predict", case), "mlflow": ("/invocations", peer_case)}
    bodies["floor"] = ("/v1/predict", case)
    rates: dict[tuple[str, int], float] = {}
    for clients in (1, 16):
        for name, (path, body) in bodies.items():
            result = load(ports[name], path, body, clients, seconds)
            if result.failures:
                raise RuntimeError(f"{name}: {result.failures} requests failed")
            rates[name, clients] = result.per_second
            print(f"{name:8s} {clients:2d} clients {result.per_second:8.1f} req/s")
    memory = {name: resident_mb(p.pid) for name, p in servers["processes"].items()}
    batch = {"cases": [METASTASIS_SUSPECTED] * BATCH}
    batch_load = load(ports["redflag"], "/v1/predict/batch", json.dumps(batch).encode(), 1, seconds)
    floor_rows = contribs_rows_per_second(home, batch["cases"])
    figures = [*throughput(rates), *start_up(servers["ready_s"])]
    figures.append(
        figure(
            "resident memory of the service, all processes (PSS)",
            memory["redflag"],
            "MB",
            "mlflow models serve",
            memory["mlflow"],
            "≤ 0.5×",
            memory["redflag"] / memory["mlflow"] <= 0.5,
        )
    )
    figures.append(batch_figure(batch_load.per_second * BATCH, floor_rows))
    return figures


def throughput(rates: dict[tuple[str, int], float]) -> list[dict[str, Any]]:
    targets = {1: 5.0, 16: 8.0}
    figures = []
    for clients, target in targets.items():
        ours, peer = rates["redflag", clients], rates["mlflow", clients]
        name = f"HTTP one explained case, {clients} client{'s' if clients > 1 else ''}"
        figures.append(
            figure(
                name,
                ours,
                "req/s",
                "mlflow models serve (probability only)",
                peer,
                f"≥ {target:g}×",
                ours / peer >= target,
            )
        )
        floor = rates["floor", clients]
        figures.append(
            figure(
                "  the same vs the framework's floor",
                ours,
                "req/s",
                "bare FastAPI",
                floor,
                "—",
                None,
            )  # fmt: skip
        )
    return figures


def start_up(ready_s: dict[str, float]) -> list[dict[str, Any]]:
    ours = ready_s["redflag"]
    return [
        figure(
            "start to /readyz 200",
            ours,
            "s",
            "mlflow models serve to /ping 200",
            ready_s["mlflow"],
            "≤ 2 s",
            ours <= 2.0,
        ),
        figure(
            "  the same vs importing xgboost, fastapi, uvicorn",
            ours,
            "s",
            "import floor",
            import_floor(),
            "—",
            None,
        ),
    ]


def contribs_rows_per_second(home: Path, cases: list[dict[str, Any]]) -> float:
    """The booster's own rows/s: ``pred_contribs`` on the prepared matrix of the same cases."""
    import numpy as np
    import xgboost as xgb

    from features.catalogue import FEATURE_NAMES
    from features.loader import load_model

    uri = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    pipeline = load_model(MODEL, uri).pipeline
    booster = pipeline[-1].booster_
    matrix = pipeline[0].transform(cases)
    names = list(FEATURE_NAMES)
    best = float("inf")
    for _ in range(5):
        begin = time.perf_counter()
        booster.predict(
            xgb.DMatrix(matrix, missing=np.nan, feature_names=names), pred_contribs=True
        )
        best = min(best, time.perf_counter() - begin)
    return len(cases) / best


def batch_figure(ours: float, floor: float) -> dict[str, Any]:
    return figure(
        f"HTTP batch of {BATCH} explained cases, with its JSON",
        ours,
        "cases/s",
        "booster pred_contribs on the prepared matrix",
        floor,
        "≥ 0.5×",
        ours / floor >= 0.5,
    )


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stopped)  # finally blocks run: what was started is stopped
    for entry in main():
        print(entry)
