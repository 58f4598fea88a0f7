"""Shared set-up for the benchmark scripts."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

from flask import Flask

from newsletter.extensions import db
from newsletter.services import themes


def empty_schema(app: Flask) -> None:
    """Drop and create every table, then add the default themes."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        themes.ensure_default_themes()
        db.session.commit()


def in_child(step: Callable[..., dict[str, float]], *args: object) -> dict[str, float]:
    """Run one step in a fresh process, so that its memory and caches are its own."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_report, args=(queue, step, *args))
    child.start()
    outcome = queue.get()
    child.join()
    return outcome


def _report(queue: multiprocessing.Queue, step: Callable, *args: object) -> None:
    """Put a step's figures on the queue."""
    queue.put(step(*args))
