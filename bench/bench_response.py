"""What each part of one explained prediction costs, against the booster's own floor.

The floor is what XGBoost itself needs for one case: ``inplace_predict`` plus ``pred_contribs`` on a
prepared one-row matrix. Then, through the scoring core (``features.scoring.score_cases``) as the
API calls it: the explanation alone; with the detail (recorded flags, the unrecorded range, the
evidence interval); with the next questions too. Medians of many runs, one booster thread.

    python bench/bench_response.py [--model-uri URI] [--repeat 300]

Uses the registered champion of the store ``REDFLAG_HOME`` / ``MLFLOW_TRACKING_URI`` point at.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import xgboost as xgb

from features.catalogue import FEATURE_NAMES
from features.loader import load_model
from features.scoring import score_cases
from features.store import default_model_uri, tracking_uri

CASE = {
    "age": 67, "sex": "male", "history_of_cancer": True, "cancer_type": "prostate",
    "pain_region": "thoracic", "night_pain": True, "limb_weakness": True, "pain_duration_weeks": 6,
}  # fmt: skip


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``run`` in milliseconds, after a warm-up."""
    for _ in range(10):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=default_model_uri())
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    model = load_model(args.model_uri, tracking_uri(), threads=1)
    pipeline = model.pipeline
    booster = pipeline.classifier.booster_  # type: ignore[attr-defined]
    matrix = pipeline[0].transform([CASE])
    names = list(FEATURE_NAMES)

    def floor() -> None:
        booster.inplace_predict(matrix, predict_type="margin", missing=np.nan)
        booster.predict(
            xgb.DMatrix(matrix, missing=np.nan, feature_names=names), pred_contribs=True
        )

    parts = {
        "booster floor (inplace_predict + pred_contribs)": floor,
        "explanation (score_cases explain)": lambda: score_cases(pipeline, [CASE], explain=True),
        "+ detail (recorded, unrecorded range, interval)": lambda: score_cases(
            pipeline, [CASE], explain=True, detail=True
        ),
        "+ next questions (the full response)": lambda: score_cases(
            pipeline, [CASE], explain=True, detail=True, next_questions=5
        ),
    }
    results = {name: median_ms(run, args.repeat) for name, run in parts.items()}
    base = next(iter(results.values()))
    for name, ms in results.items():
        print(f"{name:52s} {ms:7.3f} ms  {ms / base:5.2f}x the floor")


if __name__ == "__main__":
    main()
