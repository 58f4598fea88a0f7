"""Rate-limit counts kept in the database: counting, windows, concurrency, and what
the limiter does when it cannot count."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from flask import Flask
from limits import parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func, select, text

from newsletter.extensions import db
from newsletter.models import RateLimitCounter
from newsletter.rate_limits import DatabaseStorage
from tests.conftest import base_config, build_app, csrf_token_from, log_in
from tests.factories import PASSWORD, make_editor
from tests.smtp import free_port
from tests.test_subscriptions import sign_up

# The storage opens connections of its own, and what they commit must be seen.
pytestmark = pytest.mark.real_commits

KEY = "LIMITER/192.0.2.1/subscribe.subscribe/5/1/minute"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def storage_on(app: Flask, clock: Callable[[], float]) -> DatabaseStorage:
    """A storage counting in the app's database."""
    with app.app_context():
        return DatabaseStorage("database://", engine=db.engine, clock=clock)


def stored_rows(app: Flask) -> list[tuple[str, int]]:
    with app.app_context():
        query = select(RateLimitCounter.key_hash, RateLimitCounter.hits)
        return [tuple(row) for row in db.session.execute(query)]


def test_hits_add_up_within_a_window_and_start_again_after_it(make_app):
    clock = Clock()
    storage = storage_on(make_app(), clock)
    assert storage.get(KEY) == 0
    assert [storage.incr(KEY, 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr(KEY, 60, amount=2) == 5
    clock.now += 59.5
    assert storage.get(KEY) == 5
    assert storage.get_expiry(KEY) == pytest.approx(clock.now + 0.5)
    clock.now += 0.5
    assert storage.get(KEY) == 0
    assert storage.get_expiry(KEY) == pytest.approx(clock.now)
    assert storage.incr(KEY, 60) == 1
    assert storage.get_expiry(KEY) == pytest.approx(clock.now + 60)


def test_keys_count_apart_and_are_stored_only_as_hashes(make_app):
    app = make_app()
    storage = storage_on(app, Clock())
    storage.incr(KEY, 60)
    storage.incr("login 192.0.2.1 eva@example.se", 3600)
    assert storage.get(KEY) == 1
    rows = stored_rows(app)
    assert len(rows) == 2
    assert all(len(key) == 64 and "@" not in key for key, _hits in rows)
    storage.clear(KEY)
    assert storage.get(KEY) == 0
    assert storage.get("login 192.0.2.1 eva@example.se") == 1
    assert storage.reset() == 1
    assert stored_rows(app) == []


def test_ended_windows_are_deleted_once_a_minute(make_app):
    app = make_app()
    clock = Clock()
    storage = storage_on(app, clock)
    storage.incr("short", 10)
    storage.incr("long", 3600)
    clock.now += 30  # "short" has ended; the last clean-up was at the first hit
    storage.incr("other", 60)
    assert len(stored_rows(app)) == 3
    clock.now += 31
    storage.incr("other", 60)
    assert len(stored_rows(app)) == 2  # "short" is gone


def test_hits_from_many_threads_count_exactly_once_each(make_app):
    storage = storage_on(make_app(), Clock())
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("25 per minute")
    counts: list[int] = []
    allowed: list[bool] = []
    start = threading.Barrier(8)

    def hit() -> None:
        start.wait()
        for _ in range(10):
            counts.append(storage.incr(KEY, 60))
            allowed.append(limiter.hit(limit, "192.0.2.1"))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 81))
    assert allowed.count(True) == 25


def test_a_hit_taken_back_never_leaves_a_count_below_nothing(make_app):
    clock = Clock()
    app = make_app()
    storage = storage_on(app, clock)
    assert storage.decr(KEY) == 0
    assert stored_rows(app) == []
    assert [storage.incr(KEY, 60) for _ in range(2)] == [1, 2]
    assert [storage.decr(KEY) for _ in range(3)] == [1, 0, 0]
    assert storage.incr(KEY, 60) == 1
    clock.now += 60
    assert storage.decr(KEY) == 0
    assert storage.incr(KEY, 60) == 1


def test_logins_that_succeed_leave_no_count_in_the_database(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    with app.app_context():
        make_editor(email="eva@example.se")
    for _ in range(35):
        log_in(app.test_client(), "eva@example.se")  # each one a 302
    with app.app_context():
        counted = db.session.scalar(select(func.sum(RateLimitCounter.hits)))
    assert counted == 0


def test_an_unlock_counted_in_the_database_lifts_the_lockout(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="1000 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="2 per hour",
    )
    with app.app_context():
        make_editor(email="eva@example.se")
    codes = [login_status(app, "guess") for _ in range(3)]
    assert codes == [200, 200, 429]
    result = app.test_cli_runner().invoke(args=["editors", "unlock", "eva@example.se"])
    assert result.exit_code == 0, result.output
    assert login_status(app, PASSWORD) == 302


def login_status(app: Flask, password: str) -> int:
    client = app.test_client()
    return client.post(
        "/editor/login",
        data={
            "csrf_token": csrf_token_from(client),
            "email": "eva@example.se",
            "password": password,
        },
    ).status_code


def test_a_throttled_sign_up_counted_in_the_database_says_when_to_try_again(
    make_app,
):
    app = make_app(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT="2 per minute")
    client = app.test_client()
    codes = [sign_up(client, f"p{n}@example.se").status_code for n in range(2)]
    refused = sign_up(client, "p2@example.se")
    assert codes == [200, 200]
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    page = refused.get_data(as_text=True)
    assert "Vänta en stund" in page
    assert re.search(r"Du kan försöka igen om (\d+ sekunder|1 minut)\.", page)
    with app.app_context():
        counted = db.session.scalar(select(func.sum(RateLimitCounter.hits)))
    assert counted == 3


def test_a_refusal_for_most_of_an_hour_says_how_many_minutes_are_left(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT="1 per hour")
    client = app.test_client()
    assert sign_up(client, "p0@example.se").status_code == 200
    refused = sign_up(client, "p1@example.se")
    assert 3590 < int(refused.headers["Retry-After"]) <= 3600
    assert "Du kan försöka igen om 60 minuter." in refused.get_data(as_text=True)


def test_sign_ups_go_through_when_the_limits_cannot_be_counted(make_app, caplog):
    app = make_app(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT="1 per minute")
    with app.app_context():
        db.session.execute(text("DROP TABLE rate_limit_counter"))
        db.session.commit()
    client = app.test_client()
    codes = [sign_up(client, f"p{n}@example.se").status_code for n in range(2)]
    assert codes == [200, 200]
    assert "Failed to rate limit" in caplog.text


def test_an_unreachable_database_leaves_the_answer_to_the_page(caplog):
    closed = f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/newsletter"
    app = build_app(base_config(closed, TESTING=False, RATELIMIT_ENABLED=True))
    response = app.test_client().post("/subscribe", data={"email": "a@example.se"})
    # The limiter let the request through; the page found the database down.
    assert "Failed to rate limit. Swallowing error" in caplog.text
    assert response.status_code in {500, 503}
