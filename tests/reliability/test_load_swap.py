"""Load with a champion swap: a real ``redflag serve`` polling its alias, clients posting cases
without pause, and a new version promoted halfway. No request may fail, both versions must
answer, and no answer may mix them.
"""

from __future__ import annotations

import asyncio
import time

from tests.reliability.conftest import full_scale, record
from tests.reliability.load import run_load
from tests.reliability.processes import ServeFn, Store, set_alias, train_into
from tests.serving.conftest import cohort_records

# make reliability: 5 minutes at 64 clients on two worker processes; make test: 10 s at 8.
SECONDS, CLIENTS, WORKERS = (300.0, 64, 2) if full_scale() else (10.0, 8, 1)
POLL_S = 1.0


def test_champion_swap_under_load_fails_no_request(
    reliability_store: Store, serve: ServeFn
) -> None:
    store = reliability_store
    env = store.env(REDFLAG_RELOAD_INTERVAL_S=str(POLL_S), REDFLAG_LOG_LEVEL="WARNING")
    new = train_into(store.home, seed=6, n_cases=2_000)  # registered as challenger
    served = serve(env, "--workers", str(WORKERS))
    promoted_at: list[float] = []

    async def promote() -> None:
        await asyncio.to_thread(set_alias, env, "champion", new.version)
        promoted_at.append(time.monotonic())

    try:
        result = asyncio.run(
            run_load(served.url, cohort_records(200, seed=3), CLIENTS, SECONDS, promote)
        )
    finally:
        set_alias(env, "champion", store.version)  # the other tests serve the first version
    runs = {store.version: store.run_id, new.version: new.run_id}
    versions = {version for version, _ in result.answers}
    mixed = sum(runs.get(version or "") != run_id for version, run_id in result.answers)
    # Every worker has polled the alias within one interval (and a load) of the promotion.
    settled = promoted_at[0] + POLL_S + 5
    late_old = sum(
        version == store.version
        for (version, _), ended in zip(result.answers, result.ended_at, strict=True)
        if ended > settled
    )
    record("load", **result.figures(), workers=WORKERS, versions=sorted(versions), mixed=mixed)
    assert result.errors == []
    assert versions == {store.version, new.version}
    assert mixed == 0
    assert late_old == 0
    assert "Traceback" not in served.log_text()
