"""Latency of the service alone: ASGI calls into the app on one event loop, no HTTP client.

Over HTTP on a small machine the client's own CPU time is part of every number; this measures
what the app itself costs per request. Uses the store under REDFLAG_HOME / MLFLOW_TRACKING_URI.

    REDFLAG_HOME=/path/with/mlruns python bench/latency_inprocess.py [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serving.app import create_app  # noqa: E402
from serving.config import Settings  # noqa: E402
from serving.examples import METASTASIS_SUSPECTED  # noqa: E402


def http_scope(path: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def call(app: Any, path: str, body: bytes) -> None:
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(http_scope(path, body), receive, send)
    if statuses != [200]:
        raise RuntimeError(f"{path} answered {statuses}")


async def run(requests: int, batches: int) -> None:
    app = create_app(Settings(log_level="WARNING"))
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {started}")
    one = json.dumps(METASTASIS_SUSPECTED).encode()
    batch = json.dumps({"cases": [METASTASIS_SUSPECTED] * 1000}).encode()
    for _ in range(50):
        await call(app, "/v1/predict", one)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        await call(app, "/v1/predict", one)
        times.append(time.perf_counter() - start)
    times.sort()
    print(
        f"/v1/predict, in process:             p50 {times[len(times) // 2] * 1e3:6.2f} ms   "
        f"p95 {times[int(len(times) * 0.95)] * 1e3:6.2f} ms   "
        f"{1 / statistics.mean(times):6.0f} req/s (one at a time)"
    )
    batch_times = []
    for _ in range(batches):
        start = time.perf_counter()
        await call(app, "/v1/predict/batch", batch)
        batch_times.append(time.perf_counter() - start)
    batch_times.sort()
    median = batch_times[len(batch_times) // 2]
    print(
        f"/v1/predict/batch 1000, in process:  p50 {median * 1e3:6.0f} ms"
        f"   max {batch_times[-1] * 1e3:6.0f} ms"
    )
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(run(min(args.requests, 20_000), min(args.batches, 100)))


if __name__ == "__main__":
    main()
