"""Stage times: collected by ``training.timing``, returned by ``train`` and logged with the run."""

from __future__ import annotations

import time

import pytest

from training.timing import stage_times, timed

from .conftest import TrainedStore


@timed("nap")
def _nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_stages_add_up_by_name_inside_the_collector_only() -> None:
    assert _nap(0.0) == 0.0  # no collector: the call just runs
    with stage_times() as times:
        _nap(0.02)
        _nap(0.02)
    assert times["nap"] == pytest.approx(0.04, abs=0.03)
    assert times["total"] >= times["nap"]
    with stage_times() as again:
        pass
    assert "nap" not in again and set(times) == {"nap", "total"}


def test_a_stage_that_raises_is_still_timed() -> None:
    @timed("broken")
    def broken() -> None:
        raise RuntimeError("no")

    with stage_times() as times, pytest.raises(RuntimeError):
        broken()
    assert "broken" in times


def test_a_run_returns_and_logs_where_its_time_went(trained_store: TrainedStore) -> None:
    result = trained_store.runs["xgboost"]
    stages = {"simulate", "split", "fit", "finding_priors", "evaluate", "report", "log_model"}
    assert stages <= set(result.timings)
    assert sum(result.timings[s] for s in stages) <= result.timings["total"]
    metrics = trained_store.client.get_run(result.run_id).data.metrics
    assert metrics["time_total_s"] == pytest.approx(result.timings["total"], abs=1e-3)
    assert metrics["time_fit_s"] > 0
