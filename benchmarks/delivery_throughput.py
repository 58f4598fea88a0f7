"""Delivery throughput and DKIM signing: the worker against raw smtplib, same sink.

    python benchmarks/delivery_throughput.py [--sizes 2000] [--connections 1 2 4]
        [--dkim-processes 1 2] [--repeats 3] [--postgres postgresql+psycopg://...]

Three parts, each printed as medians and ratios measured in the same run:

1. DKIM signing time per copy of a real issue (3 sections, 10 items, 22 links, about
   72 KB): RSA-2048, Ed25519, both, and dkimpy's RSA for comparison (target <= 1 ms).
2. For each size, the worker (one process, then two forked ones) with DKIM off, with
   RSA and with RSA + Ed25519, one SMTP connection each (target: DKIM on >= 0.8 x the
   same worker with DKIM off; "x 1 off" compares with one process without DKIM).
3. For each number of connections, the worker with that many sender threads
   (SMTP_CONNECTIONS) and with that many forked processes (--processes), against one
   pre-built message sent as often with smtplib over as many connections (target
   >= 0.8).

Each worker run gets a fresh schema with `size` confirmed subscribers. The sink's CPU
share shows whether the sink, not the sender, was the limit.
"""

from __future__ import annotations

import argparse
import os
import resource
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa  # noqa: E402

from benchmarks.common import empty_schema, in_child  # noqa: E402
from benchmarks.sink import Sink  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.mail.dkim import DKIMSigner, SigningKey  # noqa: E402
from newsletter.mail.supervisor import run_workers  # noqa: E402
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


def make_keys(folder: Path) -> dict[str, dict[str, str]]:
    """Write an RSA-2048 and an Ed25519 key; return the settings of each DKIM setup."""
    for name, key in (
        ("rsa.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ed25519.pem", ed25519.Ed25519PrivateKey.generate()),
    ):
        (folder / name).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    rsa_settings = {
        "DKIM_DOMAIN": "example.se",
        "DKIM_SELECTOR": "rsa",
        "DKIM_PRIVATE_KEY_PATH": str(folder / "rsa.pem"),
    }
    ed_settings = {
        "DKIM_ED25519_SELECTOR": "ed",
        "DKIM_ED25519_PRIVATE_KEY_PATH": str(folder / "ed25519.pem"),
    }
    return {
        "off": {},
        "rsa": rsa_settings,
        "rsa+ed25519": {**rsa_settings, **ed_settings},
    }


def build_app(url: str, port: int, connections: int, **settings: object):  # noqa: ANN201
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
            **settings,
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


def run_worker(app, issue_id: int, processes: int) -> tuple[float, float, int]:  # noqa: ANN001
    """Fan out, then deliver the issue; return wall and CPU seconds, and rows sent."""
    with app.app_context():
        sending.fan_out(issue_id, utcnow())
        db.session.commit()
        db.engine.dispose()
    if processes == 1:
        worker = Worker(app)
        cpu = time.process_time()
        start = time.perf_counter()
        worker.run(once=True)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    else:
        # In a child of its own: the supervisor takes over SIGTERM and SIGINT.
        figures = in_child(_supervised, app, processes)
        elapsed, cpu = figures["seconds"], figures["cpu"]
    with app.app_context():
        sent = db.session.query(Delivery).filter_by(status="sent").count()
    return elapsed, cpu, sent


def _supervised(app, processes: int) -> dict[str, float]:  # noqa: ANN001
    """Run forked workers until the queue is empty; return wall and CPU seconds."""
    start = time.perf_counter()
    status = run_workers(app, processes, once=True)
    assert status == 0, status
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": time.perf_counter() - start,
        "cpu": children.ru_utime + children.ru_stime + time.process_time(),
    }


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


