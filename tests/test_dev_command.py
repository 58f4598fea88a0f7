"""`flask dev` as a real process: web, worker and mail catcher stop together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from newsletter import create_app
from newsletter.extensions import db
from tests.conftest import base_config, reset_schema
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until condition() is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def processes_in_group(group: int) -> list[int]:
    """Return the ids of the living processes of a process group, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            found.append(int(entry.name))
    return found


def answers(url: str) -> bool:
    """Return whether an HTTP GET of url gets any response."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def accepts_connections(port: int) -> bool:
    """Return whether something listens on a loopback port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_dev(tmp_path: Path, web_port: int, smtp_port: int) -> subprocess.Popen:
    """Start `flask dev` in a process group of its own on a fresh SQLite database."""
    database = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    app = create_app(base_config(database))
    reset_schema(app)
    with app.app_context():
        db.engine.dispose()
    env = {
        **os.environ,
        "NEWSLETTER_ENV": "development",
        "NEWSLETTER_SECRET_KEY": "dev-command-test",
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": database,
        "NEWSLETTER_MAILBOX_PATH": str(tmp_path / "maildir"),
        "NEWSLETTER_WORKER_IDLE_SECONDS": "0.1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "dev"]
        + ["--port", str(web_port), "--smtp-port", str(smtp_port)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigterm_stops_flask_dev_with_its_worker_and_mail_catcher(tmp_path):
    web_port, smtp_port = free_port(), free_port()
    dev = start_dev(tmp_path, web_port, smtp_port)
    try:
        healthz = f"http://127.0.0.1:{web_port}/healthz"
        wait_for(lambda: answers(healthz), 60, "the web server")
        assert accepts_connections(smtp_port)  # the mail catcher
        wait_for(lambda: len(processes_in_group(dev.pid)) >= 2, 30, "the worker")
        dev.send_signal(signal.SIGTERM)
        dev.wait(timeout=30)
        wait_for(lambda: not processes_in_group(dev.pid), 10, "no process left")
        assert dev.returncode == 0  # a polite stop, not a death by signal
        assert not accepts_connections(web_port)
        assert not accepts_connections(smtp_port)
    finally:
        if processes_in_group(dev.pid):
            os.killpg(dev.pid, signal.SIGKILL)
        dev.wait(timeout=10)
