"""An asyncio load generator: N clients posting cases for a fixed time, one answer at a time each.

It records, for every request, when it ended, how long it took, its status and which model
(version, run) answered, so that a test can check a champion swap under load.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx


@dataclass
class LoadResult:
    """Every answer of a load run, and its figures."""

    seconds: float
    clients: int
    ended_at: list[float] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)
    answers: list[tuple[str | None, str | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """Requests answered, failed ones included."""
        return len(self.latency_s) + len(self.errors)

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile of latency, in milliseconds."""
        cuts = statistics.quantiles(self.latency_s, n=1000, method="inclusive")
        return 1000 * cuts[max(0, min(len(cuts) - 1, round(q * 10) - 1))]

    def figures(self) -> dict[str, Any]:
        """Requests/s, p50, p99 and errors, as printed in the summary."""
        return {
            "requests": self.requests,
            "requests_per_s": self.requests / self.seconds,
            "p50_ms": self.percentile_ms(50),
            "p99_ms": self.percentile_ms(99),
            "errors": len(self.errors),
            "clients": self.clients,
            "seconds": self.seconds,
        }


async def _client(
    http: httpx.AsyncClient, url: str, cases: Sequence[dict[str, Any]], offset: int,
    stop_at: float, result: LoadResult,
) -> None:  # fmt: skip
    index = offset
    while time.monotonic() < stop_at:
        case = cases[index % len(cases)]
        index += 1
        start = time.monotonic()
        try:
            response = await http.post(url, json=case)
        except httpx.HTTPError as error:
            result.errors.append(f"{type(error).__name__}: {error}")
            continue
        now = time.monotonic()
        if response.status_code != 200:
            result.errors.append(f"{response.status_code}: {response.text[:200]}")
            continue
        model = response.json()["model"]
        result.ended_at.append(now)
        result.latency_s.append(now - start)
        result.answers.append((model["version"], model["run_id"]))


async def run_load(
    base_url: str,
    cases: Sequence[dict[str, Any]],
    clients: int,
    seconds: float,
    midway: Callable[[], Awaitable[None]] | None = None,
) -> LoadResult:
    """``clients`` clients post ``cases`` to ``/v1/predict`` for ``seconds``; ``midway`` at half."""
    result = LoadResult(seconds=seconds, clients=clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        stop_at = time.monotonic() + seconds
        workers = [
            asyncio.create_task(_client(http, "/v1/predict", cases, i * 7, stop_at, result))
            for i in range(clients)
        ]
        if midway is not None:
            await asyncio.sleep(seconds / 2)
            await midway()
        await asyncio.gather(*workers)
    return result
