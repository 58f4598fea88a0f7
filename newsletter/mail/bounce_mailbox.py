"""The bounce mailbox: an IMAP folder where bounces and complaints arrive, for sites
whose mail server cannot pipe them to `flask bounces process`.

A worker reads each message, hands it over to be recorded, and deletes it only once
the handler says it is recorded and committed; a message it could not record stays
for the next poll.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

from sqlalchemy.exc import IntegrityError

from newsletter.config import ConfigError, Settings
from newsletter.extensions import db
from newsletter.models.types import utcnow
from newsletter.services import bounces

log = logging.getLogger("newsletter.bounces")

DEFAULT_PORTS = {"imap": 143, "imaps": 993}


class MailboxError(Exception):
    """The mailbox could not be reached or read; try again at the next poll."""


@dataclass(frozen=True)
class BounceMailbox:
    """Where to log in, from BOUNCE_MAILBOX_URL: imaps://user:password@host/INBOX."""

    scheme: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, timeout: float = 30.0) -> BounceMailbox:
        """Read a mailbox URL (credentials percent-encoded); raise ValueError."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("use imaps://user:password@host/INBOX (or imap://)")
        if parts.username is None or parts.password is None:
            raise ValueError("the URL needs a user name and a password")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            timeout=timeout,
        )

    def __str__(self) -> str:
        """Name the mailbox without its password."""
        return f"{self.scheme}://{self.username}@{self.host}:{self.port}/{self.folder}"

    def _connect(self) -> imaplib.IMAP4:
        """Open the connection, log in and select the folder."""
        if self.scheme == "imaps":
            connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                self.host,
                self.port,
                ssl_context=ssl.create_default_context(),
                timeout=self.timeout,
            )
        else:
            connection = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
        connection.login(self.username, self.password)
        status, _ = connection.select(_quoted(self.folder))
        if status != "OK":
            connection.logout()
            raise MailboxError(f"no folder {self.folder!r}")
        return connection

    def poll(self, handle: Callable[[bytes], bool], limit: int = 200) -> int:
        """Hand each message to handle, deleting those it returns True for; return
        how many were deleted. An error of handle stops the poll and propagates."""
        try:
            connection = self._connect()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(str(exc)) from exc
        deleted = 0
        try:
            for uid in _uids(connection)[:limit]:
                raw = _fetch(connection, uid)
                if raw is not None and handle(raw):
                    connection.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
                    deleted += 1
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(str(exc)) from exc
        finally:
            _close(connection, expunge=deleted > 0)
        return deleted


def _quoted(folder: str) -> str:
    """Quote a folder name for IMAP."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uids(connection: imaplib.IMAP4) -> list[str]:
    """Return the UIDs of the messages not yet deleted, oldest first."""
    status, data = connection.uid("SEARCH", "UNDELETED")
    if status != "OK" or not data or not data[0]:
        return []
    found = data[0]
    text = found.decode() if isinstance(found, bytes) else str(found)
    return text.split()


def _fetch(connection: imaplib.IMAP4, uid: str) -> bytes | None:
    """Return one message's bytes without marking it seen."""
    status, data = connection.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    return None


def _close(connection: imaplib.IMAP4, expunge: bool) -> None:
    """Remove the messages flagged deleted, then log out, whatever state we are in."""
    try:
        if expunge:
            connection.expunge()
        connection.logout()
    except (OSError, imaplib.IMAP4.error) as exc:
        log.warning("bounce mailbox: closing failed: %s", exc)


class MailboxDuty:
    """A worker's duty: read the bounce mailbox every BOUNCE_MAILBOX_POLL_SECONDS.

    An unreachable mailbox or database is logged and tried again at the next poll;
    it never stops the worker.
    """

    def __init__(self, mailbox: BounceMailbox, every_seconds: float) -> None:
        self.mailbox = mailbox
        self.every = timedelta(seconds=every_seconds)
        self.last_poll: datetime | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> MailboxDuty | None:
        """Return the duty when BOUNCE_MAILBOX_URL is set; refuse a bad URL."""
        if not config.bounce_mailbox_url:
            return None
        try:
            mailbox = BounceMailbox.from_url(config.bounce_mailbox_url)
        except ValueError as exc:
            raise ConfigError(f"NEWSLETTER_BOUNCE_MAILBOX_URL: {exc}") from None
        return cls(mailbox, config.bounce_mailbox_poll_seconds)

    def poll_when_due(self, now: datetime) -> int:
        """Poll if the interval has passed; return how many messages were handled."""
        if self.last_poll and now - self.last_poll < self.every:
            return 0
        self.last_poll = now
        try:
            return self.mailbox.poll(_record)
        except MailboxError as exc:
            log.warning("bounce mailbox %s: %s; trying again later", self.mailbox, exc)
        except bounces.DATABASE_DOWN as exc:
            _roll_back()
            log.warning(
                "bounce mailbox: the database is unreachable, the messages stay "
                "for the next poll: %s",
                exc,
            )
        return 0


def _roll_back() -> None:
    """Forget the session's work, even when its connection is gone."""
    try:
        db.session.rollback()
    except bounces.DATABASE_DOWN:
        db.session.close()


def _record(raw: bytes) -> bool:
    """Record one message from the mailbox and commit; return whether it may go."""
    try:
        result = bounces.process(raw, utcnow())
        db.session.commit()
    except bounces.DATABASE_DOWN:
        raise
    except IntegrityError:
        # Another worker recorded the same report a moment ago; the next poll
        # finds it recorded and deletes it.
        _roll_back()
        return False
    except Exception:  # noqa: BLE001 - one bad message must not stop the rest
        _roll_back()
        log.exception("bounce mailbox: a message could not be recorded; it stays")
        return False
    log.info("bounce mailbox: %s", result.summary)
    return True
