"""The test harness itself: markers select what a machine without a piece can run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRESQL_FIXTURES = {"postgres_url", "postgresql_schema", "own_postgres"}


def collect(*options: str) -> dict[str, list[tuple[str, set[str]]]]:
    """Collect the suite with these options; return the selected and deselected
    test ids, each with the fixtures it asks for."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p"]
        + ["no:cacheprovider", "-p", "tests.collection_report", *options, "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests: dict[str, list[tuple[str, set[str]]]] = {"selected": [], "deselected": []}
    for line in result.stdout.splitlines():
        tag, state, test_id, fixtures = (line.split("\t") + ["", "", ""])[:4]
        if tag == "collection-report":
            tests[state].append((test_id, set(fixtures.split())))
    return tests


def needs_postgresql(test_id: str, fixtures: set[str]) -> bool:
    """Return whether a test runs on the PostgreSQL parameter or asks for a
    PostgreSQL database by name."""
    parameters = re.split(r"[\[\]-]", test_id.partition("[")[2])
    return "postgresql" in parameters or bool(fixtures & POSTGRESQL_FIXTURES)


def test_deselecting_postgresql_leaves_out_exactly_the_tests_that_need_it() -> None:
    """`-m "not postgresql"` lets a machine without PostgreSQL run everything else."""
    tests = collect("-m", "not postgresql")
    assert [
        t for t, fixtures in tests["selected"] if needs_postgresql(t, fixtures)
    ] == []
    assert tests["deselected"]
    assert [
        t for t, fixtures in tests["deselected"] if not needs_postgresql(t, fixtures)
    ] == []
