"""A real SMTP server on loopback (aiosmtpd) that records what it accepts."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """Pick a free loopback port (aiosmtpd cannot bind port 0 itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """One accepted message."""

    mail_from: str
    recipient: str
    data: bytes
    at: float = field(default_factory=time.monotonic)  # when it was accepted

    def parse(self) -> EmailMessage:
        """Parse the message as a mail client would."""
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


# A fault hook sees the recipient and the message number and returns None to accept,
# an SMTP reply such as "451 4.3.0 try later" to refuse, or "drop" to cut the line.
FaultHook = Callable[[str, int], str | None]


@dataclass
class Sink:
    """The handler: keeps accepted messages, optionally refusing some."""

    fault: FaultHook | None = None
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.attempts += 1
            number = self.attempts
        for recipient in envelope.rcpt_tos:
            verdict = self.fault(recipient, number) if self.fault else None
            if verdict == "drop":
                server.transport.close()
                return "421 4.4.2 connection dropped"
            if verdict:
                return verdict
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received.append(
                    Received(envelope.mail_from, recipient, envelope.original_content)
                )
        return "250 2.0.0 OK"

    def messages(self) -> list[EmailMessage]:
        """Return every accepted message, parsed."""
        with self.lock:
            return [r.parse() for r in self.received]

    def recipients(self) -> list[str]:
        """Return the recipient of every accepted message, in order."""
        with self.lock:
            return [r.recipient for r in self.received]


class SMTPServer:
    """Start and stop a Sink on a free loopback port."""

    def __init__(
        self, sink: Sink | None = None, port: int | None = None, **smtp_options: Any
    ) -> None:
        """Serve on a free port (or this one); options go to aiosmtpd's SMTP."""
        self.sink = sink or Sink()
        self.port = port or free_port()
        self.controller = Controller(
            self.sink,
            hostname="127.0.0.1",
            port=self.port,
            ready_timeout=10,
            **smtp_options,
        )

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
