"""Wall time of each stage of one ``redflag train``: returned with the run and logged with it.

A stage is a function decorated with ``timed``; ``stage_times`` collects every timed call made
inside it, summed by stage name, so a run reports where its time went (``bench/`` reads them).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_CURRENT: ContextVar[dict[str, float] | None] = ContextVar("redflag_stage_times", default=None)


@contextmanager
def stage_times() -> Iterator[dict[str, float]]:
    """Collect the seconds of every ``timed`` stage called inside, by stage, plus ``total``."""
    times: dict[str, float] = {}
    token = _CURRENT.set(times)
    start = time.perf_counter()
    try:
        yield times
    finally:
        times["total"] = time.perf_counter() - start
        _CURRENT.reset(token)


def timed(stage: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Add the wall time of each call to ``stage`` of the ``stage_times`` collecting, if any.

    A stage called inside another counts in both: stages are meant to be siblings.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            times = _CURRENT.get()
            if times is None:
                return function(*args, **kwargs)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[stage] = times.get(stage, 0.0) + time.perf_counter() - start

        return run

    return decorate
