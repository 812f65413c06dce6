"""Offline scoring and explanation throughput, as ratios against named peers in the same run.

Peers: MLflow's own ``pyfunc`` ``predict`` on the registered model (what a data scientist would call
without redflag), and ``shap.TreeExplainer`` on the same booster (what one would use for the
explanation). Run on demand: ``python bench/bench_scoring.py [--rows N]``; nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` runs (the least disturbed by a shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    os.environ["REDFLAG_HOME"] = tempfile.mkdtemp(prefix="redflag-bench-")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    import mlflow
    import shap

    from training.batch import ScoreOptions, score_frame
    from training.cohort.simulate import simulate_cohort
    from training.data import validate_case_frame
    from training.run import TrainOptions, train

    result = train(TrainOptions(n_cases=100_000, seed=1, setting="emergency"))
    pipeline = mlflow.sklearn.load_model(result.model_uri)
    pyfunc = mlflow.pyfunc.load_model(result.model_uri)
    raw = simulate_cohort(args.rows, seed=2).drop(columns=["spinal_malignancy", "diagnosis"])
    cases = validate_case_frame(raw, "bench")
    matrix = pipeline[0].transform(cases)
    booster = pipeline[-1].booster_
    print(f"{args.rows} cases, best of {args.repeats}; {booster.num_boosted_rounds()} trees")

    ours = best_of(args.repeats, lambda: score_frame(pipeline, cases, ScoreOptions()))
    peer = best_of(args.repeats, lambda: pyfunc.predict(raw))
    print(
        f"probabilities  redflag score_frame {args.rows / ours:10.0f} cases/s   "
        f"mlflow pyfunc.predict {args.rows / peer:10.0f} cases/s   ratio {peer / ours:5.2f}x"
    )

    ours_explain = best_of(args.repeats, lambda: pipeline[-1].explain(matrix))
    explainer = shap.TreeExplainer(booster)
    peer_explain = best_of(args.repeats, lambda: explainer.shap_values(matrix))
    _, contributions = pipeline[-1].explain(matrix)
    same = np.allclose(
        contributions, pipeline[-1].slope_ * explainer.shap_values(matrix), atol=1e-5
    )
    print(
        f"explanations   redflag explain     {args.rows / ours_explain:10.0f} cases/s   "
        f"shap TreeExplainer    {args.rows / peer_explain:10.0f} cases/s   "
        f"ratio {peer_explain / ours_explain:5.2f}x   identical values (x slope): {same}"
    )


if __name__ == "__main__":
    main()
