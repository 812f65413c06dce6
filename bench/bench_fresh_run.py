"""`make run` on a fresh clone, to the first answer: what a new user waits for.

Clones this repository's committed HEAD into a temporary directory, runs `make run` there on a
free port of 127.0.0.1 (a new virtual environment and install, the default model trained into the
clone's own store, then `redflag serve`) and polls ``POST /v1/predict`` until it answers 200.
Parts: the install (until the venv's stamp file appears) and the rest (training and start-up).
Long (minutes); part of the default `make bench`, left out of ``--quick``.

    python bench/bench_fresh_run.py
"""

from __future__ import annotations

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

from bench.common import LOCAL, ROOT, figure, free_port, quick, start, status_of, stop, stopped  # noqa: E402
from serving.examples import METASTASIS_SUSPECTED  # noqa: E402

TARGET_S = 120.0
TIMEOUT_S = 1800.0


def fresh_env() -> dict[str, str]:
    """This environment without anything that would point the clone at this checkout or store."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "MLFLOW_TRACKING_URI", "BENCH_STORE")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDFLAG_") and k not in dropped}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def first_answer(folder: Path, port: int) -> dict[str, float]:
    """Seconds from `make run` to the stamp of the install and to the first 200 answer."""
    clone = folder / "redflag"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    command = ["make", "run", f"HOST={LOCAL}", f"PORT={port}"]
    body = json.dumps(METASTASIS_SUSPECTED).encode()
    url = f"http://{LOCAL}:{port}/v1/predict"
    begin = time.perf_counter()
    process = start(command, fresh_env(), clone / "make-run.log")  # run in the clone
    try:
        installed = None
        while time.perf_counter() - begin < TIMEOUT_S:
            if process.poll() is not None:
                raise RuntimeError(f"make run exited with {process.returncode}; see the log")
            if installed is None and (clone / ".venv" / ".installed-run").exists():
                installed = time.perf_counter() - begin
            if status_of(url, body) == 200:
                answered = time.perf_counter() - begin
                return {"total": answered, "install": installed or answered}
            time.sleep(0.5)
        raise RuntimeError(f"no answer within {TIMEOUT_S:.0f} s")
    finally:
        stop(process)  # make, and the redflag serve it started, by their group's id


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    if quick():
        print("--quick: the fresh-clone run is left out")
        return []
    folder = Path(tempfile.mkdtemp(prefix="redflag-fresh-"))
    try:
        times = first_answer(folder, free_port())
    except Exception:
        log = folder / "redflag" / "make-run.log"
        if log.exists():
            print(log.read_text(errors="replace")[-3000:])
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the temporary clone this run created
    total, install = times["total"], times["install"]
    print(f"fresh clone: first answer after {total:.0f} s (install {install:.0f} s)")
    return [
        figure("`make run` on a fresh clone to the first answer (long)", total, "s", "", None,
               f"≤ {TARGET_S:g} s", total <= TARGET_S),
        figure("  of which the install", install, "s", "", None, "—", None),
        figure("  of which training and start-up", total - install, "s", "", None, "—", None),
    ]  # fmt: skip


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stopped)  # finally blocks run: what was started is stopped
    for entry in main():
        print(entry)
