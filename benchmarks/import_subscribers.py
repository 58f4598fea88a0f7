"""Subscriber import: preview and import of a CSV file against a bare INSERT.

    python benchmarks/import_subscribers.py [--rows 100000] [--repeat 3]
        [--memory-rows 1000000] [--postgres postgresql+psycopg://...]

For each engine and mode ("confirm": pending, a confirmation email each;
"confirmed": attested) it prints the seconds for the preview (parse, validate every
address, check suppressions and existing rows), for the import (the file read and
checked again, then subscribers, their themes, one consent event each, and in
"confirm" mode a confirmation email each), and for a baseline measured in the same
run: a bare executemany INSERT of the same addresses into an empty subscriber
table. Figures are medians of --repeat runs, each step in a fresh process on a
fresh schema; the ratio is the median of the per-run ratios. Targets: import within
2x the bare INSERT, preview of 100k rows under 3 s.

With --memory-rows, one more import of that many rows (attested, one run) gives
the peak resident memory of the process against the --rows run: target <= 1.3x.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from benchmarks.common import empty_schema, in_child  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models import Subscriber  # noqa: E402
from newsletter.models.types import utcnow  # noqa: E402
from newsletter.services import subscriber_import  # noqa: E402

THEMES = ["", "aldre", "Barn och unga|Psykisk hälsa", "psykisk-halsa"]
ATTESTATION = "Samtycke på anmälningsblankett, diarienummer 2026-123."


def people(rows: int) -> Iterator[tuple[str, str, str]]:
    """The rows of the test file: address, name, themes."""
    for n in range(rows):
        yield f"person{n}@kommun{n % 50}.example.se", f"Person {n}", THEMES[n % 4]


def write_file(path: Path, rows: int) -> None:
    """Write the test file, a line at a time (the parent stays small)."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email;name;themes\n")
        for email, name, themes in people(rows):
            handle.write(f"{email};{name};{themes}\n")


def fresh_app(url: str):  # noqa: ANN201
    """An app on an empty schema with the default themes."""
    app = create_app({"SECRET_KEY": "benchmark", "SQLALCHEMY_DATABASE_URI": url})
    empty_schema(app)
    return app


def peak_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def import_step(url: str, path: Path, rows: int, mode: str) -> dict[str, float]:
    """Preview and import the file; return seconds and peak memory."""
    app = fresh_app(url)
    with app.app_context():
        start = time.perf_counter()
        preview = subscriber_import.preview_import(path)
        previewed = time.perf_counter() - start
        assert not preview.errors and preview.new == rows, preview.errors[:3]
        attestation = ATTESTATION if mode == "confirmed" else ""
        start = time.perf_counter()
        added = subscriber_import.import_file(path, attestation, "bench", utcnow())
        db.session.commit()
        imported = time.perf_counter() - start
        assert added == rows
        db.engine.dispose()
    return {"preview": previewed, "import": imported, "peak": peak_mib()}


def bare_insert_step(url: str, rows: int) -> dict[str, float]:
    """Insert the same addresses with a bare executemany INSERT."""
    app = fresh_app(url)
    with app.app_context():
        start = time.perf_counter()
        now = utcnow()
        batch = []
        for email, name, _themes in people(rows):
            batch.append(
                {"email": email, "name": name, "status": "confirmed", "created_at": now}
            )
            if len(batch) == 5000:
                db.session.execute(insert(Subscriber), batch)
                batch = []
        if batch:
            db.session.execute(insert(Subscriber), batch)
        db.session.commit()
        elapsed = time.perf_counter() - start
        db.engine.dispose()
    return {"bare": elapsed}


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-rows", type=int, default=0)
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL")
    args = parser.parse_args()
    print(f"{'engine':10} {'mode':10} {'rows':>7} {'preview s':>9} {'import s':>9} "
          f"{'bare INSERT s':>13} {'import/bare':>11} {'peak MiB':>8}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subscribers.csv"
        write_file(path, args.rows)
        engines = [("sqlite", f"sqlite:///{tmp}/import.sqlite3")]
        if args.postgres:
            engines.append(("postgresql", args.postgres))
        peaks = {}
        for engine, url in engines:
            for mode in ("confirm", "confirmed"):
                runs = []
                for _run in range(args.repeat):
                    figures = in_child(import_step, url, path, args.rows, mode)
                    figures.update(in_child(bare_insert_step, url, args.rows))
                    figures["ratio"] = figures["import"] / figures["bare"]
                    runs.append(figures)
                median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                peaks[engine] = median["peak"]
                print(f"{engine:10} {mode:10} {args.rows:>7} {median['preview']:>9.2f} "
                      f"{median['import']:>9.2f} {median['bare']:>13.2f} "
                      f"{median['ratio']:>11.2f} {median['peak']:>8.0f}")  # fmt: skip
        if args.memory_rows:
            big = Path(tmp) / "big.csv"
            write_file(big, args.memory_rows)
            for engine, url in engines:
                figures = in_child(import_step, url, big, args.memory_rows, "confirmed")
                figures.update(in_child(bare_insert_step, url, args.memory_rows))
                ratio = figures["import"] / figures["bare"]
                print(f"{engine:10} {'confirmed':10} {args.memory_rows:>7} "
                      f"{figures['preview']:>9.2f} {figures['import']:>9.2f} "
                      f"{figures['bare']:>13.2f} {ratio:>11.2f} "
                      f"{figures['peak']:>8.0f}")  # fmt: skip
                print(f"{engine:10} peak memory {args.memory_rows} rows / {args.rows} "
                      f"rows: {figures['peak'] / peaks[engine]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
