"""The embedded store read without MLflow: the same model and record as MLflow's own reading."""

from __future__ import annotations

import pytest

from features import loader, registry
from features.drift import PROFILE_ARTIFACT
from tests.conftest import ChampionStore

NAME = "redflag-spinal-malignancy"
CHAMPION = f"models:/{NAME}@champion"


def test_the_direct_reading_matches_mlflows(champion_store: ChampionStore) -> None:
    direct = loader._load_directly(CHAMPION, champion_store.tracking_uri)
    assert direct is not None
    through = loader._load_through_mlflow(CHAMPION, champion_store.tracking_uri)
    assert direct[1] == through[1]  # name, version, alias, run id
    assert direct[2] == through[2]  # metrics, params, tags
    ours, theirs = direct[0][-1].booster_, through[0][-1].booster_
    assert bytes(ours.save_raw()) == bytes(theirs.save_raw())


def test_a_version_uri_and_the_alias_resolve_alike(champion_store: ChampionStore) -> None:
    version = champion_store.result.version
    found = registry.model_version(champion_store.tracking_uri, NAME, version)
    assert found is not None and found.run_id == champion_store.result.run_id
    assert loader.resolve_version(CHAMPION, champion_store.tracking_uri) == version


def test_what_it_cannot_read_is_left_to_mlflow(
    champion_store: ChampionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = champion_store.tracking_uri
    assert registry.alias_version(uri, "redflag-spinal-malignancy", "no-such-alias") is None
    assert registry.alias_version("http://127.0.0.1:5000", "redflag-spinal-malignancy", "x") is None
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    assert loader._load_directly(CHAMPION, uri) is None  # MLflow decides, and refuses


def test_a_missing_alias_still_fails_with_mlflows_words(champion_store: ChampionStore) -> None:
    with pytest.raises(loader.ModelUnavailableError, match="no model at"):
        loader.load_model("models:/redflag-spinal-malignancy@nowhere", champion_store.tracking_uri)


def test_a_run_artifact_is_read_from_the_runs_folder(champion_store: ChampionStore) -> None:
    run_id = champion_store.result.run_id
    text = registry.run_artifact(champion_store.tracking_uri, run_id, PROFILE_ARTIFACT)
    assert text is not None and '"format"' in text
    assert registry.run_artifact(champion_store.tracking_uri, run_id, "no-such-file.json") is None
