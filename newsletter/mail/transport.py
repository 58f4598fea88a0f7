"""Where mail leaves the service: one narrow interface, SMTP and in-memory."""

from __future__ import annotations

import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from typing import Protocol


class DeliveryFailure(Exception):
    """The server did not accept a message."""

    def __init__(self, reply: str, code: int | None = None) -> None:
        super().__init__(reply)
        self.reply = reply
        self.code = code


class TransientFailure(DeliveryFailure):
    """Try again later: a 4xx reply, a dropped connection, a timeout."""


class PermanentFailure(DeliveryFailure):
    """Do not try again: a 5xx reply."""


class ServerUnreachable(TransientFailure):
    """No session with the server could be opened (refused, timed out, no route, a
    refused greeting or login): nothing was sent, and it says nothing about the
    recipient."""


class _Stale(Exception):
    """The connection was closed before the server accepted an envelope."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transport(Protocol):
    """Sends one message to one recipient; keeps its connection between calls."""

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Hand a message over, or raise TransientFailure or PermanentFailure."""

    def close(self) -> None:
        """Release the connection."""


def _reply(code: int, text: bytes | str) -> str:
    """Format a server reply the way editors will see it."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _failure(code: int, text: bytes | str) -> DeliveryFailure:
    """Classify a reply: 5xx is permanent, anything else transient."""
    kind = PermanentFailure if 500 <= code < 600 else TransientFailure
    return kind(_reply(code, text), code)


@dataclass
class SMTPTransport:
    """A persistent SMTP connection with STARTTLS or TLS and optional login."""

    host: str
    port: int
    security: str = "none"  # none, starttls, tls
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    _smtp: smtplib.SMTP | None = field(default=None, init=False, repr=False)

    def _connect(self) -> smtplib.SMTP:
        """Open, secure and log in."""
        context = ssl.create_default_context()
        try:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPResponseException as exc:
            # The server refused the session itself (greeting, STARTTLS, login):
            # that says nothing about any recipient, so no row pays for it.
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise ServerUnreachable(
                f"{self.host}:{self.port} refused the session: {reply}", exc.smtp_code
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnreachable(
                f"connection to {self.host}:{self.port}: {exc}"
            ) from exc
        return smtp

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Send over the open connection, reconnecting once it has dropped."""
        reused = self._smtp is not None
        try:
            try:
                smtp = self._envelope(sender, recipient)
            except _Stale:
                if not reused:
                    raise
                # Servers close connections that stay idle; the envelope was not
                # accepted, so nothing can be sent twice by starting over at once.
                self.close()
                smtp = self._envelope(sender, recipient)
            code, text = smtp.data(message)
        except _Stale as exc:
            self.close()
            raise TransientFailure(f"connection dropped: {exc.reason}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise TransientFailure(f"connection dropped: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in (421, -1):
                self.close()  # the server is closing the connection
            raise _failure(exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientFailure(f"connection error: {exc}") from exc
        if code != 250:
            self._refuse(code, text)

    def _envelope(self, sender: str, recipient: str) -> smtplib.SMTP:
        """Connect if needed and pass MAIL FROM and RCPT TO; raise _Stale when the
        connection turns out closed before the server accepted anything."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            smtp.ehlo_or_helo_if_needed()
            options = []
            if not (sender + recipient).isascii():
                if not smtp.has_extn("smtputf8"):
                    raise PermanentFailure(
                        "the mail server does not accept international "
                        "addresses (no SMTPUTF8)"
                    )
                options.append("SMTPUTF8")
            code, text = smtp.mail(sender, options)
        except smtplib.SMTPServerDisconnected as exc:
            raise _Stale(str(exc)) from exc
        except OSError as exc:
            raise _Stale(str(exc)) from exc
        if code == 421:
            raise _Stale(_reply(code, text))
        if code != 250:
            self._refuse(code, text)
        code, text = smtp.rcpt(recipient)
        if code not in (250, 251):
            self._refuse(code, text)
        return smtp

    def _refuse(self, code: int, text: bytes) -> None:
        """Reset the transaction after a refusal and raise it as a failure."""
        if code == 421 or code == -1:
            self.close()
        elif self._smtp is not None:
            try:
                self._smtp.rset()
            except (OSError, smtplib.SMTPException):
                self.close()
        raise _failure(code, text)

    def close(self) -> None:
        """Say QUIT if the connection still answers, then forget it."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


@dataclass
class MemoryTransport:
    """Keeps messages in a list; for tests and previews, never for delivery."""

    sent: list[tuple[str, str, bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Record the message."""
        with self._lock:
            self.sent.append((sender, recipient, message))

    def close(self) -> None:
        """Nothing to release."""
