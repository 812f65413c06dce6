"""What an explained prediction costs in process, against the booster's own floor.

One case: the floor is what XGBoost itself needs for one case, ``inplace_predict`` plus
``pred_contribs`` on a prepared one-row matrix (its ``DMatrix`` built with one thread and no
feature names to check, the leanest calls, as the scoring core makes them). Then, through the
scoring core (``features.scoring.score_cases``) as the API calls it: the explanation alone; with
the detail (recorded flags, the unrecorded range, the evidence interval); and the full response
of ``serving.responses.explain_cases`` with the next questions. Medians of many rounds; every
part runs once per round, so a busy machine slows them alike. One booster thread.

A batch: cases per second of ``redflag score --explain``'s scoring of a chunk
(``training.batch.score_frame``) and of the HTTP batch's body (``explain_cases`` and its JSON, as
``/v1/predict/batch`` lays it out), each against XGBoost's own ``pred_contribs`` rows per second on
the prepared ``DMatrix`` of the same cases.

    python bench/bench_response.py [--model-uri URI] [--repeat 300] [--rows 20000]

Uses the registered champion of the store ``REDFLAG_HOME`` / ``MLFLOW_TRACKING_URI`` point at.
``main`` returns (and prints as JSON) one entry per figure for ``bench/results/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pydantic_core
import xgboost as xgb

from features.loader import LoadedModel, load_model
from features.record import CaseRecord
from features.scoring import score_cases
from features.store import default_model_uri, tracking_uri
from serving.config import DEFAULT_NEXT_QUESTIONS
from serving.responses import explain_cases
from training.batch import ScoreOptions, score_frame
from training.cohort.simulate import simulate_cohort
from training.data import validate_case_frame

CASE = {
    "age": 67, "sex": "male", "history_of_cancer": True, "cancer_type": "prostate",
    "pain_region": "thoracic", "night_pain": True, "limb_weakness": True, "pain_duration_weeks": 6,
}  # fmt: skip
THRESHOLDS = (0.01, 0.05)
HTTP_BATCH = 1_000  # cases in one /v1/predict/batch body


def medians_ms(parts: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median wall time of each part in milliseconds; the parts take turns within each round."""
    times: dict[str, list[float]] = {name: [] for name in parts}
    for round_ in range(repeat + 10):
        for name, run in parts.items():
            start = time.perf_counter()
            run()
            if round_ >= 10:  # the first rounds warm up
                times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(spent) for name, spent in times.items()}


def best_pair(
    ours: Callable[[], object], peer: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Fastest wall time in seconds of each of two runs taking turns (the least disturbed by a
    shared machine, and disturbed alike)."""
    spent: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for run, times in ((ours, spent[0]), (peer, spent[1])):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return min(spent[0]), min(spent[1])


def figure(
    name: str, value: float, unit: str, peer: str, peer_value: float, ratio: float, target: str
) -> dict[str, Any]:
    """One entry of the summary; ``target`` is "<= x" or ">= x" on ``ratio``."""
    sign, bound = target.split()
    met = ratio <= float(bound) if sign == "<=" else ratio >= float(bound)
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "peer": peer,
        "peer_value": round(peer_value, 4),
        "ratio": round(ratio, 3),
        "target": target,
        "met": met,
    }


def one_case(model: LoadedModel, repeat: int) -> list[dict[str, Any]]:
    """The one-case figures: each part of the response against the booster's floor."""
    pipeline = model.pipeline
    booster = pipeline.classifier.booster_  # type: ignore[attr-defined]
    matrix = pipeline[0].transform([CASE])
    record = [CaseRecord.model_validate(CASE)]

    def floor() -> None:  # the leanest calls: one-thread DMatrix, no feature names to check
        booster.inplace_predict(matrix, predict_type="margin", missing=np.nan)
        prepared = xgb.DMatrix(matrix, missing=np.nan, nthread=1)
        booster.predict(prepared, pred_contribs=True, validate_features=False)

    parts = {
        "floor": floor,
        "explanation": lambda: score_cases(pipeline, [CASE], THRESHOLDS, explain=True),
        "detail": lambda: score_cases(pipeline, [CASE], THRESHOLDS, explain=True, detail=True),
        "full": lambda: explain_cases(model, record, THRESHOLDS, None, DEFAULT_NEXT_QUESTIONS),
    }
    ms = medians_ms(parts, repeat)
    peer = "booster floor (inplace_predict + pred_contribs, one row)"
    said = {
        "explanation": ("one case, explanation (score_cases explain)", "<= 1.5"),
        "detail": ("one case, + detail (recorded, unrecorded range, interval)", "<= 3"),
        "full": ("one case, full response (explain_cases, next questions)", "<= 3"),
    }
    return [
        figure(name, ms[key], "ms", peer, ms["floor"], ms[key] / ms["floor"], target)
        for key, (name, target) in said.items()
    ]


def batch(model: LoadedModel, rows: int, repeat: int) -> list[dict[str, Any]]:
    """The batch figures: cases/s against native ``pred_contribs`` rows/s on the same cases."""
    pipeline = model.pipeline
    booster = pipeline.classifier.booster_  # type: ignore[attr-defined]
    raw = simulate_cohort(rows, seed=7).drop(columns=["spinal_malignancy", "diagnosis"])
    cases = validate_case_frame(raw, "bench")
    records = [
        CaseRecord.model_validate({k: v for k, v in row.items() if not pd.isna(v)})
        for row in raw.head(HTTP_BATCH).to_dict(orient="records")
    ]

    def native(n: int) -> Callable[[], object]:
        prepared = xgb.DMatrix(pipeline[0].transform(cases.head(n)), missing=np.nan)
        return lambda: booster.predict(prepared, pred_contribs=True, validate_features=False)

    options = ScoreOptions(explain=True)
    ours, peer_s = best_pair(lambda: score_frame(pipeline, cases, options), native(rows), repeat)
    score, native_rows = rows / ours, rows / peer_s

    def http() -> bytes:
        body = explain_cases(model, records, THRESHOLDS, None, DEFAULT_NEXT_QUESTIONS)
        return pydantic_core.to_json({"predictions": body})

    n = len(records)
    ours, peer_s = best_pair(http, native(n), repeat)
    http_rate, native_http = n / ours, n / peer_s
    peer = "native pred_contribs on the prepared DMatrix"
    http_name = f"batch of {n}, HTTP body (explain_cases + JSON)"
    return [
        figure(
            f"batch of {rows}, redflag score --explain (score_frame)",
            score, "cases/s", peer, native_rows, score / native_rows, ">= 0.8",
        ),
        figure(
            http_name, http_rate, "cases/s", peer, native_http, http_rate / native_http, ">= 0.5"
        ),
    ]  # fmt: skip


def main() -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model-uri", default=default_model_uri())
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch-repeat", type=int, default=5)
    args = parser.parse_args()
    model = load_model(args.model_uri, tracking_uri(), threads=1)
    figures = one_case(model, args.repeat) + batch(model, args.rows, args.batch_repeat)
    for f in figures:
        print(
            f"{f['name']:62s} {f['value']:10.3f} {f['unit']:7s} vs {f['peer_value']:10.3f}"
            f"  {f['ratio']:6.2f}x  target {f['target']:6s} {'met' if f['met'] else 'MISSED'}"
        )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
