"""The audit trail's cost: what recording adds to an item save, and how fast the
audit page finds its entries in a large log.

    python benchmarks/audit_trail.py [--repeat 5] [--saves 200] [--entries 100000]

Prints medians of --repeat runs on a SQLite file:
- the time of --saves item saves through the issues service, with every content
  change recorded (audit entry, revision, approval check) and, as the baseline in
  the same run, with `history.changed` doing nothing; and their ratio;
- with --entries entries in the log: the first page of the audit page unfiltered,
  filtered by person, by object and by a month, and the object types offered.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from benchmarks.common import empty_schema  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models import AuditEvent, Theme  # noqa: E402
from newsletter.services import audit, history, issues  # noqa: E402
from newsletter.services.issues import ItemData, LinkData  # noqa: E402


def _app(path: Path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "benchmark",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        }
    )
    empty_schema(app)
    return app


def _saves(app, count: int) -> float:
    """Seconds for `count` saves of one item, each committed."""
    with app.app_context():
        theme_id = db.session.scalar(select(Theme.id).limit(1))
        issue = issues.create_issue("Nyhetsbrev mars", "", "", "", "bench")
        data = ItemData(
            title="Träffpunkt",
            body="Ord " * 200,
            theme_id=theme_id,
            contact_name="Maria Svensson",
            contact_phone="0480-837 78",
            links=[LinkData("Program", "https://example.se/program")],
        )
        item = issues.add_item(issue.id, data, "bench")
        db.session.commit()
        started = time.perf_counter()
        for n in range(count):
            data.body = f"Ord {n} " * 200
            issues.update_item(item.id, item.version, data, "bench")
            db.session.commit()
        return time.perf_counter() - started


def _fill_log(app, entries: int) -> None:
    """A year of entries by 20 people on 2,000 objects."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        rows = [
            {
                "at": start + timedelta(minutes=5 * n),
                "actor_kind": "editor",
                "actor": f"person{n % 20}@example.se",
                "action": ("item.changed", "issue.changed", "contact.changed")[n % 3],
                "object_type": ("item", "issue", "contact")[n % 3],
                "object_id": n % 2000,
                "object_title": f"Rubrik {n}",
                "changes": {"body": ["före", "efter"]},
            }
            for n in range(entries)
        ]
        for first in range(0, entries, 10_000):
            db.session.execute(insert(AuditEvent), rows[first : first + 10_000])
        db.session.commit()


def _median_ms(repeat: int, step: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    recorded, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        real = history.changed
        for run in range(args.repeat):
            recorded.append(_saves(_app(Path(tmp) / f"r{run}.db"), args.saves))
            history.changed = lambda *a, **k: None  # type: ignore[assignment]
            try:
                bare.append(_saves(_app(Path(tmp) / f"b{run}.db"), args.saves))
            finally:
                history.changed = real  # type: ignore[assignment]
        per_save = statistics.median(recorded) / args.saves * 1000
        baseline = statistics.median(bare) / args.saves * 1000
        print(f"item save, recorded:     {per_save:.2f} ms (median of {args.repeat})")
        print(f"item save, not recorded: {baseline:.2f} ms")
        print(f"ratio recorded/bare:     {per_save / baseline:.2f}")

        app = _app(Path(tmp) / "log.db")
        _fill_log(app, args.entries)
        month = audit.AuditFilter(
            since=datetime(2026, 6, 1, tzinfo=UTC),
            until=datetime(2026, 7, 1, tzinfo=UTC),
        )
        cases = {
            "first page, no filter": audit.AuditFilter(),
            "by person": audit.AuditFilter(actor="person7@"),
            "by object": audit.AuditFilter(object_type="item", object_id=42),
            "one month": month,
        }
        with app.app_context():
            print(f"audit page with {args.entries} entries (median ms):")
            for name, wanted in cases.items():
                ms = _median_ms(args.repeat, lambda w=wanted: audit.search(w, 1))
                print(f"  {name:<24}{ms:8.1f}")
            ms = _median_ms(args.repeat, audit.object_types)
            print(f"  {'object types offered':<24}{ms:8.1f}")


if __name__ == "__main__":
    main()
