"""Training's cost by stage at 10k, 100k and 1M simulated cases, and `redflag train` in all.

Each size is one real `redflag train --n-cases N` (the default setting) in a process of its own
and a temporary store, with the training functions it calls wrapped in timers: simulating the
cohort, fitting the booster, calibrating it, fitting the evidence members, the evaluation (scoring
the test split, metrics, plots, model card) and, the rest of ``train()``, the MLflow logging and
registration. Times are exclusive (a calibration inside the fit counts as calibration). The
process's wall time, from its start to the registered model, is the "everything" figure.

    python bench/bench_training.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import clean_env, figure, quick, stopped  # noqa: E402

# (module, attribute, stage): what `training.run.train` calls, looked up when it calls them.
STAGES = (
    ("training.run", "train", "logging and registration"),
    ("training.run", "load_training_cases", "simulate"),
    ("training.run", "_fit", "fit"),
    ("features.model", "CalibratedBoostedClassifier.calibrate_booster", "calibrate"),
    ("training.run", "fit_evidence_interval", "evidence members"),
    ("training.run", "measure_interval", "evidence members"),
    ("training.run", "_evaluate", "evaluation"),
    ("training.run", "_report", "evaluation"),
)
TARGET_100K_S = 20.0
TARGET_SIMULATE_1M_S = 5.0


class StageTimer:
    """Exclusive wall time per stage: a stage's time excludes the stages called inside it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._stack: list[list[Any]] = []  # [stage, start, time spent in inner stages]

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            # A calibration inside the evidence members is part of fitting the members.
            if stage == "calibrate" and self._stack and self._stack[-1][0] != "fit":
                return function(*args, **kwargs)
            frame = [stage, time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                self._stack.pop()
                spent = time.perf_counter() - frame[1]
                self.seconds[stage] = self.seconds.get(stage, 0.0) + spent - frame[2]
                if self._stack:
                    self._stack[-1][2] += spent

        return timed

    def install(self) -> list[str]:
        """Wrap every stage function that exists; the ones missing (renamed since)."""
        missing = []
        for module_name, attribute, stage in STAGES:
            owner: Any = importlib.import_module(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            if not hasattr(owner, name):
                missing.append(f"{module_name}.{attribute}")
                continue
            setattr(owner, name, self.wrap(stage, getattr(owner, name)))
        return missing


def run_child(n_cases: int, out: Path) -> None:
    """In the child: `redflag train --n-cases N` with the stages timed; write them to ``out``."""
    timer = StageTimer()
    missing = timer.install()
    import training.cli

    sys.argv = ["redflag", "train", "--n-cases", str(n_cases)]
    try:
        training.cli.main()
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    finally:
        out.write_text(json.dumps({"stages": timer.seconds, "missing": missing}))


def time_size(n_cases: int) -> dict[str, Any]:
    """One size in a fresh store: the process's wall time and its stages."""
    home = Path(tempfile.mkdtemp(prefix="redflag-bench-train-"))
    try:
        out = home / "stages.json"
        command = [sys.executable, __file__, "--child", str(n_cases), "--out", str(out)]
        begin = time.perf_counter()
        with (home / "train.log").open("wb") as log:  # its progress bars and report
            done = subprocess.run(command, env=clean_env(home), cwd=home, stdout=log, stderr=log)
        if done.returncode != 0:
            print((home / "train.log").read_text(errors="replace")[-3000:])
            raise RuntimeError(f"training {n_cases} cases failed (exit {done.returncode})")
        wall = time.perf_counter() - begin
        record: dict[str, Any] = json.loads(out.read_text())
    finally:
        shutil.rmtree(home, ignore_errors=True)  # the temporary store this run created
    record["wall"] = wall
    stages = record["stages"]
    stages["start-up (interpreter, imports, CLI)"] = wall - sum(stages.values())
    print(
        f"{n_cases:>9,} cases: {wall:6.1f} s  "
        + "  ".join(f"{k} {v:.1f}" for k, v in stages.items())
    )
    if record["missing"]:
        print(f"  not timed (renamed?): {', '.join(record['missing'])}")
    return record


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "10000,100000" if quick() else "10000,100000,1000000"
    parser.add_argument("--sizes", default=default)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.out)
        return []
    sizes = [int(size) for size in args.sizes.split(",")]
    records = {n: time_size(n) for n in sizes}
    return figures(records)


def figures(records: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    entries = []
    for n, record in records.items():
        total = record["wall"]
        if n == 100_000:
            target, met = f"≤ {TARGET_100K_S:g} s", total <= TARGET_100K_S
        else:
            target, met = "—", None
        entries.append(
            figure(f"`redflag train` at {n:,} cases, everything", total, "s", "", None, target, met)
        )
        for stage, seconds in record["stages"].items():
            entries.append(figure(f"  {n:,}: {stage}", seconds, "s", "", None, "—", None))
    if 1_000_000 in records:
        simulate = records[1_000_000]["stages"].get("simulate", float("nan"))
        entries.append(
            figure("simulating 1,000,000 cases", simulate, "s", "", None,
                   f"≤ {TARGET_SIMULATE_1M_S:g} s", simulate <= TARGET_SIMULATE_1M_S)
        )  # fmt: skip
    if 100_000 in records and 1_000_000 in records:
        big, linear = records[1_000_000]["wall"], 10 * records[100_000]["wall"]
        entries.append(
            figure("`redflag train` at 1M vs linear from 100k", big, "s",
                   "10 × the 100k run", linear, "≤ 1×", big <= linear)
        )  # fmt: skip
    return entries


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stopped)  # finally blocks run: what was started is stopped
    for entry in main():
        print(entry)
