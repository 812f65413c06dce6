"""House rules a newcomer relies on: short functions, nothing pointing outside the tree."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("features", "training", "serving", "bench")
MAX_FUNCTION_LINES = 80
# Files a user's clone does not have: the team's shared notes live outside the repository.
# (Spelled in pieces, so that this file does not match its own search.)
OUTSIDE = ("../" + "shared", *(name + ".md" for name in ("REFERENCES", "DESIGN", "STACK", "STYLE")))


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_is_longer_than_a_screen(package: str) -> None:
    long = [
        f"{path.relative_to(ROOT)}:{name} ({lines} lines)"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, lines in _functions(path)
        if lines > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_nothing_in_the_repository_points_outside_it() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    pointing = [
        f"{name}: {marker}"
        for name in tracked
        if not name.startswith(".ci/") and name != "Makefile" and (ROOT / name).is_file()
        for marker in OUTSIDE
        if marker in (ROOT / name).read_text(encoding="utf-8", errors="ignore")
    ]
    assert pointing == []


def test_every_relative_link_in_the_docs_resolves() -> None:

    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://", "mailto:")):
                if not (page.parent / target).exists():
                    broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
