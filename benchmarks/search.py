"""Search: an archive of 40 issues x 30 items of Swedish text, searched in-process
and under gunicorn, on SQLite and (when NEWSLETTER_TEST_POSTGRES_URL is set)
PostgreSQL, against a bare Flask endpoint served the same way in the same run.

    python benchmarks/search.py [--seconds 5] [--workers 2] [--connections 16]

Needs `wrk` (Debian package). Targets: p99 of a search under 30 ms, in-process
and for a whole request; /search >= 0.5 x the bare endpoint's requests/s. Result
pages are cached per process until the archive changes (as archive pages are):
the whole-request figures are given for queries asked the first time (a miss)
and again (a hit); wrk repeats one URL, so it measures hits.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import free_port, start_gunicorn, wrk  # noqa: E402

ISSUES, ITEMS = 40, 30
QUERIES = [
    "äldre",
    "äldres",
    "psykisk hälsa",
    "skolans elever",
    "ensamhet OR demens",
    '"barn och unga"',
    "hemtjänst -webbinarium",
    "kommunernas samverkan",
    "simhall",  # found nowhere
]
SUBJECTS = [
    "äldre", "äldres hälsa", "barn och unga", "ungas psykiska hälsa", "skolans elever",
    "hemtjänsten", "socialtjänsten", "föräldrar", "vårdnadshavare", "kommunerna",
    "regionens vårdcentraler", "elevhälsan", "psykiatrin", "anhöriga", "demens",
    "ensamhet", "fritidsgårdar", "förskolan", "missbruk", "suicidprevention",
]  # fmt: skip
VERBS = [
    "bjuder in till", "startar", "utvecklar", "presenterar", "samordnar", "erbjuder",
    "planerar", "utvärderar", "söker deltagare till", "sammanfattar",
]  # fmt: skip
THINGS = [
    "ett webbinarium", "en utbildning", "nya mötesplatser", "ett samverkansprojekt",
    "en konferens", "handledning", "en kartläggning", "stödsamtal", "en rapport",
    "nätverksträffar", "digitala verktyg", "en vägledning",
]  # fmt: skip
PLACES = ["i Kalmar", "i Växjö", "i hela länet", "på distans", "i Oskarshamn",
          "i Västervik", "i Nybro", "i kommunernas lokaler"]  # fmt: skip


def sentence(rng: random.Random) -> str:
    """One plausible Swedish sentence of a regional newsletter."""
    subject = rng.choice(SUBJECTS)
    return (
        f"{rng.choice(['Regionen', 'Kommunen', 'Samverkan', 'Länet'])} "
        f"{rng.choice(VERBS)} {rng.choice(THINGS)} om {subject} "
        f"{rng.choice(PLACES)}."
    )


def build_archive(url: str) -> None:
    """Create the schema and 40 published issues of 30 items each, indexed."""
    from flask_migrate import upgrade

    from newsletter import create_app
    from newsletter.extensions import db
    from newsletter.models import Issue, IssueStatus, Item, Link
    from newsletter.services import search, themes

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    rng = random.Random(15)
    with app.app_context():
        upgrade()
        theme_ids = [t.id for t in themes.ensure_default_themes()] or [
            t.id for t in themes.list_themes()
        ]
        start = datetime(2016, 3, 1, 8, 0, tzinfo=UTC)
        for n in range(ISSUES):
            issue = Issue(
                title=f"Nyhetsbrev nummer {n + 1}",
                slug=f"nummer-{n + 1}",
                intro=" ".join(sentence(rng) for _ in range(3)),
                status=IssueStatus.SENT,
                published_at=start + timedelta(days=91 * n),
            )
            for position in range(ITEMS):
                body = "\n\n".join(
                    " ".join(sentence(rng) for _ in range(4)) for _ in range(3)
                )
                issue.items.append(
                    Item(
                        theme_id=theme_ids[position % len(theme_ids)],
                        position=position,
                        title=sentence(rng).rstrip("."),
                        body=body,
                        contact_name="Maria Svensson",
                        contact_email="maria.svensson@example.se",
                        links=[Link(position=0, label="Anmälan", url="https://e.se")],
                    )
                )
            db.session.add(issue)
        db.session.flush()
        search.rebuild()
        db.session.commit()
        db.engine.dispose()


def in_process(url: str, rounds: int) -> list[float]:
    """Seconds per search.search call over the query mix."""
    from newsletter import create_app
    from newsletter.services import search

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    timings = []
    with app.test_request_context():
        for query in QUERIES:  # warm caches and compiled statements
            search.search(query)
        for n in range(rounds):
            query = QUERIES[n % len(QUERIES)]
            began = time.perf_counter()
            search.search(query, page=1 + n % 2)
            timings.append(time.perf_counter() - began)
    return timings


def distinct_queries(count: int) -> list[str]:
    """Queries never asked before (each a miss of the page cache): two words of
    the archive's vocabulary, or one with a word found nowhere."""
    vocabulary = sorted({w for s in SUBJECTS + THINGS + PLACES for w in s.split()})
    rng = random.Random(7)
    queries: set[str] = set()
    while len(queries) < count:
        one, other = rng.sample(vocabulary, 2)
        queries.add(f"{one} {other}" if rng.random() < 0.8 else f"{one} -{other}")
    return sorted(queries)


