"""Link checks: what the worker's duty costs when nothing is due, and how much the
per-host concurrency saves when links answer slowly.

    python benchmarks/link_checks.py [--repeat 5] [--links 40]

Prints medians of --repeat runs on a SQLite file: one worker round of the
link-check duty when every link of the draft issues was checked within the hour
(what a worker pays every LINK_CHECK_EVERY_SECONDS); and checking 24 links on three
local hosts (127.0.0.1-3) that each answer after 0.2 s, serially (THREADS=1) and
with the defaults (8 threads, 2 per host).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from benchmarks.common import empty_schema  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.config import settings_of  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.link_checker import LinkCheckDuty, check_and_record  # noqa: E402
from newsletter.models import Theme  # noqa: E402
from newsletter.models.types import utcnow  # noqa: E402
from newsletter.services import issues, links  # noqa: E402
from newsletter.services.issues import ItemData, LinkData  # noqa: E402

DELAY = 0.2


class Slow(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:  # noqa: N802
        time.sleep(DELAY)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(host: str) -> str:
    """Start a slow server on host; return its base address."""
    server = ThreadingHTTPServer((host, 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://{host}:{server.server_port}"


def idle_round_ms(app, count: int, repeat: int) -> float:
    """Median time of a duty round when all `count` links are fresh."""
    base = serve("127.0.0.1")
    with app.app_context():
        theme = db.session.scalars(select(Theme)).first()
        issue = issues.create_issue("Nyhetsbrev", "", "", "", editor="benchmark")
        data = ItemData(
            title="Länkar",
            theme_id=theme.id,
            links=[LinkData(f"L{n}", f"{base}/{n}") for n in range(count)],
        )
        issues.add_item(issue.id, data, "benchmark")
        db.session.commit()
        check_and_record(links.pending(utcnow(), limit=count))
        duty = LinkCheckDuty.from_settings(settings_of(app))
        times = []
        for _ in range(repeat * 10):
            duty.next_at = None
            started = time.perf_counter()
            assert not duty.check_when_due(utcnow())
            times.append(time.perf_counter() - started)
            db.session.remove()
    return statistics.median(times) * 1000


def check_seconds(app, threads: int, repeat: int) -> float:
    """Median time to check 24 links on three hosts with this many threads."""
    bases = [serve(f"127.0.0.{n}") for n in (1, 2, 3)]
    urls = [f"{base}/{n}" for base in bases for n in range(8)]
    times = []
    with app.app_context():
        for _ in range(repeat):
            links.THREADS = threads
            started = time.perf_counter()
            results = links.check_urls(urls, 5.0, 2, True)
            times.append(time.perf_counter() - started)
            assert all(r.http_status == 200 for r in results), results
    links.THREADS = 8
    return statistics.median(times)


def main() -> None:
    """Print the measured figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--links", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "benchmark",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "OUTBOUND_ALLOW_PRIVATE": True,
            }
        )
        empty_schema(app)
        idle = idle_round_ms(app, args.links, args.repeat)
        serial = check_seconds(app, 1, args.repeat)
        concurrent = check_seconds(app, 8, args.repeat)
    print(f"link checks: idle duty round with {args.links} fresh links: {idle:.2f} ms")
    print(
        f"link checks: 24 links on 3 hosts answering in {DELAY} s: serial "
        f"{serial:.2f} s, 8 threads/2 per host {concurrent:.2f} s "
        f"(x{serial / concurrent:.1f})"
    )


if __name__ == "__main__":
    main()
