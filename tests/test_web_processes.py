"""Sign-up and login limits under real gunicorn with several worker processes: the
counts are shared, so each client address gets the configured number, not that
number once per process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.conftest import CSRF_PATTERN, base_config, build_app, reset_schema
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
# A gunicorn configuration that only reports each worker once its app is loaded, so
# that the attempts start when every process can take them.
READY_HOOK = """
import sys

def post_worker_init(worker):
    print("worker ready", worker.pid, file=sys.stderr, flush=True)
"""


@dataclass(frozen=True)
class Answer:
    """What the site answered to a form."""

    status: int
    body: str
    retry_after: str | None


class Visitor:
    """One browser: its own cookies, the same client address as every other."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar())
        )

    def send_form(self, path: str, fields: dict[str, str | list[str]]) -> Answer:
        """Open the form's page for its token and cookie, then post the form."""
        with self.opener.open(self.base_url + path, timeout=20) as page:
            token = CSRF_PATTERN.search(page.read().decode())
        assert token, f"no CSRF token on {path}"
        data = urllib.parse.urlencode(
            {"csrf_token": token.group(1), **fields}, doseq=True
        ).encode()
        try:
            with self.opener.open(self.base_url + path, data, timeout=20) as answer:
                return Answer(answer.status, answer.read().decode(), None)
        except urllib.error.HTTPError as error:
            body = error.read().decode()
            return Answer(error.code, body, error.headers.get("Retry-After"))


def start_gunicorn(
    tmp_path: Path, database_url: str, workers: int, **settings: str
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start `gunicorn --workers N wsgi:app`; return it, its port and its log."""
    port = free_port()
    hook = tmp_path / f"ready_{port}.py"
    hook.write_text(READY_HOOK)
    log = tmp_path / f"gunicorn_{port}.log"
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": "test-secret-key",
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": database_url,
        "NEWSLETTER_BASE_URL": f"http://127.0.0.1:{port}",
        **{f"NEWSLETTER_{key}": value for key, value in settings.items()},
    }
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}", "--config", str(hook), "wsgi:app"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return process, port, log


def wait_until_ready(process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Wait until every worker has loaded the app."""
    deadline = time.monotonic() + 30
    while log.read_text().count("worker ready") < workers:
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"gunicorn did not start:\n{log.read_text()}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn and its workers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sqlite_database(tmp_path: Path) -> str:
    """Create the schema and default themes in a SQLite file; return its URL."""
    url = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    application = build_app(base_config(url))
    reset_schema(application)
    with application.app_context():
        from newsletter.extensions import db

        db.engine.dispose()
    return url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the app with the default limits from four gunicorn workers."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    process, port, log = start_gunicorn(tmp_path, sqlite_database(tmp_path), WORKERS)
    try:
        wait_until_ready(process, log, WORKERS)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def attempts(count: int, attempt) -> list[Answer]:  # noqa: ANN001
    """Make the attempts from one client address, six at a time, so that every
    worker process takes some of them."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(attempt, range(count)))


def assert_refused_with_retry_after(answers: list[Answer]) -> None:
    """Every refusal is a 429 page saying in seconds when to try again."""
    for answer in answers:
        assert answer.status == 429
        assert answer.retry_after is not None
        assert 0 < int(answer.retry_after) <= 60
        assert "Vänta en stund" in answer.body
        assert "Du kan försöka igen om" in answer.body


def test_five_sign_ups_a_minute_hold_across_gunicorn_workers(site: str) -> None:
    def sign_up(number: int) -> Answer:
        return Visitor(site).send_form(
            "/subscribe",
            {"email": f"besok{number}@example.se", "themes": ["1", "2", "3"]},
        )

    answers = attempts(12, sign_up)
    accepted = [a for a in answers if a.status == 200]
    assert len(accepted) == 5, [a.status for a in answers]
    assert all("Titta i din inkorg" in a.body for a in accepted)
    assert_refused_with_retry_after([a for a in answers if a.status != 200])


def test_ten_login_attempts_a_minute_hold_across_gunicorn_workers(site: str) -> None:
    def log_in(number: int) -> Answer:
        return Visitor(site).send_form(
            "/editor/login", {"email": f"gissning{number}@example.se", "password": "x"}
        )

    answers = attempts(14, log_in)
    tried = [a for a in answers if a.status == 200]
    assert len(tried) == 10, [a.status for a in answers]
    assert all("Fel e-postadress eller lösenord" in a.body for a in tried)
    assert_refused_with_retry_after([a for a in answers if a.status != 200])


def test_gunicorn_refuses_several_workers_counting_in_memory(tmp_path: Path) -> None:
    process, _port, log = start_gunicorn(
        tmp_path, sqlite_database(tmp_path), 2, RATELIMIT_STORAGE_URI="memory://"
    )
    try:
        assert process.wait(timeout=30) != 0
    finally:
        stop(process)
    assert re.search(r"NEWSLETTER_RATELIMIT_STORAGE_URI=memory://", log.read_text())
    assert "2 worker processes" in log.read_text()


def test_one_gunicorn_worker_may_count_in_memory(tmp_path: Path) -> None:
    process, _port, log = start_gunicorn(
        tmp_path, sqlite_database(tmp_path), 1, RATELIMIT_STORAGE_URI="memory://"
    )
    try:
        wait_until_ready(process, log, 1)
    finally:
        stop(process)
