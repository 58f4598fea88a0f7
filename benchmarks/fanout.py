"""Fan-out: time and peak memory to write delivery rows for 100k and 1M subscribers.

    python benchmarks/fanout.py [--sizes 100000 1000000]
        [--postgres postgresql+psycopg://...]

Subscribers are generated inside the database (recursive CTE / generate_series).
The fan-out itself runs in a fresh child process so that its peak RSS is the
fan-out's own. Targets: < 30 s for 1M, and peak memory flat (1M <= 1.3 x 100k).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from benchmarks.common import empty_schema  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models.types import utcnow  # noqa: E402
from newsletter.services import sending, themes  # noqa: E402
from newsletter.services.issues import ItemData, add_item, create_issue  # noqa: E402

SQLITE_SUBSCRIBERS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :size)
INSERT INTO subscriber (email, name, language, status, token_version, bounce_count,
                        created_at)
SELECT 's' || i || '@example.se', '', 'sv',
       CASE WHEN i % 10 = 0 THEN 'unsubscribed' ELSE 'confirmed' END, 1, 0,
       '2026-01-01 00:00:00' FROM n
"""
POSTGRES_SUBSCRIBERS = """
INSERT INTO subscriber (email, name, language, status, token_version, bounce_count,
                        created_at)
SELECT 's' || i || '@example.se', '', 'sv',
       CASE WHEN i % 10 = 0 THEN 'unsubscribed' ELSE 'confirmed' END, 1, 0, now()
FROM generate_series(1, :size) AS i
"""
THEMES = """
INSERT INTO subscriber_theme (subscriber_id, theme_id)
SELECT s.id, t.id FROM subscriber s JOIN theme t ON (s.id + t.id) % 3 <> 0
"""


def config(url: str) -> dict:
    return {"SECRET_KEY": "benchmark", "SQLALCHEMY_DATABASE_URI": url}


def prepare(url: str, size: int) -> int:
    """Create the schema, `size` subscribers and an issue that is sending."""
    app = create_app(config(url))
    empty_schema(app)
    with app.app_context():
        generate = POSTGRES_SUBSCRIBERS if "postgresql" in url else SQLITE_SUBSCRIBERS
        db.session.execute(text(generate), {"size": size})
        db.session.execute(text(THEMES))
        issue = create_issue("Nyhetsbrev", "", "", "", "bench")
        theme_id = themes.list_themes()[0].id
        add_item(issue.id, ItemData(title="Artikel", theme_id=theme_id), "bench")
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
        if "postgresql" in url:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        issue_id = issue.id
        db.engine.dispose()
    return issue_id


def fan_out_in_child(url: str, issue_id: int, result) -> None:  # noqa: ANN001
    """Run the fan-out alone and report seconds, rows and peak RSS (MiB)."""
    app = create_app(config(url))
    with app.app_context():
        start = time.perf_counter()
        rows = sending.fan_out(issue_id, utcnow())
        db.session.commit()
        elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.put((elapsed, rows, peak))


def measure(url: str, size: int) -> tuple[float, int, float]:
    issue_id = prepare(url, size)
    result: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(
        target=fan_out_in_child, args=(url, issue_id, result)
    )
    child.start()
    outcome = result.get()
    child.join()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL")
    args = parser.parse_args()
    print(
        f"{'engine':10} {'subscribers':>11} {'rows':>9} {'seconds':>8} {'peak MiB':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        engines = [("sqlite", f"sqlite:///{tmp}/fanout.sqlite3")]
        if args.postgres:
            engines.append(("postgresql", args.postgres))
        for engine, url in engines:
            peaks = []
            for size in args.sizes:
                elapsed, rows, peak = measure(url, size)
                peaks.append(peak)
                print(f"{engine:10} {size:>11} {rows:>9} {elapsed:>8.1f} {peak:>9.1f}")
            if len(peaks) > 1:
                print(f"{engine:10} peak memory ratio largest/smallest: "
                      f"{peaks[-1] / peaks[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
