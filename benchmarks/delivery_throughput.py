"""Delivery throughput: the worker against raw smtplib, same sink, same connections.

    python benchmarks/delivery_throughput.py [--sizes 10000 100000] [--connections 1]
        [--postgres postgresql+psycopg://...]

For each size it creates that many confirmed subscribers and one issue (3 sections,
10 items, 22 links, as in a real quarterly issue), runs one worker until the issue is
sent, then sends one pre-built message the same number of times with smtplib over the
same number of connections. It prints messages/s for both and their ratio (target
>= 0.8), plus the sink's CPU share to show the sink was not the bottleneck.
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import empty_schema  # noqa: E402
from benchmarks.sink import Sink  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.mail.worker import Worker  # noqa: E402
from newsletter.models import Delivery  # noqa: E402
from newsletter.models.types import utcnow  # noqa: E402
from newsletter.services import sending, themes  # noqa: E402
from newsletter.services.issues import (  # noqa: E402
    ItemData,
    LinkData,
    add_item,
    create_issue,
)
from newsletter.services.subscriber_import import (  # noqa: E402
    ImportRow,
    import_subscribers,
)

BODY = "En text om **regional samverkan** med [en länk](https://example.se). " * 6


def build_app(url: str, port: int, connections: int):  # noqa: ANN201
    """Create an app with an empty schema pointed at the sink."""
    app = create_app(
        {
            "SECRET_KEY": "benchmark",
            "SQLALCHEMY_DATABASE_URI": url,
            "SMTP_PORT": port,
            "SMTP_CONNECTIONS": connections,
            "BASE_URL": "https://nyhetsbrev.example.se",
            "WORKER_BATCH_SIZE": 500,
            "WORKER_RECORD_EVERY": 100,
            "WORKER_IDLE_SECONDS": 0.01,
        }
    )
    empty_schema(app)
    return app


def make_issue_and_subscribers(app, size: int) -> int:  # noqa: ANN001
    """A realistic issue and `size` subscribers spread over theme combinations."""
    with app.app_context():
        theme_ids = [t.id for t in themes.list_themes()]
        issue = create_issue("Nyhetsbrev mars 2026", "Välkommen!", "", "", "bench")
        for n in range(10):
            add_item(
                issue.id,
                ItemData(
                    title=f"Artikel {n} om samverkan för barn, unga och äldre",
                    body=BODY,
                    theme_id=theme_ids[n % 3],
                    contact_name="Karin Ek",
                    contact_phone="010-765 43 21",
                    contact_email="karin.ek@example.se",
                    links=[
                        LinkData(f"Resurs {k}", f"https://example.se/{n}/{k}")
                        for k in range(3 if n < 2 else 2)
                    ],
                ),
                "bench",
            )
        combos = [
            frozenset(theme_ids),
            frozenset(theme_ids[:1]),
            frozenset(theme_ids[1:]),
            frozenset(theme_ids[2:]),
        ]
        rows = [
            ImportRow(0, f"p{n:07}@example.se", f"Person {n}", combos[n % 4])
            for n in range(size)
        ]
        import_subscribers(rows, "Benchmark subscribers.", "bench", utcnow())
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
        return issue.id


def run_worker(app, issue_id: int) -> float:  # noqa: ANN001
    """Fan out and deliver the issue with one worker; return seconds spent sending."""
    worker = Worker(app)
    with app.app_context():
        sending.fan_out(issue_id, utcnow())
        db.session.commit()
    start = time.perf_counter()
    worker.run(once=True)
    elapsed = time.perf_counter() - start
    with app.app_context():
        sent = db.session.query(Delivery).filter_by(status="sent").count()
    return elapsed, sent


def one_message(app, issue_id: int) -> bytes:  # noqa: ANN001
    """A fully built copy of the issue, as the baseline sends it."""
    from newsletter.mail.emails import build_issue_template
    from newsletter.models import Issue

    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        ids = frozenset(t.id for t in themes.list_themes())
        template = build_issue_template(issue, ids, "sv")
        return template.personalise(
            to_address="p0000000@example.se",
            to_name="Person 0",
            message_id="<baseline@nyhetsbrev.example.se>",
            date=utcnow(),
            values={
                "unsubscribe_url": "https://nyhetsbrev.example.se/unsubscribe/x",
                "preferences_url": "https://nyhetsbrev.example.se/preferences/x",
            },
        )


def run_baseline(port: int, message: bytes, count: int, connections: int) -> float:
    """Send one pre-built message `count` times with smtplib over N connections."""

    def send(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for _ in range(n):
                smtp.sendmail("nyhetsbrev@example.se", ["p@example.se"], message)

    shares = [
        count // connections + (i < count % connections) for i in range(connections)
    ]
    threads = [threading.Thread(target=send, args=(n,)) for n in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL")
    args = parser.parse_args()
    engines = [("sqlite", None)] + (
        [("postgresql", args.postgres)] if args.postgres else []
    )
    sink = Sink()
    print(f"{'engine':10} {'size':>8} {'worker msg/s':>13} {'smtplib msg/s':>14} "
          f"{'ratio':>6} {'sink CPU':>9} {'size KB':>8}")  # fmt: skip
    try:
        for engine, url in engines:
            for size in args.sizes:
                ratios, worker_rates, base_rates = [], [], []
                for _ in range(args.repeats):
                    with tempfile.TemporaryDirectory() as tmp:
                        db_url = url or f"sqlite:///{tmp}/bench.sqlite3"
                        app = build_app(db_url, sink.port, args.connections)
                        issue_id = make_issue_and_subscribers(app, size)
                        cpu0 = sink.cpu_seconds()
                        elapsed, sent = run_worker(app, issue_id)
                        sink_share = (sink.cpu_seconds() - cpu0) / elapsed
                        assert sent == size, (sent, size)
                        message = one_message(app, issue_id)
                        base = run_baseline(sink.port, message, size, args.connections)
                        with app.app_context():
                            db.engine.dispose()
                    worker_rates.append(size / elapsed)
                    base_rates.append(size / base)
                    ratios.append(base / elapsed)
                print(
                    f"{engine:10} {size:>8} {statistics.median(worker_rates):>13.0f} "
                    f"{statistics.median(base_rates):>14.0f} "
                    f"{statistics.median(ratios):>6.2f} {sink_share:>8.0%} "
                    f"{len(message) / 1024:>8.1f}"
                )
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
