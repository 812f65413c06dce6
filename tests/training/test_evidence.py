"""The evidence members: fitted side by side, the same members as one at a time."""

from __future__ import annotations

import numpy as np
import pytest

import training.evidence as evidence
from features.transform import RedFlagFeatures
from training.cohort.simulate import simulate_cohort
from training.evidence import MemberPlan, fit_evidence_interval
from training.fit import split_cases


def _member_log_odds(plan: MemberPlan, workers: int, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(evidence, "MAX_MEMBER_WORKERS", workers)
    monkeypatch.setattr(evidence, "_cores", lambda: 4)
    done: list[int] = []
    interval = fit_evidence_interval(plan, split_cases(simulate_cohort(5_000, 3), 3), _record(done))
    assert interval is not None and len(interval.members) == plan.n_members
    assert sorted(done) == list(range(1, plan.n_members + 1))  # every member reported once
    cases = simulate_cohort(2_000, 99, "emergency")
    return interval.member_log_odds(RedFlagFeatures().transform(cases))


def _record(done: list[int]):  # type: ignore[no-untyped-def]
    return lambda finished, total: done.append(finished)


@pytest.mark.parametrize("setting", ["emergency", None])
def test_members_fitted_at_once_are_the_members_fitted_one_by_one(
    setting: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated worlds (a setting) and bootstrap resamples of the user's cases (None)."""
    plan = MemberPlan(3, "xgboost", 5, setting, 2_000, {"learning_rate": 0.3})
    alone = _member_log_odds(plan, 1, monkeypatch)
    together = _member_log_odds(plan, 3, monkeypatch)
    np.testing.assert_array_equal(alone, together)
    assert np.ptp(np.asarray(alone), axis=1).max() > 0  # the members do differ from each other
