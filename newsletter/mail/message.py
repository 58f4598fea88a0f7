"""Turn a rendered email into RFC 5322 bytes once, then personalise it cheaply.

An issue goes to thousands of people with the same content: only the To header, the
Date, the Message-ID and a few links (unsubscribe, preferences) differ. The static
parts are encoded once (quoted-printable, UTF-8, RFC 2047 headers through
email.policy.SMTP) and each copy is a join of pre-encoded bytes and a few short
encoded values, so that personalising costs microseconds, not a MIME build.
"""

from __future__ import annotations

import binascii
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from newsletter.mail.render import RenderedEmail

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
MAX_QP_LINE = 76


def header_text(value: str) -> str:
    """Return text fit for one header line: no control characters, one line."""
    printable = "".join(c for c in value if unicodedata.category(c) != "Cc" or c == " ")
    return " ".join(printable.split())


def unstructured_header(name: str, value: str) -> bytes:
    """Return a header line for free text (a subject, a list name), folded.

    Text that spells an RFC 2047 encoded word is encoded whole, as words of our own:
    left as it is, the email package would decode it on parsing and, on some Python
    versions, write a decoded CR/LF to the wire, adding headers or a body part.
    """
    text = header_text(value)
    if "=?" not in text:
        return SMTP.fold_binary(name, SMTP.header_factory(name, text))
    encoded = Header(text, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def slot(name: str, marker: str) -> str:
    """Return the marker that stands for a per-recipient value in one render.

    The marker is a random value made for that render alone: text that editors or
    feeds put into the content can never spell it, so a personal link is substituted
    only where the template asked for it.
    """
    return f"%%{marker}:{name.upper()}%%"


def new_marker() -> str:
    """Return an unguessable marker for the slots of one render."""
    return secrets.token_hex(16)


def _qp(text: str) -> bytes:
    """Quoted-printable encode UTF-8 text with CRLF line ends."""
    data = text.replace("\r\n", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", CRLF)


def _safe_cut(line: bytes, limit: int) -> int:
    """Return a cut position <= limit that does not split an =XX escape."""
    position = 0
    while position < len(line):
        step = 3 if line[position : position + 1] == b"=" else 1
        if position + step > limit:
            break
        position += step
    return position


def _end_with_soft_break(encoded: bytes) -> bytes:
    """Close an encoded segment with a soft line break, keeping lines <= 76 chars."""
    head, _, last = encoded.rpartition(CRLF)
    prefix = head + CRLF if head or encoded.startswith(CRLF) else b""
    if len(last) + 1 > MAX_QP_LINE:
        cut = _safe_cut(last, MAX_QP_LINE - 1)
        last = last[:cut] + SOFT_BREAK + last[cut:]
    return prefix + last + SOFT_BREAK


class _EncodedBody:
    """A text split at its slots, each static piece encoded once."""

    def __init__(self, text: str, slots: Sequence[str], marker: str) -> None:
        self.pieces: list[bytes | str] = []
        if slots:
            names = {slot(s, marker): s for s in slots}
            pattern = re.compile("|".join(re.escape(m) for m in names))
        position = 0
        for match in pattern.finditer(text) if slots else ():
            self.pieces.append(
                _end_with_soft_break(_qp(text[position : match.start()]))
            )
            self.pieces.append(names[match.group(0)])
            position = match.end()
        self.pieces.append(_qp(text[position:]))

    def encode(self, values: Mapping[str, str]) -> bytes:
        """Join the pieces with each slot's value encoded in place."""
        return b"".join(
            piece
            if isinstance(piece, bytes)
            else _end_with_soft_break(_qp(values[piece]))
            for piece in self.pieces
        )


class MessageTemplate:
    """One rendered email as bytes with per-recipient headers and link slots."""

    def __init__(
        self,
        rendered: RenderedEmail,
        *,
        sender: str,
        headers: Mapping[str, str] | None = None,
        slots: Sequence[str] = (),
        marker: str = "",
    ) -> None:
        self.slots = tuple(slots)
        if self.slots and len(marker) < 32:
            raise ValueError("slots need an unguessable marker (new_marker())")
        for name in self.slots:
            if slot(name, marker) in rendered.subject:
                raise ValueError("per-recipient values cannot go in the subject")
        static = EmailMessage(policy=SMTP)
        static["From"] = sender
        static["MIME-Version"] = "1.0"
        self.static_headers = b"".join(
            (
                *(SMTP.fold_binary(name, value) for name, value in static.items()),
                unstructured_header("Subject", rendered.subject),
                *(
                    unstructured_header(name, value)
                    for name, value in (headers or {}).items()
                ),
            )
        )
        boundary = f"=_nb_{secrets.token_hex(12)}"
        self.body_head = (
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n"
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        self.text = _EncodedBody(rendered.text, self.slots, marker)
        self.middle = (
            f"\r\n--{boundary}\r\n"
            'Content-Type: text/html; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        self.html = _EncodedBody(rendered.html, self.slots, marker)
        self.tail = f"\r\n--{boundary}--\r\n".encode("ascii")

    def personalise(
        self,
        *,
        to_address: str,
        to_name: str,
        message_id: str,
        date: datetime,
        values: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """Return the complete message for one recipient."""
        values = values or {}
        name = header_text(to_name)  # a stored name never breaks the header
        if to_address.isascii():
            to = formataddr((name, to_address), charset="utf-8")
        else:  # RFC 6532: sent only with SMTPUTF8, which carries UTF-8 headers
            to = to_address
        lines = [
            f"To: {to}",
            f"Date: {format_datetime(date)}",
            f"Message-ID: {message_id}",
        ]
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        for line in lines:
            if "\r" in line or "\n" in line:
                raise ValueError("header values cannot contain line breaks")
        personal = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        return b"".join(
            (
                self.static_headers,
                personal,
                self.body_head,
                self.text.encode(values),
                self.middle,
                self.html.encode(values),
                self.tail,
            )
        )
