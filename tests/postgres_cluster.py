"""A PostgreSQL cluster of a test's own, on its own port, to restart and stop.

Debian's postgresql-common makes one in about a second (`pg_createcluster`); tests
run as root in CI, and elsewhere the test skips when it cannot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.smtp import free_port

DATABASE = "newsletter"


def installed_version() -> str | None:
    """Return the newest installed PostgreSQL major version, if any."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    versions = sorted((p.name for p in root.iterdir() if p.name.isdigit()), key=int)
    return versions[-1] if versions else None


def can_create_clusters() -> bool:
    """Tell whether this process can make a cluster of its own."""
    return bool(
        shutil.which("pg_createcluster") and installed_version() and os.geteuid() == 0
    )


class OwnCluster:
    """One throwaway cluster: created and started, then restarted, stopped, dropped."""

    def __init__(self, name: str) -> None:
        self.version = installed_version() or ""
        self.name = name
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        """Create and start the cluster (trusting loopback) and an empty database."""
        self.drop()  # one left behind by an interrupted run of the same name
        self._ctl(
            "pg_createcluster",
            self.version,
            self.name,
            "--port",
            str(self.port),
            "--start",
            # The data of a test need not survive a crash of the machine.
            "-o",
            "fsync=off",
            "--",
            "--auth=trust",
        )
        admin = create_engine(
            self.url.replace(f"/{DATABASE}", "/postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()

    def restart(self) -> None:
        """Restart the server (fast shutdown: open sessions are cut)."""
        self._ctl("pg_ctlcluster", self.version, self.name, "restart")

    def stop(self) -> None:
        """Stop the server."""
        self._ctl("pg_ctlcluster", self.version, self.name, "stop")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._ctl("pg_ctlcluster", self.version, self.name, "start")

    def drop(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name],
            capture_output=True,
            timeout=120,
        )
