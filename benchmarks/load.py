"""Load: archive index, an issue page and the main feed under gunicorn, against a bare
Flask endpoint served by the same gunicorn configuration in the same run, plus the
sign-up POST's latency at a steady 100 requests/s.

    python benchmarks/load.py [--seconds 10] [--workers 2] [--connections 16]
                              [--runs 3] [--no-signup]

Needs `wrk` (Debian package). Targets: cached pages and feeds >= 0.8 x the bare
endpoint's requests/s (the median of the runs); sign-up p99 < 50 ms at 100
requests/s (benchmarks/signup_latency.py measures it per database engine).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


PATHS = (
    "/",
    "/archive/nyhetsbrev-september-2026",
    "/themes/aldre",
    "/feed.xml",
    "/feed.json",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(path: Path) -> dict[str, str]:
    """A SQLite database with the schema and the demo content; return the env."""
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": "benchmark",
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "NEWSLETTER_SIGNUP_RATE_LIMIT": "1000000 per minute",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([*flask, *command], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
    return env


def start_gunicorn(target: str, port: int, workers: int, env: dict[str, str]):  # noqa: ANN201
    """Start gunicorn and wait until it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", target],
        cwd=ROOT, env=env,
    )  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"gunicorn for {target} did not start")


def wrk(url: str, seconds: int, connections: int) -> float:
    """Requests per second that wrk measured."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors under load:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def signup_latency(port: int, rate: int, seconds: int) -> list[float]:
    """POST the sign-up form at a steady rate; latency counted from the planned
    send time, so that a slow answer also delays the ones behind it."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/subscribe")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    themes = re.findall(r'name="themes"[^>]*value="(\d+)"', page)
    local = threading.local()
    start = time.perf_counter() + 0.5
    latencies: list[float] = []

    def send(n: int) -> None:
        planned = start + n / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port)
        body = urllib.parse.urlencode(
            [("csrf_token", token), ("email", f"last{n}@example.se"), ("name", "Last")]
            + [("themes", t) for t in themes]
        )
        local.conn.request(
            "POST", "/subscribe", body,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )  # fmt: skip
        reply = local.conn.getresponse()
        reply.read()
        if reply.status != 200:
            raise RuntimeError(f"sign-up answered {reply.status}")
        latencies.append(time.perf_counter() - planned)

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(send, range(rate * seconds)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-signup", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        env = prepare_database(Path(tmp) / "load.sqlite3")
        app_port, bare_port = free_port(), free_port()
        app = start_gunicorn("wsgi:app", app_port, args.workers, env)
        bare = start_gunicorn(
            "benchmarks.bare_app:create_app()", bare_port, args.workers, env
        )
        try:
            base = f"http://127.0.0.1:{app_port}"
            bare_url = f"http://127.0.0.1:{bare_port}/"
            ratios: dict[str, list[float]] = {path: [] for path in PATHS}
            rates: dict[str, list[float]] = {path: [] for path in ("bare", *PATHS)}
            for _ in range(args.runs):
                # The bare endpoint is measured beside each path, so that load
                # from elsewhere on the machine hits both sides of a ratio alike.
                for path in PATHS:
                    bare_rate = wrk(bare_url, args.seconds, args.connections)
                    rate = wrk(base + path, args.seconds, args.connections)
                    rates["bare"].append(bare_rate)
                    rates[path].append(rate)
                    ratios[path].append(rate / bare_rate)
            print(f"{'endpoint':36} {'req/s':>8} {'ratio to bare (median, runs)':>30}")
            print(f"{'bare Flask /':36} {statistics.median(rates['bare']):>8.0f}")
            for path in PATHS:
                each = " ".join(f"{r:.2f}" for r in ratios[path])
                print(f"{path:36} {statistics.median(rates[path]):>8.0f} "
                      f"{statistics.median(ratios[path]):>6.2f}  ({each})")  # fmt: skip
            if args.no_signup:
                return
            latencies = sorted(signup_latency(app_port, 100, args.seconds))
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
            print(f"sign-up POST at 100/s: {len(latencies)} requests, "
                  f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")  # fmt: skip
        finally:
            for process in (app, bare):
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
