"""A live server in a thread and Debian's chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Chromium runs sandboxed iframes (the email previews) in a process of their
    # own, and until the new page has drawn (style.css still loading) it drops a
    # click sent to the page while Playwright reports it done. In-process frames
    # take the click as soon as the page can.
    "--disable-features=IsolateSandboxedIframes",
]


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app on a free loopback port; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def live_site(folder: Path, **settings: Any) -> Iterator[tuple[Flask, str]]:
    """An app on a SQLite file of its own, served on loopback, sending its mail to a
    local mail catcher read at /dev/mail/; yield the app and its base URL."""
    from newsletter import create_app
    from newsletter.config import update_settings
    from newsletter.devmail_server import MailCatcher
    from newsletter.extensions import db
    from tests.conftest import base_config, reset_schema
    from tests.smtp import free_port

    smtp_port = free_port()
    app = create_app(
        base_config(
            f"sqlite:///{folder / 'site.sqlite3'}",
            SMTP_PORT=smtp_port,
            MAILBOX_PATH=str(folder / "maildir"),
            **settings,
        )
    )
    reset_schema(app)
    catcher = MailCatcher(str(folder / "maildir"), port=smtp_port)
    catcher.start()
    try:
        with live_server(app) as url:
            update_settings(app, BASE_URL=url)
            yield app, url
    finally:
        catcher.stop()
        with app.app_context():
            db.engine.dispose()
