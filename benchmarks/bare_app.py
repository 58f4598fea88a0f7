"""The baseline for the load benchmark: a bare Flask endpoint, nothing else."""

from flask import Flask


def create_app() -> Flask:
    """A Flask app that answers one fixed page."""
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return "<!doctype html><title>ok</title><p>ok</p>"

    return app
