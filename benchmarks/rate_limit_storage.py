"""What counting sign-up and login attempts in the database costs: the time of one
hit of a limit (what every limited POST pays) in the database storage against the
per-process memory storage, measured in the same run, and the sign-up POST's
latency through the Flask test client with each.

    python benchmarks/rate_limit_storage.py [--hits 2000] [--posts 300]
        [--postgres postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask
from limits import parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from benchmarks.common import empty_schema
from newsletter import create_app
from newsletter.extensions import db
from newsletter.rate_limits import DatabaseStorage


def app_on(url: str, **config: object) -> Flask:
    """An app on an emptied database."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True}
        | config
    )
    empty_schema(app)
    return app


def hit_times(storage: Storage, hits: int) -> list[float]:
    """Seconds per hit, each on a key of its own address."""
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("5 per minute")
    times = []
    for number in range(hits):
        start = time.perf_counter()
        limiter.hit(limit, f"192.0.2.{number % 250}", "subscribe.subscribe")
        times.append(time.perf_counter() - start)
    return times


def post_times(app: Flask, posts: int) -> list[float]:
    """Seconds per sign-up POST (each from another address, all within limits)."""
    client = app.test_client()
    times = []
    for number in range(posts):
        data = {"email": f"p{number}@example.se", "themes": ["1"]}
        address = {"REMOTE_ADDR": f"10.{number // 250}.{number % 250}.1"}
        start = time.perf_counter()
        response = client.post("/subscribe", data=data, environ_base=address)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return times


def median_ms(times: list[float]) -> float:
    """The median of times, in milliseconds."""
    return statistics.median(times) * 1000


def measure(name: str, url: str, hits: int, posts: int) -> None:
    """Print one engine's figures against memory's."""
    app = app_on(url)
    with app.app_context():
        database = median_ms(hit_times(DatabaseStorage(engine=db.engine), hits))
    memory = median_ms(hit_times(MemoryStorage(), hits))
    print(f"{name:10} one hit: database {database:.3f} ms, memory {memory:.4f} ms")
    for_posts = {}
    for uri in ("memory://", "database://"):
        app = app_on(url, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=uri)
        for_posts[uri] = median_ms(post_times(app, posts))
        with app.app_context():
            db.engine.dispose()
    ratio = for_posts["database://"] / for_posts["memory://"]
    print(
        f"{name:10} sign-up POST: database {for_posts['database://']:.2f} ms, "
        f"memory {for_posts['memory://']:.2f} ms, ratio {ratio:.2f}"
    )


def main() -> None:
    """Measure on SQLite, and on PostgreSQL when given."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        measure("SQLite", url, args.hits, args.posts)
    if args.postgres:
        measure("PostgreSQL", args.postgres, args.hits, args.posts)


if __name__ == "__main__":
    main()
