"""A local SMTP server that keeps every message in a Maildir (development only)."""

from __future__ import annotations

from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def ensure_maildir(path: str) -> None:
    """Create a Maildir's cur, new and tmp folders if they are missing."""
    for folder in ("cur", "new", "tmp"):
        (Path(path) / folder).mkdir(parents=True, exist_ok=True)


class MailCatcher:
    """aiosmtpd on loopback, writing each message it accepts to a Maildir."""

    def __init__(self, maildir: str, port: int = 8025) -> None:
        ensure_maildir(maildir)
        self.controller = Controller(
            Mailbox(Path(maildir)), hostname="127.0.0.1", port=port
        )

    def start(self) -> None:
        """Start listening."""
        self.controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()
