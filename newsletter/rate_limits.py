"""Sign-up and login limits that hold across web processes and machines: a storage
for the limits library that counts in our database, and a refusal to count in each
process's memory when gunicorn runs several processes."""

from __future__ import annotations

import hashlib
import logging
import sys
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from flask import Flask
from limits.storage import MemcachedStorage, Storage
from sqlalchemy import Engine, case, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import ReturningInsert

from newsletter.config import ConfigError, settings_of
from newsletter.extensions import db, limiter
from newsletter.models.rate_limit import RateLimitCounter
from newsletter.models.types import table_of

SCHEME = "database"
# How often each process deletes the rows of windows that have ended.
CLEAN_UP_SECONDS = 60.0
IN_MEMORY = {"memory", "async+memory"}

COUNTERS = table_of(RateLimitCounter)

log = logging.getLogger(__name__)


def key_hash(key: str) -> str:
    """The stored form of a rate-limit key."""
    return hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    """Fixed-window counters in the rate_limit_counter table, shared by every web
    process on every machine that uses the database.

    `database://` counts in the app's own database. Each call runs in a short
    transaction on a connection of its own: the limit is checked before the view
    runs, and nothing here commits or rolls back the request's session.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        engine: Engine | None = None,
        clock: Callable[[], float] = time.time,
        **options: float | str | bool,
    ) -> None:
        """Count in engine's database, or in the current app's when it is None."""
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.engine = engine
        self.clock = clock
        self.cleaned_at = -CLEAN_UP_SECONDS

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """The errors that mean the database could not count."""
        return SQLAlchemyError

    def _engine(self) -> Engine:
        return self.engine if self.engine is not None else db.engine

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add amount to the key's count, starting a window of expiry seconds if
        none is running; return the new count."""
        engine = self._engine()
        now = self._now()
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # A count lost in a server crash costs nothing; waiting for the
                # disk on every attempt costs each attempt milliseconds.
                connection.execute(text("SET LOCAL synchronous_commit = off"))
            statement = _upsert(engine.dialect.name, key, amount, now, expiry)
            hits = connection.execute(statement).scalar_one()
        self._clean_up_now_and_then(engine, now)
        return hits

    def get(self, key: str) -> int:
        """Return the key's count in its running window (0 if none runs)."""
        with self._engine().connect() as connection:
            hits = connection.scalar(
                select(COUNTERS.c.hits).where(*_running(key, self._now()))
            )
        return int(hits or 0)

    def get_expiry(self, key: str) -> float:
        """Return when the key's running window ends (now if none runs)."""
        now = self._now()
        with self._engine().connect() as connection:
            ends = connection.scalar(
                select(COUNTERS.c.expires_at).where(*_running(key, now))
            )
        return (ends or now).timestamp()

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with self._engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every count; return how many keys there were."""
        with self._engine().begin() as connection:
            return connection.execute(delete(COUNTERS)).rowcount

    def decr(self, key: str, amount: int = 1) -> int:
        """Take amount off the key's count in its running window, never below 0;
        return the new count (0 if no window runs)."""
        now = self._now()
        with self._engine().begin() as connection:
            hits = connection.execute(
                update(COUNTERS)
                .where(*_running(key, now))
                .values(
                    hits=case(
                        (COUNTERS.c.hits > amount, COUNTERS.c.hits - amount), else_=0
                    )
                )
                .returning(COUNTERS.c.hits)
            ).scalar()
        return int(hits or 0)

    def clear(self, key: str) -> None:
        """Forget one key's count."""
        with self._engine().begin() as connection:
            connection.execute(delete(COUNTERS).where(_is(key)))

    def _clean_up_now_and_then(self, engine: Engine, now: datetime) -> None:
        """Delete the rows of ended windows, at most once a minute per process, in
        a transaction of its own (it holds no other row while it deletes)."""
        if self.clock() - self.cleaned_at < CLEAN_UP_SECONDS:
            return
        self.cleaned_at = self.clock()
        try:
            with engine.begin() as connection:
                connection.execute(delete(COUNTERS).where(COUNTERS.c.expires_at <= now))
        except SQLAlchemyError:
            # Another process cleans up the next time; counting goes on without it.
            log.warning("could not delete ended rate-limit windows", exc_info=True)


def _is(key: str) -> Any:
    return COUNTERS.c.key_hash == key_hash(key)


def _running(key: str, now: datetime) -> tuple[Any, Any]:
    return _is(key), COUNTERS.c.expires_at > now


