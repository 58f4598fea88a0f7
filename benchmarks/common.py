"""Shared set-up for the benchmark scripts."""

from __future__ import annotations

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
