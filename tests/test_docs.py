"""The repository stands alone: its docs cite what exists in it.

Every ``test_x.py::test_name`` a doc names must be a test in ``tests/``, and no tracked text
points at the conventions file or the paper copies that live outside the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEST_REF = re.compile(r"`((?:[\w/]+/)?test_\w+\.py)::(test_\w+)")


def _test_functions() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        names = set(re.findall(r"^\s*def (test_\w+)", path.read_text(), flags=re.M))
        found.setdefault(path.name, set()).update(names)
        found.setdefault(str(path.relative_to(ROOT / "tests")), set()).update(names)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_doc_test_references_exist(doc):
    tests = _test_functions()
    missing = [f"{f}::{n}" for f, n in TEST_REF.findall(doc.read_text())
               if n not in tests.get(f.removeprefix("tests/"), set())]
    assert missing == [], f"{doc.name} names tests that do not exist"


def test_no_reference_outside_the_repository():
    try:
        out = subprocess.run(["git", "grep", "-n", "-I", "-E", r"PHYSICS\.md|\.\./shared|seeds/0|00[0-4]_[0-9a-f]{16}"],
                             cwd=ROOT, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        pytest.skip("git is not available")
    hits = [line for line in out.stdout.splitlines() if not line.startswith("tests/test_docs.py:")]
    assert hits == []
