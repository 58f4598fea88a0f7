"""VERP envelope senders: a bounce address that names the one message it came from.

Every message leaves with MAIL FROM <local>+<tag>@<domain>, built from RETURN_PATH.
The tag is the kind of row (d: an issue delivery, m: a transactional message), its id
in base 36 and a truncated HMAC of both in lower-case base 32, so that a bounce or a
complaint finds its row without reading the returned message, and a made-up or
altered address finds nothing. Receiving servers may change the case of a local
part; the tag reads the same either way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache

KINDS = ("d", "m")  # an issue delivery, a transactional message
MAC_LENGTH = 12  # 60 bits of the HMAC
MAX_LOCAL_PART = 64  # octets, RFC 5321 section 4.5.3.1.1
# "+", the kind, 13 base-36 digits (a 64-bit id), "-" and the MAC.
TAG_ROOM = 1 + 1 + 13 + 1 + MAC_LENGTH
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TAG = re.compile(rf"([dm])([0-9a-z]{{1,13}})-([a-z2-7]{{{MAC_LENGTH}}})")


@dataclass(frozen=True)
class Tagged:
    """The row a VERP address names."""

    kind: str  # "d" or "m"
    row_id: int


def _base36(number: int) -> str:
    """Write a non-negative whole number in base 36."""
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
        if not number:
            return digits


def _mac(secret: str, kind: str, row_id: int) -> str:
    """Return the tag's signature: the HMAC of kind and id, truncated."""
    digest = hmac.new(
        secret.encode(), f"verp:{kind}:{row_id}".encode(), hashlib.sha256
    ).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_LENGTH]


@lru_cache(maxsize=8)  # parsing costs more than the HMAC; the setting rarely changes
def split_return_path(return_path: str) -> tuple[str, str]:
    """Return the local part and domain of RETURN_PATH, or raise ValueError."""
    address = parseaddr(return_path)[1]
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{return_path!r} is not an email address")
    if len(local.encode()) + TAG_ROOM > MAX_LOCAL_PART:
        raise ValueError(
            f"the local part of {address!r} leaves no room for the bounce tag: "
            f"use at most {MAX_LOCAL_PART - TAG_ROOM} characters before the @"
        )
    return local, domain


def verp_address(return_path: str, secret: str, kind: str, row_id: int) -> str:
    """Return the envelope sender that names one delivery or message."""
    if kind not in KINDS or row_id < 0:
        raise ValueError(f"no VERP tag for {kind}{row_id}")
    local, domain = split_return_path(return_path)
    tag = f"{kind}{_base36(row_id)}-{_mac(secret, kind, row_id)}"
    return f"{local}+{tag}@{domain}"


def read_verp_address(address: str, secret: str) -> Tagged | None:
    """Return the row a VERP address names, or None for any other address."""
    local = parseaddr(address)[1].rpartition("@")[0]
    tag = local.rpartition("+")[2].lower()
    match = _TAG.fullmatch(tag) if "+" in local else None
    if match is None:
        return None
    kind, digits, mac = match.groups()
    row_id = int(digits, 36)
    if not hmac.compare_digest(mac, _mac(secret, kind, row_id)):
        return None
    return Tagged(kind, row_id)
