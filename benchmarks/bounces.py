"""Bounces: what VERP adds to each message sent, and what one returned message costs.

    python benchmarks/bounces.py [--repeat 5] [--reports 200]

Prints medians of --repeat runs on a SQLite file: the envelope sender (VERP
address, HMAC included) per message, against the message's own Message-ID, which
the worker builds the same way; a DSN recorded in-process (parse, match, write,
commit); and `flask bounces process` run as a mail server's pipe runs it (a fresh
interpreter each time), which is what one bounce costs a Postfix or Exim pipe.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import empty_schema  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.mail.emails import envelope_sender, message_id  # noqa: E402
from newsletter.models import Delivery, Subscriber  # noqa: E402
from newsletter.models.types import utcnow  # noqa: E402
from newsletter.services import bounces, issues  # noqa: E402

SECRET = "benchmark-secret"
FIXTURE = ROOT / "tests" / "bounces" / "postfix-delayed.eml"


def per_call_us(call, number: int = 20000) -> float:
    """Return the time of one call in microseconds."""
    return timeit.timeit(call, number=number) / number * 1e6


def deliveries(count: int) -> list[int]:
    """Write one issue and `count` delivered subscribers; return the delivery ids."""
    issue = issues.create_issue("Nyhetsbrev", "", "", "", editor="benchmark")
    rows = [
        Subscriber(email=f"s{n}@example.se", status=Subscriber.status.default.arg)
        for n in range(count)
    ]
    db.session.add_all(rows)
    db.session.flush()
    found = [Delivery(issue_id=issue.id, subscriber_id=row.id) for row in rows]
    db.session.add_all(found)
    db.session.commit()
    return [row.id for row in found]


def dsn_for(delivery_id: int, n: int) -> bytes:
    """A soft DSN for one delivery, with a Message-ID of its own."""
    text = FIXTURE.read_text()
    text = text.replace("VERP_ADDRESS", envelope_sender("d", delivery_id))
    text = text.replace("<20260203081504.", f"<{n}.20260203081504.")
    return text.replace("RECIPIENT_ADDRESS", "anna@example.se").encode()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reports", type=int, default=200)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "bounces.sqlite3"
    url = f"sqlite:///{path}"
    app = create_app({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": url})
    empty_schema(app)
    with app.app_context():
        verp = [per_call_us(lambda: envelope_sender("d", 123456)) for _ in range(5)]
        ids = [per_call_us(lambda: message_id("d", 123456)) for _ in range(5)]
        rows = deliveries(args.reports * args.repeat)
        in_process = []
        for run in range(args.repeat):
            chunk = rows[run * args.reports : (run + 1) * args.reports]
            reports = [dsn_for(row, n) for n, row in enumerate(chunk)]
            start = time.perf_counter()
            for raw in reports:
                bounces.process(raw, utcnow())
                db.session.commit()
            in_process.append((time.perf_counter() - start) / len(reports) * 1e3)
        piped_report = dsn_for(rows[0], 10**6)
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": url,
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "bounces", "process"]
    piped = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run(
            command, input=piped_report, cwd=ROOT, env=env, check=True,
            capture_output=True,
        )  # fmt: skip
        piped.append(time.perf_counter() - start)
    verp_us, id_us = statistics.median(verp), statistics.median(ids)
    print(f"envelope sender (VERP) per message:   {verp_us:6.1f} µs")
    print(f"Message-ID per message (for scale):   {id_us:6.1f} µs")
    print(f"  ratio VERP / Message-ID:            {verp_us / id_us:6.2f}")
    print(
        f"DSN recorded in-process, per report:  {statistics.median(in_process):6.2f} ms"
    )
    print(f"`flask bounces process` via a pipe:   {statistics.median(piped):6.2f} s")


if __name__ == "__main__":
    main()
