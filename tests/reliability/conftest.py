"""What the service survives: each test here runs short in ``make test`` and long in
``make reliability`` (``RELIABILITY_SCALE=full``), and the session ends with one summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.processes import Store, serve, train_into

__all__ = ["serve"]  # the fixture, shared by the tests of this package

# Figures the tests report, by section; printed as one table when the session ends.
FIGURES: dict[str, dict[str, Any]] = {}
# Each fault and each bad dataset is one test: tried, and survived (refused) or not.
OUTCOMES: dict[str, dict[str, bool]] = {"faults": {}, "bad data": {}}
_OUTCOME_FILES = {"test_faults.py": "faults", "test_bad_data.py": "bad data"}


def full_scale() -> bool:
    """True in ``make reliability``: the long versions (thousands of requests, minutes of load)."""
    return os.environ.get("RELIABILITY_SCALE", "").strip().lower() == "full"


def record(section: str, **values: Any) -> None:
    """Report figures of one section for the summary (later values add to earlier ones)."""
    FIGURES.setdefault(section, {}).update(values)


@pytest.fixture(scope="package")
def reliability_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store with one small champion, shared by the tests that only read it."""
    return train_into(tmp_path_factory.mktemp("reliability-home"), seed=5)


@pytest.fixture(scope="package", autouse=True)
def no_leaked_environment() -> Iterator[None]:
    """Tests here pass stores to processes explicitly; none may leave one in the environment."""

    def pointers() -> dict[str, str]:
        return {
            k: v
            for k, v in os.environ.items()
            if k.startswith("REDFLAG_") or k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
        }

    before = pointers()
    yield
    assert pointers() == before


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    section = _OUTCOME_FILES.get(Path(report.location[0]).name)
    if section is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        OUTCOMES[section][report.nodeid.split("::", 1)[1]] = report.passed


def summary_lines() -> list[str]:
    """The one summary of a run: fuzzing, load with a swap, faults, bad data."""
    lines = []
    fuzz = FIGURES.get("fuzz")
    if fuzz:
        lines.append(
            f"fuzzing      {fuzz['requests']:>6} requests generated, {fuzz['server_errors']} 5xx, "
            f"{fuzz['nonconforming']} not conforming to the schema"
        )
    load = FIGURES.get("load")
    if load:
        lines.append(
            f"load + swap  {load['requests_per_s']:>6.0f} requests/s, p50 {load['p50_ms']:.1f} ms, "
            f"p99 {load['p99_ms']:.1f} ms, {load['errors']} errors, {load['clients']} clients, "
            f"{load['seconds']:.0f} s, {load['workers']} workers, versions seen "
            f"{'+'.join(load['versions'])}, {load['mixed']} mixed answers"
        )
    for section, label in (("faults", "survived"), ("bad data", "refused")):
        tried = OUTCOMES[section]
        if tried:
            good = sum(tried.values())
            failed = sorted(name for name, ok in tried.items() if not ok)
            note = f" (not: {', '.join(failed)})" if failed else ""
            lines.append(f"{section:<12} {good:>6} {label} of {len(tried)} tried{note}")
    for section in sorted(set(FIGURES) - {"fuzz", "load"}):
        values = ", ".join(f"{k} {v}" for k, v in FIGURES[section].items())
        lines.append(f"{section:<12} {values}")
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = summary_lines()
    if not lines:
        return
    scale = "full" if full_scale() else "short (make test)"
    terminalreporter.section(f"reliability summary, {scale}")
    for line in lines:
        terminalreporter.write_line(line)
    target = os.environ.get("RELIABILITY_RESULTS")
    if target:
        payload = {"scale": scale, "figures": FIGURES, "outcomes": OUTCOMES, "summary": lines}
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json.dumps(payload, indent=2) + "\n")
