"""A pytest plugin for tests of the harness: prints each test id, whether the run
selected it, and the fixtures it asks for (`-p tests.collection_report`)."""

from __future__ import annotations

import pytest


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Print the tests that markers or keywords left out."""
    for item in items:
        _report("deselected", item)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Print the tests the run would go on to run."""
    for item in session.items:
        _report("selected", item)


def _report(state: str, item: pytest.Item) -> None:
    """Print one test as a tab-separated line."""
    fixtures = " ".join(getattr(item, "fixturenames", ()))
    print(f"collection-report\t{state}\t{item.nodeid}\t{fixtures}")
