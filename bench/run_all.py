"""`make bench`: every benchmark, one after another, then the summary table.

Each ``bench/bench_*.py`` module's ``main(argv)`` returns a list of summary entries (name, value,
unit, peer, peer_value, ratio, target, met). Each runs in a process of its own (so one's imports
and memory do not weigh on the next); all share one temporary store with a champion trained on
30,000 simulated emergency cases. The entries go to ``bench/results/summary.json`` and print as a
table.

    python bench/run_all.py [--quick] [--only serving,training]

With ``--only`` the other benchmarks' entries already in the summary are kept.

``--quick`` (or ``BENCH_QUICK=1``): shorter load runs, training at 10k and 100k cases only, and
no fresh-clone run; the default run measures every figure.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
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

from bench.common import ROOT, figure, stopped, train_store  # noqa: E402

# In this order: the quick in-process ones first, the long ones (a 1M-case training, a fresh
# clone's install) last.
MODULES = ("response", "scoring", "serving", "training", "fresh_run")
TRAIN_CASES = 30_000
NEED_STORE = {"response", "scoring", "serving"}  # the others train their own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (BENCH_QUICK=1)")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(MODULES))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stopped)  # finally blocks run: what was started is stopped
    if args.quick:
        os.environ["BENCH_QUICK"] = "1"
    if args.child:
        run_child(args.child, args.child_out)
        return
    chosen = [m for m in args.only.split(",") if m] or list(MODULES)
    unknown = sorted(set(chosen) - set(MODULES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {MODULES}")
    entries = run_all(chosen)
    if args.only:  # a rerun of some: the others' latest entries stay in the summary
        entries = kept(args.out / "summary.json", chosen) + entries
    write(entries, args.out)
    print_table(entries)


def run_child(name: str, out: Path) -> None:
    """In the child process: run one module's ``main`` and write its entries to ``out``."""
    module = importlib.import_module(f"bench.bench_{name}")
    sys.argv = [str(module.__file__)]  # a main() that parses sys.argv gets its defaults
    takes_argv = bool(inspect.signature(module.main).parameters)
    entries = module.main([]) if takes_argv else module.main()
    if not entries:  # a benchmark that measured nothing says so in the table
        entries = [figure(f"bench_{name}: no summary entries", 0, "", "", None, "", False)]
    out.write_text(json.dumps(entries))


def run_all(chosen: list[str]) -> list[dict[str, Any]]:
    home = Path(tempfile.mkdtemp(prefix="redflag-bench-"))
    entries: list[dict[str, Any]] = []
    try:
        if set(chosen) & NEED_STORE:
            seconds = train_store(home, TRAIN_CASES)
            print(f"== store: {TRAIN_CASES} simulated cases trained in {seconds:.0f} s ({home})")
        env = {**os.environ, "BENCH_STORE": str(home), "REDFLAG_HOME": str(home)}
        env.pop("MLFLOW_TRACKING_URI", None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        for name in chosen:
            entries += run_one(name, env, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)  # the temporary store this run created
    return entries


def run_one(name: str, env: dict[str, str], home: Path) -> list[dict[str, Any]]:
    """One module in a child process; its entries, or one entry saying that it failed."""
    out = home / f"{name}.json"
    print(f"== bench_{name}", flush=True)
    begin = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--child", name, "--child-out", str(out)],
        env=env,
        cwd=home,
    )
    try:
        code = child.wait()
    finally:  # stopped early (Ctrl-C, SIGTERM): the child stops what it started, then ends
        if child.poll() is None:
            child.terminate()
            child.wait()
    print(f"== bench_{name}: {time.perf_counter() - begin:.0f} s", flush=True)
    if code != 0 or not out.exists():
        return [figure(f"bench_{name} FAILED (exit {code})", 0, "", "", None, "", False)]
    entries: list[dict[str, Any]] = json.loads(out.read_text())
    return [{"bench": name, **entry} for entry in entries]


def kept(summary: Path, rerun: list[str]) -> list[dict[str, Any]]:
    """The entries of ``summary`` from benchmarks not in ``rerun`` (none when it is unreadable)."""
    try:
        figures: list[dict[str, Any]] = json.loads(summary.read_text())["figures"]
    except (OSError, ValueError, KeyError):
        return []
    return [entry for entry in figures if entry.get("bench") not in rerun]


def write(entries: list[dict[str, Any]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "figures": entries,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {out / 'summary.json'}")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def print_table(entries: list[dict[str, Any]]) -> None:
    """The summary as a Markdown table (docs/performance.md carries the latest)."""
    print("\n| what | value | peer or floor | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for e in entries:
        peer = f"{e['peer']}: {_number(e.get('peer_value'), e['unit'])}" if e["peer"] else "—"
        ratio = "—" if e.get("ratio") is None else f"{e['ratio']:.2f}×"
        met = {True: "yes", False: "**no**", None: "—"}[e.get("met")]
        print(
            f"| {e['name'].strip()} | {_number(e['value'], e['unit'])} | {peer} | {ratio} "
            f"| {e['target']} | {met} |"
        )


if __name__ == "__main__":
    main()