def median_ms(step, repeats: int) -> float:  # noqa: ANN001
    """Return the median time of a step in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def signing_times(message: bytes, keys: dict[str, dict[str, str]]) -> None:
    """Print the median signing time of one message per algorithm."""
    import dkim

    rsa_pem = Path(keys["rsa"]["DKIM_PRIVATE_KEY_PATH"]).read_bytes()
    ed_pem = Path(keys["rsa+ed25519"]["DKIM_ED25519_PRIVATE_KEY_PATH"]).read_bytes()
    rsa_key = SigningKey("rsa", serialization.load_pem_private_key(rsa_pem, None))
    ed_key = SigningKey("ed", serialization.load_pem_private_key(ed_pem, None))
    signers = {
        "rsa-sha256": DKIMSigner("example.se", [rsa_key]),
        "ed25519-sha256": DKIMSigner("example.se", [ed_key]),
        "both": DKIMSigner("example.se", [rsa_key, ed_key]),
    }
    relaxed = (b"relaxed", b"relaxed")
    figures = {
        name: median_ms(lambda signer=signer: signer.sign(message), 300)
        for name, signer in signers.items()
    }
    figures["dkimpy rsa-sha256"] = median_ms(
        lambda: dkim.sign(
            message, b"rsa", b"example.se", rsa_pem, canonicalize=relaxed
        ),
        30,
    )
    print(f"\n1. DKIM signing, {len(message) / 1024:.1f} KB message (target <= 1 ms)")
    print(f"{'signature':20} {'median ms':>10} {'x dkimpy':>9}")
    for name, ms in figures.items():
        print(f"{name:20} {ms:>10.3f} {ms / figures['dkimpy rsa-sha256']:>9.3f}")


# msg/s, the sink's CPU share, the sender's CPU milliseconds per message
Run = tuple[float, float, float]
Runs = dict[str, list[Run]]


class Bench:
    """One engine's runs against the shared sink."""

    def __init__(self, url: str | None, sink: Sink) -> None:
        self.url = url
        self.sink = sink

    def worker(
        self, size: int, connections: int, processes: int, **settings: object
    ) -> Run:
        """Deliver an issue to `size` subscribers: msg/s, sink share, CPU ms/msg."""
        with tempfile.TemporaryDirectory() as tmp:
            url = self.url or f"sqlite:///{tmp}/bench.sqlite3"
            app = build_app(url, self.sink.port, connections, **settings)
            issue_id = make_issue_and_subscribers(app, size)
            sink0 = self.sink.cpu_seconds()
            elapsed, cpu, sent = run_worker(app, issue_id, processes)
            share = (self.sink.cpu_seconds() - sink0) / elapsed
            assert sent == size, (sent, size)
            with app.app_context():
                db.engine.dispose()
        return size / elapsed, share, cpu / size * 1000

    def smtplib(self, message: bytes, size: int, connections: int) -> Run:
        """Send the message `size` times with smtplib: msg/s, sink share, CPU ms/msg."""
        sink0 = self.sink.cpu_seconds()
        cpu = time.process_time()
        elapsed = run_baseline(self.sink.port, message, size, connections)
        cpu = time.process_time() - cpu
        share = (self.sink.cpu_seconds() - sink0) / elapsed
        return size / elapsed, share, cpu / size * 1000

    def sample_message(self) -> bytes:
        """Return one personalised copy of the benchmark issue."""
        with tempfile.TemporaryDirectory() as tmp:
            url = self.url or f"sqlite:///{tmp}/bench.sqlite3"
            app = build_app(url, self.sink.port, 1)
            message = one_message(app, make_issue_and_subscribers(app, 1))
            with app.app_context():
                db.engine.dispose()
        return message


def interleaved(repeats: int, variants: dict[str, Callable[[], Run]]) -> Runs:
    """Run every variant once per round, so that load from elsewhere hits them alike."""
    runs: Runs = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            runs[name].append(run())
    return runs


def median_rate(runs: Runs, name: str) -> float:
    """Median msg/s of a variant."""
    return statistics.median(run[0] for run in runs[name])


def median_share(runs: Runs, name: str) -> float:
    """Median sink CPU share of a variant."""
    return statistics.median(run[1] for run in runs[name])


def median_cpu(runs: Runs, name: str) -> float:
    """Median CPU milliseconds the sender spent per message."""
    return statistics.median(run[2] for run in runs[name])


