"""The model being served, and its replacement without stopping: load beside, then swap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import anyio.to_thread

from features.loader import (
    LoadedModel,
    ModelUnavailableError,
    is_movable,
    load_model,
    resolve_version,
)
from serving.metrics import Metrics

log = logging.getLogger("redflag.serving")

Outcome = Literal["reloaded", "unchanged", "failed"]


@dataclass(frozen=True)
class ReloadResult:
    """What one reload attempt did."""

    outcome: Outcome
    previous_version: str | None
    version: str | None
    error: str | None = None


class ModelSlot:
    """Holds the served model as one reference to an immutable ``LoadedModel``.

    A request reads ``current`` once at its start and uses that object to the end, so a swap
    (a single assignment) never hands anyone a half-loaded model or mixes two versions.
    """

    def __init__(self) -> None:
        self.current: LoadedModel | None = None
        self.load_error: str | None = "the model is still loading"


class Reloader:
    """Loads the configured model URI into a ``ModelSlot``: at start-up, on demand, on a timer."""

    def __init__(
        self,
        uri: str,
        tracking_uri: str,
        slot: ModelSlot,
        metrics: Metrics,
        threads: int = 0,
        prepare: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self.uri = uri
        self.tracking_uri = tracking_uri
        self.threads = threads
        self.slot = slot
        self.metrics = metrics
        self.prepare = prepare  # runs on each model loaded, before it is swapped in
        self._lock = asyncio.Lock()

    async def reload(self, force: bool = False) -> ReloadResult:
        """Load the model the URI names now and swap it in; the old one serves until then.

        Without ``force``, nothing is loaded when the alias still names the version served.
        """
        async with self._lock:  # one load at a time; a second caller waits and sees the result
            current = self.slot.current
            previous = current.identity.version if current else None
            try:
                if current is not None and not force and is_movable(self.uri):
                    version = await anyio.to_thread.run_sync(
                        resolve_version, self.uri, self.tracking_uri
                    )
                    if version == previous:
                        return ReloadResult("unchanged", previous, previous)
                loaded = await anyio.to_thread.run_sync(
                    load_model, self.uri, self.tracking_uri, self.threads
                )
                if self.prepare is not None:
                    await anyio.to_thread.run_sync(self.prepare, loaded)
            except ModelUnavailableError as error:
                return self._failed(previous, str(error))
            except Exception as error:  # never let a reload take the serving model down
                return self._failed(previous, f"{type(error).__name__}: {error}")
            self.slot.current = loaded  # the swap: one reference assignment
            self.slot.load_error = None
            self.metrics.served(loaded)
            if current is not None:
                self.metrics.reloads.inc()
                log.info(
                    "reloaded %s: version %s -> %s", self.uri, previous, loaded.identity.version
                )
            else:
                log.info("serving %s (version %s)", self.uri, loaded.identity.version)
            return ReloadResult("reloaded", previous, loaded.identity.version)

    def _failed(self, previous: str | None, error: str) -> ReloadResult:
        self.metrics.reload_failures.inc()
        if self.slot.current is None:
            self.slot.load_error = error
            log.error("no model loaded: %s", error)
        else:
            log.error(
                "reload of %s failed, still serving version %s: %s", self.uri, previous, error
            )
        return ReloadResult("failed", previous, previous, error)

    async def until_loaded(self, first_delay_s: float, max_delay_s: float) -> None:
        """Retry a failed start-up load with doubling waits until a model is served.

        The store may be down or the artifact broken when the service starts; it stays up and
        unready (``/readyz`` says why) and becomes ready on its own once the model loads.
        """
        delay = first_delay_s
        while self.slot.current is None:
            await asyncio.sleep(delay)
            await self.reload(force=True)
            delay = min(delay * 2, max_delay_s)

    async def watch(self, interval_s: float) -> None:
        """Check the alias every ``interval_s`` seconds and reload when it has moved."""
        while True:
            await asyncio.sleep(interval_s)
            await self.reload()
