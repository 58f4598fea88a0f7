"""Sign-up latency at a fixed arrival rate, per database engine, under gunicorn.

    python benchmarks/signup_latency.py [--rate 100] [--seconds 10] [--workers 2]
        [--postgres postgresql+psycopg://user:pw@127.0.0.1/any_db] [--breakdown]
        [--outbox 100000]

Open loop: request n is due at start + n/rate whatever happened before, and its
latency counts from that moment, so that queueing behind a slow answer shows.
PostgreSQL runs in a database of its own, created and dropped here (the role
needs CREATEDB); without --postgres (or NEWSLETTER_TEST_POSTGRES_URL) only SQLite
is measured. --breakdown also prints where one sign-up spends its time in-process.
Target: p99 < 50 ms at 100 requests/s on each engine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import free_port, signup_latency, start_gunicorn  # noqa: E402


def prepare(url: str) -> dict[str, str]:
    """The schema and the demo content in the database at url; return the env."""
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": "benchmark",
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": url,
        "NEWSLETTER_SIGNUP_RATE_LIMIT": "1000000 per minute",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([*flask, *command], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
    return env


def fill_outbox(url: str, count: int) -> None:
    """Add count sent confirmation emails of other people, as a year of sign-ups
    leaves behind: the sign-up's throttle must not read them all."""
    from sqlalchemy import create_engine, insert

    from newsletter.models import OutboundMessage
    from newsletter.models.types import table_of, utcnow

    engine = create_engine(url)
    now = utcnow()
    rows = [
        {"template": "confirm_subscription", "context": {}, "language": "sv",
         "to_address": f"old{n}@example.se", "to_name": "", "status": "sent",
         "attempts": 1, "next_attempt_at": now, "last_error": "", "created_at": now}
        for n in range(count)
    ]  # fmt: skip
    with engine.begin() as connection:
        for start in range(0, count, 10_000):
            batch = rows[start : start + 10_000]
            connection.execute(insert(table_of(OutboundMessage)), batch)
    engine.dispose()


def own_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create a scratch database next to admin_url's; return its URL and name."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"newsletter_signup_bench_{os.getpid()}"
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), name


def drop_postgres_database(admin_url: str, name: str) -> None:
    """Drop the scratch database."""
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(admin_url).set(drivername="postgresql")
    with psycopg.connect(
        plain.render_as_string(hide_password=False), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(label: str, env: dict[str, str], args: argparse.Namespace) -> None:
    """Run gunicorn on env's database and print p50/p99/max of the sign-ups."""
    port = free_port()
    server = start_gunicorn("wsgi:app", port, args.workers, env)
    try:
        signup_latency(port, args.rate, 1)  # warm up: connections, templates
        latencies = sorted(signup_latency(port, args.rate, args.seconds))
    finally:
        server.terminate()
        server.wait(10)
    ms = [x * 1000 for x in latencies]
    p99 = ms[max(0, int(len(ms) * 0.99) - 1)]
    print(f"{label:10} {args.rate:>5}/s {len(ms):>6} {statistics.median(ms):>8.1f} "
          f"{p99:>8.1f} {ms[-1]:>8.1f}")  # fmt: skip


def breakdown(env: dict[str, str], count: int = 300) -> None:
    """Profile sign-ups in-process and print the parts that take the time."""
    os.environ.update(env)
    from wsgi import app  # noqa: PLC0415 - built with this env

    client = app.test_client()
    https = "https://localhost"  # the session cookie may be marked Secure
    page = client.get("/subscribe", base_url=https).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    themes = re.findall(r'name="themes"[^>]*value="(\d+)"', page)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for n in range(count):
        form = {"csrf_token": token, "email": f"prof{n}@example.se", "themes": themes}
        answer = client.post("/subscribe", base_url=https, data=form)
        if 'name="csrf_token"' in answer.get_data(as_text=True):
            sys.exit("the sign-up was not accepted: the breakdown would be wrong")
    profile.disable()
    each = (time.perf_counter() - started) / count * 1000
    print(f"in-process sign-up: {each:.2f} ms each, of which:")
    parts = {
        "incr": "rate-limit counter (its own transaction)",
        "validate": "form validation (email-validator)",
        "request_subscription": "sign-up rows (subscriber, themes, consent, email)",
        "commit": "commit",
        "render_template": "answer page",
    }
    rows = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (path, _line, name), (_, _, _, cumulative, _) in rows.items():
        if name in parts and cumulative / count > 0.0001:
            where = "/".join(path.rsplit("/", 2)[-2:])
            print(f"  {parts[name]:52} {cumulative / count * 1000:6.2f} ms  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres", default=os.environ.get("NEWSLETTER_TEST_POSTGRES_URL")
    )
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument(
        "--outbox", type=int, default=100_000, help="sent emails already stored"
    )
    args = parser.parse_args()
    print(
        f"{'engine':10} {'rate':>7} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'signup.sqlite3'}"
        env = prepare(url)
        fill_outbox(url, args.outbox)
        measure("sqlite", env, args)
        if args.breakdown:
            breakdown(env)
    if args.postgres:
        url, name = own_postgres_database(args.postgres)
        try:
            env = prepare(url)
            fill_outbox(url, args.outbox)
            measure("postgresql", env, args)
        finally:
            drop_postgres_database(args.postgres, name)


if __name__ == "__main__":
    main()