def _upsert(
    dialect: str, key: str, amount: int, now: datetime, expiry: int
) -> ReturningInsert[int]:
    """One atomic statement: insert the key's row, or add to its count, or start a
    new window over an ended one."""
    new = _insert(dialect).values(
        key_hash=key_hash(key), hits=amount, expires_at=now + timedelta(seconds=expiry)
    )
    ended = COUNTERS.c.expires_at <= now
    return new.on_conflict_do_update(
        index_elements=[COUNTERS.c.key_hash],
        set_={
            "hits": case(
                (ended, new.excluded.hits), else_=COUNTERS.c.hits + new.excluded.hits
            ),
            "expires_at": case(
                (ended, new.excluded.expires_at), else_=COUNTERS.c.expires_at
            ),
        },
    ).returning(COUNTERS.c.hits)


def _insert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say what to do with a row that is there already."""
    if dialect == "postgresql":
        return postgresql.insert(COUNTERS)
    if dialect == "sqlite":
        return sqlite.insert(COUNTERS)
    raise ConfigError(
        f"NEWSLETTER_RATELIMIT_STORAGE_URI={SCHEME}:// needs SQLite or PostgreSQL, "
        f"not {dialect}; use redis:// or memcached:// instead"
    )


def take_back_this_attempt() -> None:
    """Take this request's hit off each limit that counted it: a login that
    succeeded guessed nothing. The hit was added before the view ran, so attempts
    sent at once from many processes are all counted before any is answered."""
    for counted in limiter.current_limits:
        key = counted.limit.key_for(*counted.request_args)
        try:
            _give_back(limiter.storage, key, counted.limit.get_expiry())
        except Exception:  # noqa: BLE001 - the login itself went through
            log.warning("could not take back a rate-limit hit", exc_info=True)


def login_unlocks(account: str) -> int:
    """How often the account's login lockout was lifted in the windows that may
    still run: part of the key its attempts count under (0 when unknown)."""
    try:
        return limiter.storage.get(_unlocks_key(account))
    except Exception:  # noqa: BLE001 - the limiter says why it cannot count
        return 0


def lift_login_lockout(account: str, window_seconds: int) -> None:
    """Start the account's failed-login counts afresh from every address.

    The counts are stored as hashes of keys that name the client address, so they
    cannot be found by account; instead the account's attempts move to new keys.
    The unlock count lasts one window from the first unlock: by the time it runs
    out, the counts it replaced have ended, so falling back to them locks no one.
    """
    if not limiter.enabled:
        return  # nothing counts, so nothing is locked
    limiter.storage.incr(_unlocks_key(account), window_seconds)


def _unlocks_key(account: str) -> str:
    return f"login unlocks {account}"


def _give_back(storage: Storage, key: str, expiry: int) -> None:
    """Take one hit off a key's count in any storage the limits can count in."""
    if isinstance(storage, MemcachedStorage):
        storage.storage.decr(key, 1, noreply=False)  # memcached stops at 0
    elif callable(decr := getattr(storage, "decr", None)):
        decr(key)  # this module's database and memory: never below 0
    else:
        storage.incr(key, expiry, amount=-1)  # redis


def gunicorn_workers() -> int | None:
    """Return how many worker processes the gunicorn serving this app runs, or None
    when no gunicorn is loading it.

    gunicorn keeps its settings on the objects that load the app (its arbiter, its
    application and each worker) and announces them nowhere else: the loading code
    is on the call stack, with its settings as `self.cfg`.
    """
    if "gunicorn.config" not in sys.modules:
        return None
    from gunicorn.config import Config

    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        settings = getattr(frame.f_locals.get("self"), "cfg", None)
        if isinstance(settings, Config):
            return int(settings.workers)
        frame = frame.f_back
    return None


def refuse_counting_per_process(app: Flask) -> None:
    """Refuse to start several gunicorn workers that would each count in memory:
    every limit would silently allow as many times more as there are workers."""
    uri = settings_of(app).ratelimit_storage_uri
    if not app.config.get("RATELIMIT_ENABLED", True):
        return
    if urllib.parse.urlparse(uri).scheme not in IN_MEMORY:
        return
    workers = gunicorn_workers()
    if workers is not None and workers > 1:
        raise ConfigError(
            f"NEWSLETTER_RATELIMIT_STORAGE_URI={uri} counts sign-ups and logins in "
            f"each process, and gunicorn runs {workers} worker processes: every "
            f"limit would allow {workers} times as many. Use the default "
            f"{SCHEME}:// (or a shared redis:// or memcached:// store), or run one "
            "worker."
        )


def init_app(app: Flask) -> None:
    """Check where the app's rate limits count (the storage is registered by
    importing this module)."""
    refuse_counting_per_process(app)
