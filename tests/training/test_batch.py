"""Batch scoring of case files, locally in chunks and on a Dask cluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.record import CaseRecord
from features.urgent import assess_urgency
from serving.responses import explain_cases
from tests.conftest import ChampionStore
from training import batch as scoring
from training.batch import ScoreOptions, score_file, score_file_on_dask
from training.cli import app
from training.cohort.simulate import simulate_cohort
from training.data import CaseFileError


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cases.parquet"
    cases = simulate_cohort(2_500, seed=21, setting="oncology")
    cases.insert(0, "case_id", [f"c{i:05d}" for i in range(len(cases))])
    cases.to_parquet(path, index=False)
    return path


def test_scores_match_the_api_row_for_row(
    champion_store: ChampionStore,
    cohort_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 700)  # several chunks
    out = tmp_path / "scores.parquet"
    options = ScoreOptions(keep=("case_id",), explain=True, setting="emergency")
    rows = score_file(champion_store.model.pipeline, cohort_file, out, options)
    scores = pd.read_parquet(out)
    assert rows == len(scores) == 2_500
    assert list(scores["case_id"][:3]) == ["c00000", "c00001", "c00002"]
    assert scores["spinal_malignancy"].isin([0, 1]).all()  # labels travel with the scores
    sample = pd.read_parquet(cohort_file).iloc[::97]
    cases = [
        CaseRecord(**{k: v for k, v in r.items() if not pd.isna(v)})
        for r in sample.drop(columns=["case_id", "spinal_malignancy", "diagnosis"]).to_dict(
            "records"
        )
    ]
    api = explain_cases(champion_store.model, cases, (0.01, 0.05), "emergency")
    picked = scores.iloc[sample.index]
    np.testing.assert_allclose(picked["probability"], [r["probability"] for r in api], rtol=1e-9)
    assert list(picked["risk_band"]) == [r["risk_band"] for r in api]
    assert list(picked["urgent"]) == [assess_urgency(c).flag for c in cases]
    contributions = picked.filter(like="contribution_").sum(axis=1) + picked["base_value"]
    np.testing.assert_allclose(1 / (1 + np.exp(-contributions)), picked["probability"], atol=1e-6)


def test_a_bad_row_names_its_row_across_chunks_and_writes_nothing(
    champion_store: ChampionStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 100)
    cases = simulate_cohort(500, seed=3).drop(columns=["spinal_malignancy", "diagnosis"])
    cases["age"] = cases["age"].astype("Int64")
    cases.loc[349, "age"] = 12
    source = tmp_path / "cases.parquet"
    cases.to_parquet(source, index=False)
    out = tmp_path / "scores.parquet"
    with pytest.raises(CaseFileError, match=r"column 'age': row 350 out of range"):
        score_file(champion_store.model.pipeline, source, out, ScoreOptions())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.parquet"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("cases.json", "unsupported file type"), ("absent.csv", "no such file")],
)
def test_unreadable_inputs(
    champion_store: ChampionStore, tmp_path: Path, name: str, message: str
) -> None:
    source = tmp_path / name
    if name.endswith(".json"):
        source.write_text("{}")
    with pytest.raises(CaseFileError, match=message):
        score_file(champion_store.model.pipeline, source, tmp_path / "o.parquet", ScoreOptions())


def test_existing_output_is_kept_unless_forced(
    champion_store: ChampionStore, cohort_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"precious")
    options = ScoreOptions(keep=("case_id",))
    with pytest.raises(CaseFileError, match="--force"):
        score_file(champion_store.model.pipeline, cohort_file, out, options)
    assert out.read_bytes() == b"precious"
    score_file(champion_store.model.pipeline, cohort_file, out, options, overwrite=True)
    assert len(pd.read_parquet(out)) == 2_500


def test_dask_engine_scores_the_same(
    champion_store: ChampionStore, cohort_file: Path, tmp_path: Path
) -> None:
    options = ScoreOptions(keep=("case_id",))
    local, distributed = tmp_path / "local.parquet", tmp_path / "dask"
    score_file(champion_store.model.pipeline, cohort_file, local, options)
    rows = score_file_on_dask(champion_store.model.pipeline, str(cohort_file), distributed, options)
    assert rows == 2_500
    a = pd.read_parquet(local).sort_values("case_id").reset_index(drop=True)
    b = pd.read_parquet(distributed).sort_values("case_id").reset_index(drop=True)
    np.testing.assert_allclose(a["probability"], b["probability"], rtol=1e-12)
    assert (a["urgent"] == b["urgent"]).all()


def test_cli_scores_with_the_champion(
    champion_store: ChampionStore,
    cohort_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDFLAG_HOME", str(champion_store.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "scores.parquet"
    args = ["score", "--input", str(cohort_file), "--output", str(out), "--keep", "case_id"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"model version {champion_store.result.version}" in result.output
    assert len(pd.read_parquet(out)) == 2_500
    missing = CliRunner().invoke(app, [*args, "--force", "--keep", "patient"])
    assert missing.exit_code == 2 and "'patient'" in missing.output


def test_detail_adds_the_interval_the_unrecorded_range_and_the_next_question(
    champion_store: ChampionStore, cohort_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "detailed.parquet"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--input",
            str(cohort_file),
            "--output",
            str(out),
            "--detail",
            "--keep",
            "case_id",
        ],
        env={"REDFLAG_HOME": str(champion_store.home)},
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    p = scores["probability"]
    assert (scores["interval_low"] <= p + 1e-12).all() and (
        p <= scores["interval_high"] + 1e-12
    ).all()
    assert (scores["unrecorded_low"] <= p + 1e-12).all()
    assert (p <= scores["unrecorded_high"] + 1e-12).all()
    asked = scores["next_question"][scores["next_question"] != ""]
    assert len(asked) > 0.5 * len(scores) and asked.isin(list(CaseRecord.model_fields)).all()