def request_latency(port: int, queries: list[str]) -> list[float]:
    """Seconds per whole /search request, one client, one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    timings = []
    for query in queries:
        path = "/search?" + urllib.parse.urlencode({"q": query})
        began = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        timings.append(time.perf_counter() - began)
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
    return timings


def p(values: list[float], share: float) -> float:
    """The share-quantile in milliseconds."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] * 1000


def run_engine(name: str, url: str, args: argparse.Namespace) -> None:
    """Build the archive on one engine and print its figures."""
    began = time.perf_counter()
    build_archive(url)
    print(f"\n{name}: built {ISSUES} issues x {ITEMS} items and indexed them in "
          f"{time.perf_counter() - began:.1f} s")  # fmt: skip
    timings = in_process(url, args.rounds)
    print(f"  search service in-process: median {statistics.median(timings) * 1000:.2f}"
          f" ms, p99 {p(timings, 0.99):.2f} ms")  # fmt: skip
    env = {**os.environ, "NEWSLETTER_SECRET_KEY": "bench",
           "NEWSLETTER_SQLALCHEMY_DATABASE_URI": url}  # fmt: skip
    app_port, bare_port = free_port(), free_port()
    app = start_gunicorn("wsgi:app", app_port, args.workers, env)
    bare = start_gunicorn(
        "benchmarks.bare_app:create_app()", bare_port, args.workers, env
    )
    try:
        fresh = distinct_queries(400)  # fewer than the 512 pages a process keeps
        for label, queries in (("first asked", fresh), ("asked again", fresh)):
            latencies = request_latency(app_port, queries)
            print(f"  whole request, {label} (one client): median "
                  f"{statistics.median(latencies) * 1000:.2f} ms, "
                  f"p99 {p(latencies, 0.99):.2f} ms")  # fmt: skip
        bare_rate = wrk(f"http://127.0.0.1:{bare_port}/", args.seconds,
                        args.connections)  # fmt: skip
        print(f"  {'endpoint':34} {'req/s':>8} {'ratio to bare':>14}")
        print(f"  {'bare Flask /':34} {bare_rate:>8.0f} {1:>14.2f}")
        rate = wrk(f"http://127.0.0.1:{app_port}/", args.seconds, args.connections)
        print(f"  {'/ (archive index, for comparison)':34} {rate:>8.0f} "
              f"{rate / bare_rate:>14.2f}")  # fmt: skip
        for query in ("äldres", "psykisk hälsa", "simhall"):
            path = "/search?" + urllib.parse.urlencode({"q": query})
            rate = wrk(f"http://127.0.0.1:{app_port}{path}", args.seconds,
                       args.connections)  # fmt: skip
            label = f"/search?q={query}"
            print(f"  {label:34} {rate:>8.0f} {rate / bare_rate:>14.2f}")
    finally:
        for process in (app, bare):
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        run_engine("SQLite", f"sqlite:///{Path(tmp) / 'search.sqlite3'}", args)
    server = os.environ.get("NEWSLETTER_TEST_POSTGRES_URL", "")
    if not server:
        print("\nPostgreSQL: skipped (set NEWSLETTER_TEST_POSTGRES_URL)")
        return
    from sqlalchemy import create_engine, make_url, text

    name = f"newsletter_search_bench_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server).set(database=name)
        run_engine("PostgreSQL", url.render_as_string(hide_password=False), args)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
