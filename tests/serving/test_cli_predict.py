"""`redflag predict`: offline scoring that prints the API's JSON, and one clear line on error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.serving.conftest import Store, assert_additive
from training.cli import app

runner = CliRunner()


def test_one_case_prints_what_the_api_answers(
    store: Store, client: TestClient, tmp_path: Path, case: dict[str, Any]
) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    result = runner.invoke(app, ["predict", "--input", str(path), "--setting", "emergency"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    served = client.post("/v1/predict", params={"setting": "emergency"}, json=case).json()
    assert set(printed) == set(served)
    for name in ("probability", "risk_band", "urgent", "explanation", "setting", "model"):
        assert printed[name] == served[name], name
    for name in ("interval", "unrecorded", "next_questions", "reasons"):
        assert printed[name] == served[name], name
    assert_additive(printed)


def test_next_questions_can_be_asked_for_or_turned_off(store: Store, case: dict[str, Any]) -> None:
    sparse = {"age": case["age"]}
    for k, expected in ((2, 2), (0, 0)):
        result = runner.invoke(
            app, ["predict", "-i", "-", "--next-questions", str(k)], input=json.dumps(sparse)
        )
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.stdout)["next_questions"]) == expected


def test_a_list_from_stdin_is_a_batch(store: Store, cohort: list[dict[str, Any]]) -> None:
    cases = cohort[:5]
    result = runner.invoke(app, ["predict", "-i", "-"], input=json.dumps(cases))
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["count"] == 5 and len(printed["results"]) == 5
    assert printed["results"][0]["model"]["version"] == store.version


def test_a_pinned_model_uri_is_used(store: Store, case: dict[str, Any]) -> None:
    uri = f"models:/redflag-spinal-malignancy/{store.version}"
    result = runner.invoke(app, ["predict", "-i", "-", "--model-uri", uri], input=json.dumps(case))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"]["version"] == store.version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"age": 60', "malformed JSON"),
        ('{"age": 5}', "age"),
        ('[{"age": 60}, {"age": 60, "pain_score": 99}]', "cases[1].pain_score"),
        ('{"age": 60, "pain_duration_weeks": NaN}', "pain_duration_weeks"),
        ("[]", "empty"),
        ('"hello"', "expected a case object"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(store: Store, text: str, expected: str) -> None:
    result = runner.invoke(app, ["predict", "-i", "-"], input=text)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], lines
    assert result.stdout == ""


def test_missing_file_and_model_are_clear_errors(store: Store, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["predict", "-i", str(tmp_path / "nope.json")])
    assert missing.exit_code != 0 and "cannot read" in missing.stderr
    (tmp_path / "c.json").write_text('{"age": 70}')
    no_model = runner.invoke(
        app, ["predict", "-i", str(tmp_path / "c.json"), "--model-uri", "models:/nothing@champion"]
    )
    assert no_model.exit_code != 0 and "no model at" in no_model.stderr
