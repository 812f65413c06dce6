"""Past one machine: training and batch scoring on a Dask cluster through ``xgboost.dask``.

The cohort never has to fit on the client. Simulated cohorts are generated on the workers, one
partition each (partition ``i`` from seed ``(seed, i)``); case files are read as Parquet partitions.
Each row's split (train / validation / test, 60 / 20 / 20) is drawn from the same seeds, so a run is
reproducible for a given partitioning. The booster is trained on the cluster; calibration and test
metrics use bounded samples brought back to the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features import LABEL
from features.catalogue import FEATURE_NAMES
from features.model import CalibratedBoostedClassifier, RiskPipeline, make_pipeline
from features.transform import RedFlagFeatures
from training.defaults import ModelKind
from training.fit import Split, make_classifier

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

SPLIT = "_split"
TRAIN, VALIDATION, TEST = 0, 1, 2
ROWS_PER_PARTITION = 250_000
# Calibration needs a few hundred positives, not every validation row; bounded so the client copes.
MAX_CALIBRATION_ROWS = 500_000
MAX_TEST_ROWS = 1_000_000


class DaskEngineError(RuntimeError):
    """The cluster cannot be reached or used; the message says what to check."""


@contextmanager
def dask_client(scheduler: str | None, n_workers: int = 2) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a local cluster on 127.0.0.1."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise DaskEngineError(
            "the dask engine needs the 'scale' extra: pip install 'redflag[scale]'"
        ) from error
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise DaskEngineError(
                f"cannot reach the Dask scheduler at {scheduler}: {error}"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            dashboard_address=None,
            # Workers as threads of this process: they talk over inproc://, no sockets at all.
            processes=False,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _with_split(part: pd.DataFrame, seed: int, index: int) -> pd.DataFrame:
    draw = np.random.default_rng([seed, index, 1]).random(len(part))
    split = np.where(draw < 0.6, TRAIN, np.where(draw < 0.8, VALIDATION, TEST))
    return part.assign(**{SPLIT: split.astype(np.int8)})


def _simulated_partition(index: int, seed: int, setting: str, rows: int) -> pd.DataFrame:
    from training.cohort.simulate import simulate_cohort

    return _with_split(
        simulate_cohort(rows, seed=seed * 100_003 + index, setting=setting), seed, index
    )


def simulated_partitions(n_cases: int, seed: int, setting: str) -> dd.DataFrame:
    """A simulated cohort of ``n_cases`` as partitions generated on the workers."""
    import dask.dataframe as dd

    sizes = [ROWS_PER_PARTITION] * (n_cases // ROWS_PER_PARTITION)
    if n_cases % ROWS_PER_PARTITION:
        sizes.append(n_cases % ROWS_PER_PARTITION)
    return dd.from_map(
        lambda job: _simulated_partition(job[0], seed, setting, job[1]),
        list(enumerate(sizes)),
        enforce_metadata=False,
    )


def _engineered(part: pd.DataFrame) -> pd.DataFrame:
    matrix = RedFlagFeatures().transform(part)
    frame = pd.DataFrame(matrix, columns=list(FEATURE_NAMES), index=part.index)
    frame[LABEL] = part[LABEL].to_numpy(dtype=np.float64)
    frame[SPLIT] = part[SPLIT].to_numpy()
    return frame


def _sample(frame: dd.DataFrame, total: int, cap: int, seed: int) -> pd.DataFrame:
    fraction = min(1.0, cap / max(total, 1))
    part = frame if fraction >= 1.0 else frame.sample(frac=fraction, random_state=seed)
    computed: pd.DataFrame = part.compute()
    return computed


def fit_boosted_on_dask(
    client: Client,
    cases: dd.DataFrame,
    seed: int,
    params: dict[str, Any] | None = None,
    tracker_host: str | None = None,
) -> tuple[RiskPipeline, pd.DataFrame, dict[str, int]]:
    """Train on the cluster: the calibrated pipeline, a bounded sample of the test cases (as
    records, with their labels) and the size of each split.

    ``cases`` must carry the ``_split`` column (``simulated_partitions`` adds it). ``tracker_host``
    is the address XGBoost's collective tracker binds (127.0.0.1 for a local cluster, which would
    otherwise pick the machine's network interface).
    """
    import xgboost.dask as xgb_dask
    from xgboost.collective import Config

    pipeline = make_pipeline(make_classifier(ModelKind.xgboost, seed, params))
    classifier: CalibratedBoostedClassifier = pipeline.named_steps["classifier"]
    cases = cases.persist()
    engineered = cases.map_partitions(_engineered).persist()
    counts = engineered.groupby(SPLIT)[LABEL].agg(["count", "sum"]).compute()
    for split, name in ((TRAIN, "train"), (VALIDATION, "validation"), (TEST, "test")):
        if (
            split not in counts.index
            or not 0 < counts.loc[split, "sum"] < counts.loc[split, "count"]
        ):
            raise DaskEngineError(f"the {name} split has cases of only one class; use more cases")
    columns = list(FEATURE_NAMES)
    train = engineered[engineered[SPLIT] == TRAIN]
    validation = engineered[engineered[SPLIT] == VALIDATION]
    hidden = dict.fromkeys(classifier.ignored_features, np.nan)  # as CalibratedBoosted.visible
    dtrain = xgb_dask.DaskDMatrix(
        client, train[columns].assign(**hidden), train[LABEL], missing=np.nan
    )
    dvalid = xgb_dask.DaskDMatrix(
        client, validation[columns].assign(**hidden), validation[LABEL], missing=np.nan
    )
    output = xgb_dask.train(
        client,
        classifier.booster_params(),
        dtrain,
        num_boost_round=classifier.n_estimators,
        evals=[(dvalid, "validation")],
        early_stopping_rounds=classifier.early_stopping_rounds,
        verbose_eval=False,
        coll_cfg=Config(tracker_host_ip=tracker_host) if tracker_host else None,
    )
    calibration = _sample(
        validation, int(counts.loc[VALIDATION, "count"]), MAX_CALIBRATION_ROWS, seed
    )
    classifier.calibrate_booster(
        output["booster"],
        calibration[columns].to_numpy(),
        calibration[LABEL].to_numpy(),
        float(counts.loc[TRAIN, "sum"] / counts.loc[TRAIN, "count"]),
    )
    pipeline.named_steps["features"].fit(pd.DataFrame({"age": [50]}))
    sizes = {
        name: int(counts.loc[split, "count"])
        for split, name in ((TRAIN, "train"), (VALIDATION, "validation"), (TEST, "test"))
    }
    test = _sample(cases[cases[SPLIT] == TEST], sizes["test"], MAX_TEST_ROWS, seed)
    return pipeline, test.drop(columns=SPLIT).reset_index(drop=True), sizes


def fit_simulated_on_dask(
    n_cases: int,
    seed: int,
    setting: str,
    params: dict[str, Any] | None = None,
    scheduler: str | None = None,
) -> tuple[RiskPipeline, Split]:
    """What ``redflag train --engine dask`` fits: (pipeline, Split with the test sample).

    The split's train and validation parts stay on the cluster (empty here) and its ``sizes``
    give their real sizes.
    """
    with dask_client(scheduler) as client:
        cases = simulated_partitions(n_cases, seed, setting)
        # A local cluster's tracker stays on loopback; a real cluster's picks its own interface.
        tracker = None if scheduler else "127.0.0.1"
        pipeline, test, sizes = fit_boosted_on_dask(
            client, cases, seed, params, tracker_host=tracker
        )
    return pipeline, Split(test.iloc[:0], test.iloc[:0], test, sizes)
