"""Fan-out: time and peak memory to write delivery rows, against a bare INSERT.

    python benchmarks/fanout.py [--sizes 100000 1000000] [--repeat 3]
        [--postgres postgresql+psycopg://...]

Subscribers (90 % confirmed, each with two of the three themes) are generated
inside the database (recursive CTE / generate_series), and the issue has items in
one theme. The baseline, on the same data in the same run, is a bare INSERT ...
SELECT of one constant row per confirmed subscriber (no theme filter) into a
table of the same shape as delivery: the same columns, defaults, constraints,
indexes and foreign keys; a second one leaves the foreign keys out, to show what
their checks cost. Each fan-out and each baseline runs in a fresh child
process, so that the fan-out's peak RSS is its own; the delivery rows are
removed between runs. Figures are medians of --repeat runs, the ratio the median
of the per-run ratios. Targets: fan-out within 2x the baseline, peak memory flat
(largest size <= 1.3 x smallest).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (  # noqa: E402
    MetaData,
    Table,
    delete,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.sql.naming import conv  # noqa: E402

from benchmarks.common import empty_schema, in_child  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models import Delivery, Issue, Subscriber  # noqa: E402
from newsletter.models.types import UTCDateTime, utcnow  # noqa: E402
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
COLUMNS = ["issue_id", "subscriber_id", "status", "last_error", "attempts",
           "next_attempt_at"]  # fmt: skip


def config(url: str) -> dict:
    """The benchmark app's configuration."""
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


def peak_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fan_out_step(url: str, issue_id: int) -> dict[str, float]:
    """Run the fan-out alone; report seconds, rows and peak RSS (MiB)."""
    app = create_app(config(url))
    with app.app_context():
        start = time.perf_counter()
        rows = sending.fan_out(issue_id, utcnow())
        db.session.commit()
        elapsed = time.perf_counter() - start
        peak = peak_mib()
        # Undo it for the next run (not timed); TRUNCATE leaves no dead rows behind.
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("TRUNCATE delivery"))
        else:
            db.session.execute(delete(Delivery))
        db.session.execute(update(Issue).values(fanned_out_at=None))
        db.session.commit()
        db.engine.dispose()
    return {"fan-out": elapsed, "rows": rows or 0, "peak": peak}


def baseline_table(foreign_keys: bool) -> Table:
    """A table of the same shape as delivery under another name, with or without
    its foreign keys (PostgreSQL checks each one with a trigger per row)."""
    metadata = MetaData(naming_convention=db.metadata.naming_convention)
    for referenced in ("issue", "subscriber"):  # for the foreign keys
        db.metadata.tables[referenced].to_metadata(metadata)
    table = Delivery.__table__.to_metadata(metadata, name="delivery_baseline")
    for named in [*table.indexes, *table.constraints]:  # names are schema-wide
        if named.name and "delivery_baseline" not in named.name:
            named.name = conv(named.name.replace("delivery", "delivery_baseline"))
    if not foreign_keys:
        for constraint in table.foreign_key_constraints:
            table.constraints.discard(constraint)
    return table


def baseline_step(url: str, issue_id: int, foreign_keys: bool) -> dict[str, float]:
    """Time a bare INSERT ... SELECT of as many rows into a copy of delivery."""
    app = create_app(config(url))
    with app.app_context():
        table = baseline_table(foreign_keys)
        table.create(db.engine)
        rows = select(
            literal(issue_id),
            Subscriber.id,
            literal("queued"),
            literal(""),
            literal(0),
            literal(utcnow(), UTCDateTime()),
        ).where(Subscriber.status == "confirmed")
        start = time.perf_counter()
        db.session.execute(insert(table).from_select(COLUMNS, rows))
        db.session.commit()
        elapsed = time.perf_counter() - start
        table.drop(db.engine)
        db.engine.dispose()
    return {"bare" if foreign_keys else "no FK": elapsed}


def measure(url: str, size: int, repeat: int) -> dict[str, float]:
    """Median figures of `repeat` runs, the fan-out first in every other run."""
    issue_id = prepare(url, size)
    runs = []
    for run in range(repeat):
        steps = [(fan_out_step,), (baseline_step, True), (baseline_step, False)]
        figures: dict[str, float] = {}
        for step, *extra in steps if run % 2 else reversed(steps):
            figures.update(in_child(step, url, issue_id, *extra))
        figures["ratio"] = figures["fan-out"] / figures["bare"]
        figures["no FK ratio"] = figures["fan-out"] / figures["no FK"]
        runs.append(figures)
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL")
    args = parser.parse_args()
    print(f"{'engine':10} {'subscribers':>11} {'rows':>9} {'fan-out s':>9} "
          f"{'bare INSERT s':>13} {'ratio':>6} {'no FK s':>8} {'ratio':>6} "
          f"{'peak MiB':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        engines = [("sqlite", f"sqlite:///{tmp}/fanout.sqlite3")]
        if args.postgres:
            engines.append(("postgresql", args.postgres))
        for engine, url in engines:
            peaks = []
            for size in args.sizes:
                median = measure(url, size, args.repeat)
                peaks.append(median["peak"])
                m = median
                print(f"{engine:10} {size:>11} {m['rows']:>9.0f} {m['fan-out']:>9.1f} "
                      f"{m['bare']:>13.1f} {m['ratio']:>6.2f} {m['no FK']:>8.1f} "
                      f"{m['no FK ratio']:>6.2f} {m['peak']:>9.1f}")  # fmt: skip
            if len(peaks) > 1:
                print(f"{engine:10} peak memory ratio largest/smallest: "
                      f"{peaks[-1] / peaks[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
