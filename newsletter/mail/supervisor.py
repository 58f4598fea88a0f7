"""Several worker processes on one machine: `flask worker --processes N`.

One worker's sender threads share one interpreter, so a worker cannot use more than
one core for rendering and signing. The parent forks N workers that share the queue
like workers on separate machines do (each with its own database and SMTP
connections), forwards SIGTERM and SIGINT to them, restarts one that dies
unexpectedly after a capped backoff, and exits when all have stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from flask import Flask

from newsletter.extensions import db
from newsletter.mail.dkim import signer_for
from newsletter.mail.pythoncheck import require_safe_email_headers

log = logging.getLogger("newsletter.supervisor")

POLL_SECONDS = 0.1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Child:
    """One forked worker: its slot number and when it started."""

    index: int
    started: float


class Supervisor:
    """Keeps N child processes running until told to stop (or, once, until done)."""

    def __init__(
        self,
        run_child: Callable[[int], int],
        processes: int,
        *,
        once: bool = False,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        steady_seconds: float = 60.0,
    ) -> None:
        self.run_child = run_child
        self.processes = processes
        self.once = once
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.steady_seconds = steady_seconds
        self.children: dict[int, Child] = {}
        self.failures: dict[int, int] = {}
        self.restarts: dict[int, float] = {}
        self.stopping = False
        self.failed = False

    def run(self) -> int:
        """Start the children and supervise them; return the exit status."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._forward)
        for index in range(self.processes):
            self._start(index)
        while self.children or (self.restarts and not self.stopping):
            self._reap()
            self._restart_due()
            time.sleep(POLL_SECONDS)
        log.info("all %s worker processes stopped", self.processes)
        return 1 if self.failed else 0

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        """Pass a stop signal on to every child; start no more."""
        self.stopping = True
        self.restarts.clear()
        for pid in self.children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:  # exited; reaped on the next round
                pass

    def _start(self, index: int) -> None:
        """Fork one child that runs run_child(index) and exits with its status."""
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, measured there
            os._exit(self._child_main(index))
        self.children[pid] = Child(index, time.monotonic())
        log.info("worker process %s started (pid %s)", index, pid)
        if self.stopping:  # the signal came between the fork and the line above
            os.kill(pid, signal.SIGTERM)

    def _child_main(self, index: int) -> int:
        """Run in the child: the worker's own signal handlers, its exit status."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        status = 1
        try:
            status = self.run_child(index)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker process %s failed", index)
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        return status

    def _reap(self) -> None:
        """Collect children that exited and schedule restarts for failed ones."""
        # Only our own children: the caller may have other processes of its own.
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # already collected elsewhere
                done, status = pid, 0
            if done == pid:
                child = self.children.pop(pid)
                self._exited(child, pid, os.waitstatus_to_exitcode(status))

    def _exited(self, child: Child, pid: int, code: int) -> None:
        """Decide what a child's exit means: done, or a failure to recover from."""
        if code == 0 or self.stopping:
            log.info("worker process %s (pid %s) stopped", child.index, pid)
            return
        how = f"signal {-code}" if code < 0 else f"status {code}"
        if self.once:
            log.error("worker process %s (pid %s) died: %s", child.index, pid, how)
            self.failed = True
            return
        ran = time.monotonic() - child.started
        failures = (
            1 if ran >= self.steady_seconds else self.failures.get(child.index, 0) + 1
        )
        self.failures[child.index] = failures
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        log.error(
            "worker process %s (pid %s) died: %s; restarting in %.0f s",
            child.index, pid, how, delay,
        )  # fmt: skip
        self.restarts[child.index] = time.monotonic() + delay

    def _restart_due(self) -> None:
        """Start again the children whose backoff has passed."""
        now = time.monotonic()
        for index, when in list(self.restarts.items()):
            if when <= now and not self.stopping:
                self.restarts.pop(index, None)
                self._start(index)


def run_workers(app: Flask, processes: int, once: bool = False) -> int:
    """Run `processes` forked workers on the app's queue; return the exit status."""
    from newsletter.mail.worker import Worker

    # Fail here, once, rather than in every child: an unsafe Python, a bad key.
    require_safe_email_headers()
    signer_for(app)
    with app.app_context():
        db.engine.dispose()  # no connection of the parent's may reach a child

    def run_child(index: int) -> int:
        with app.app_context():
            # The parent's pool is the parent's: drop it without closing its sockets.
            db.engine.dispose(close=False)
        Worker(app).run(once=once)
        return 0

    return Supervisor(run_child, processes, once=once).run()
