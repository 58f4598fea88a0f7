"""API keys: made by administrators, shown once, kept only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from newsletter.errors import NotFound
from newsletter.extensions import db
from newsletter.models import ApiKey
from newsletter.services import audit

# Keys start with this, so that a key pasted somewhere it should not be is easy to
# recognise (and to search for in logs and repositories).
KEY_START = "nlk_"
PREFIX_LENGTH = 12
# last_used_at is written at most this often per key: reading the API must not
# cost a write per request.
LAST_USE_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the key itself (never stored)."""

    row: ApiKey
    key: str


def key_hash(key: str) -> str:
    """Return the stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(name: str, by: str) -> NewKey:
    """Make a key named name; the caller shows NewKey.key once and commits."""
    name = " ".join(name.split())[:120]
    if not name:
        raise ValueError("an API key needs a name")
    key = KEY_START + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:PREFIX_LENGTH], key_hash=key_hash(key))
    row.created_by = by
    db.session.add(row)
    db.session.flush()
    audit.record(
        "api_key.created",
        "api_key",
        row.id,
        name,
        {"name": [None, name], "prefix": [None, row.prefix]},
    )
    return NewKey(row, key)


def list_keys() -> Sequence[ApiKey]:
    """All keys, revoked ones too, newest first."""
    return db.session.scalars(
        select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    ).all()


def revoke_key(key_id: int, now: datetime) -> ApiKey:
    """Revoke a key for good (revoking a revoked key changes nothing)."""
    row = db.session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(
            "api_key.revoked",
            "api_key",
            row.id,
            row.name,
            {"revoked_at": [None, now.isoformat()]},
        )
        db.session.flush()
    return row


def authenticate(key: str, now: datetime) -> ApiKey | None:
    """Return the active key row for a presented key, or None.

    The row is found by the hash of what was presented (an index lookup that
    reveals nothing of the stored hashes), and the hashes are compared once more
    in constant time. The time of last use is written at most once a minute."""
    if not key.startswith(KEY_START) or len(key) > 200:
        return None
    presented = key_hash(key)
    row = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == presented))
    if row is None or not hmac.compare_digest(row.key_hash, presented):
        return None
    if not row.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_PRECISION:
        row.last_used_at = now
        db.session.flush()
    return row
