"""Subscriber import: preview and import of a 100k-row CSV file.

    python benchmarks/import_subscribers.py [--rows 100000]
        [--postgres postgresql+psycopg://...]

Prints the seconds for the preview (parse, validate every address, check
suppressions and existing rows), for the import itself (subscribers, their themes,
one consent event each, and a confirmation email each in "confirm" mode), and for a
baseline in the same run: a bare executemany INSERT of the same addresses. Target:
the whole import of 100k rows well under a minute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from benchmarks.common import empty_schema  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models import Subscriber  # noqa: E402
from newsletter.models.types import utcnow  # noqa: E402
from newsletter.services import subscriptions  # noqa: E402

THEMES = ["", "aldre", "Barn och unga|Psykisk hälsa", "psykisk-halsa"]


def make_file(rows: int) -> str:
    lines = ["email;name;themes"]
    lines += [f"person{n}@kommun{n % 50}.example.se;Person {n};{THEMES[n % 4]}"
              for n in range(rows)]  # fmt: skip
    return "\n".join(lines) + "\n"


def fresh_app(url: str):  # noqa: ANN201
    app = create_app({"SECRET_KEY": "benchmark", "SQLALCHEMY_DATABASE_URI": url})
    empty_schema(app)
    return app


def run(url: str, rows: int, mode: str) -> tuple[float, float, float]:
    content = make_file(rows)
    app = fresh_app(url)
    with app.app_context():
        start = time.perf_counter()
        preview = subscriptions.preview_import(content)
        previewed = time.perf_counter() - start
        assert not preview.errors and len(preview.new) == rows
        attestation = (
            "Samtycke på anmälningsblankett, diarienummer 2026-123."
            if (mode == "confirmed")
            else ""
        )
        start = time.perf_counter()
        added = subscriptions.import_subscribers(
            preview.new, attestation, "benchmark", utcnow()
        )
        db.session.commit()
        imported = time.perf_counter() - start
        assert added == rows
        db.session.execute(text("DELETE FROM subscriber"))
        db.session.commit()
        start = time.perf_counter()
        now = utcnow()
        batch = [
            {"email": r.email, "name": r.name, "status": "confirmed", "created_at": now}
            for r in preview.new
        ]
        for at in range(0, len(batch), 5000):
            db.session.execute(insert(Subscriber), batch[at : at + 5000])
        db.session.commit()
        baseline = time.perf_counter() - start
        db.engine.dispose()
    return previewed, imported, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL")
    args = parser.parse_args()
    print(f"{'engine':10} {'mode':10} {'rows':>7} {'preview s':>9} {'import s':>9} "
          f"{'total s':>8} {'bare INSERT s':>13}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        engines = [("sqlite", f"sqlite:///{tmp}/import.sqlite3")]
        if args.postgres:
            engines.append(("postgresql", args.postgres))
        for engine, url in engines:
            for mode in ("confirm", "confirmed"):
                previewed, imported, baseline = run(url, args.rows, mode)
                print(f"{engine:10} {mode:10} {args.rows:>7} {previewed:>9.1f} "
                      f"{imported:>9.1f} {previewed + imported:>8.1f} "
                      f"{baseline:>13.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