def median_ratio(runs: Runs, name: str, base: str) -> float:
    """Median over the rounds of a variant's rate over the base's in the same round."""
    pairs = zip(runs[name], runs[base], strict=True)
    return statistics.median(run[0] / base_run[0] for run, base_run in pairs)


def dkim_on_and_off(bench: Bench, size: int, keys, processes, repeats: int) -> None:  # noqa: ANN001
    """Print the worker's rate with DKIM off and on."""
    variants = {
        f"{count} {name}": (
            lambda count=count, settings=settings: bench.worker(
                size, 1, count, **settings
            )
        )
        for count in processes
        for name, settings in keys.items()
    }
    runs = interleaved(repeats, variants)
    single_off = f"{processes[0]} off"
    print(f"\n2. The worker with DKIM on against DKIM off, {size} messages "
          "(target >= 0.8)")  # fmt: skip
    print(
        f"{'processes':>9} {'dkim':12} {'msg/s':>7} {'x off':>6} "
        f"{'x ' + single_off:>10} {'sink':>5} {'CPU ms/msg':>10}"
    )
    for count in processes:
        for name in keys:
            variant = f"{count} {name}"
            print(
                f"{count:>9} {name:12} {median_rate(runs, variant):>7.0f} "
                f"{median_ratio(runs, variant, f'{count} off'):>6.2f} "
                f"{median_ratio(runs, variant, single_off):>10.2f} "
                f"{median_share(runs, variant):>5.0%} "
                f"{median_cpu(runs, variant):>10.2f}"
            )


def connections_against_smtplib(
    bench: Bench,
    size: int,
    message: bytes,
    connections,
    repeats: int,  # noqa: ANN001
) -> None:
    """Print threads and processes against smtplib at each number of connections."""
    variants: dict[str, Callable[[], Run]] = {}
    for n in connections:
        variants[f"smtplib {n}"] = lambda n=n: bench.smtplib(message, size, n)
        variants[f"threads {n}"] = lambda n=n: bench.worker(size, n, 1)
        variants[f"processes {n}"] = lambda n=n: bench.worker(size, 1, n)
    runs = interleaved(repeats, variants)
    print(f"\n3. The worker against raw smtplib over N connections, {size} messages "
          "(target >= 0.8)")  # fmt: skip
    print("(msg/s, ratio to smtplib, the sink's CPU share, the sender's CPU ms/msg)")
    print(
        f"{'N':>2} {'smtplib':>8} {'sink':>5} {'CPU':>5} "
        f"{'threads':>8} {'ratio':>6} {'sink':>5} {'CPU':>5} "
        f"{'processes':>10} {'ratio':>6} {'sink':>5} {'CPU':>5}"
    )
    for n in connections:
        base = f"smtplib {n}"
        print(
            f"{n:>2} {median_rate(runs, base):>8.0f} {median_share(runs, base):>5.0%} "
            f"{median_cpu(runs, base):>5.2f}",
            end="",
        )
        for kind in ("threads", "processes"):
            name = f"{kind} {n}"
            print(
                f" {median_rate(runs, name):>{len(kind) + 1}.0f} "
                f"{median_ratio(runs, name, base):>6.2f} "
                f"{median_share(runs, name):>5.0%} {median_cpu(runs, name):>5.2f}",
                end="",
            )
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--dkim-processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL")
    args = parser.parse_args()
    engines = [("sqlite", None)] + (
        [("postgresql", args.postgres)] if args.postgres else []
    )
    sink = Sink()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        with tempfile.TemporaryDirectory() as key_folder:
            keys = make_keys(Path(key_folder))
            for engine, url in engines:
                print(f"\n== {engine}")
                bench = Bench(url, sink)
                message = bench.sample_message()
                for size in args.sizes:
                    dkim_on_and_off(
                        bench, size, keys, args.dkim_processes, args.repeats
                    )
                    connections_against_smtplib(
                        bench, size, message, args.connections, args.repeats
                    )
            signing_times(message, keys)
    finally:
        sink.stop()
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
