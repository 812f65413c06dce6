"""Offline scoring and explanation throughput, as ratios against named peers in the same run.

- `redflag score --explain` (``training.batch.score_frame`` with explanations) against the
  booster's own floor: ``pred_contribs`` on the prepared matrix of the same cases.
- Probabilities (``score_frame``) against MLflow's ``pyfunc`` ``predict`` of the registered model.
- The explanation (``explain``, calibrated log-odds) against ``shap.TreeExplainer`` on the same
  booster; the values are checked identical (times the calibration slope).

    python bench/bench_scoring.py [--rows N] [--store DIR]

Uses the champion of ``--store`` / ``BENCH_STORE``; without one it trains a small model into a
temporary store. Best of ``--repeats`` runs each (the least disturbed by a shared machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure, quick, train_store  # noqa: E402

MODEL = "models:/redflag-spinal-malignancy@champion"


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000 if quick() else 20_000)
    parser.add_argument("--repeats", type=int, default=3)
    store = os.environ.get("BENCH_STORE")
    parser.add_argument("--store", type=Path, default=Path(store) if store else None)
    args = parser.parse_args(argv)
    home = args.store or Path(tempfile.mkdtemp(prefix="redflag-bench-"))
    try:
        if args.store is None:
            train_store(home, 30_000)
        return measure(home, args.rows, args.repeats)
    finally:
        if args.store is None:
            shutil.rmtree(home, ignore_errors=True)  # the temporary store this run created


def measure(home: Path, rows: int, repeats: int) -> list[dict[str, Any]]:
    import mlflow
    import shap
    import xgboost as xgb

    from features.catalogue import FEATURE_NAMES
    from features.loader import load_model
    from training.batch import ScoreOptions, score_frame
    from training.cohort.simulate import simulate_cohort
    from training.data import validate_case_frame

    store = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    pipeline = load_model(MODEL, store).pipeline
    mlflow.set_tracking_uri(store)
    pyfunc = mlflow.pyfunc.load_model(MODEL)
    raw = simulate_cohort(rows, seed=2).drop(columns=["spinal_malignancy", "diagnosis"])
    cases = validate_case_frame(raw, "bench")
    matrix = pipeline[0].transform(cases)
    booster = pipeline[-1].booster_
    names = list(FEATURE_NAMES)
    print(f"{rows} cases, best of {repeats}; {booster.num_boosted_rounds()} trees")

    def floor() -> object:
        dmatrix = xgb.DMatrix(matrix, missing=np.nan, feature_names=names)
        return booster.predict(dmatrix, pred_contribs=True)

    def rate(work: Callable[[], object]) -> float:
        return rows / best_of(repeats, work)

    explained = rate(lambda: score_frame(pipeline, cases, ScoreOptions(explain=True)))
    contribs = rate(floor)
    probabilities = rate(lambda: score_frame(pipeline, cases, ScoreOptions()))
    peer = rate(lambda: pyfunc.predict(raw))
    ours_explain = rate(lambda: pipeline[-1].explain(matrix))
    explainer = shap.TreeExplainer(booster)
    shap_rate = rate(lambda: explainer.shap_values(matrix))
    _, contributions = pipeline[-1].explain(matrix)
    same = np.allclose(
        contributions, pipeline[-1].slope_ * explainer.shap_values(matrix), atol=1e-5
    )
    print(f"explanations identical to shap's (times the slope): {same}")
    return [
        figure("`redflag score --explain`, explained cases", explained, "cases/s",
               "booster pred_contribs on the prepared matrix", contribs, "≥ 0.8×",
               explained / contribs >= 0.8),
        figure("batch probabilities (score_frame)", probabilities, "cases/s",
               "mlflow pyfunc.predict", peer, "—", None),
        figure(f"explanation alone (identical: {same})", ours_explain, "cases/s",
               "shap.TreeExplainer", shap_rate, "—", same),
    ]  # fmt: skip


if __name__ == "__main__":
    for entry in main():
        print(entry)
