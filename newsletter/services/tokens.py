"""Signed, purpose-bound links for subscribers (itsdangerous)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from newsletter.config import settings

# Maximum age per purpose in seconds; None means the link lives until the
# subscriber's token version changes (unsubscribe, erase).
MAX_AGE = {
    "confirm": 48 * 3600,
    "unsubscribe": None,
    "preferences": None,
}


class InvalidToken(Exception):
    """The link is tampered with, for another purpose, or too old."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is, its token version, and a fingerprint of
    the address, so that a link never works for a later subscriber who happens to
    get the id of an erased one (SQLite reuses the highest id)."""

    subscriber_id: int
    version: int
    fingerprint: str

    def matches(self, subscriber_id: int, version: int, email: str) -> bool:
        """Whether the token is for this subscriber, at this version."""
        return (self.subscriber_id, self.version, self.fingerprint) == (
            subscriber_id,
            version,
            address_fingerprint(email),
        )


def address_fingerprint(email: str) -> str:
    """A short digest of the address that a token carries."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()[:12]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    """Return a serializer salted for one purpose, so tokens never cross purposes."""
    if purpose not in MAX_AGE:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(settings().secret_key, salt=f"newsletter.{purpose}")


def make_token(purpose: str, subscriber_id: int, version: int, email: str) -> str:
    """Sign a subscriber id, token version and address fingerprint for one purpose."""
    return _serializer(purpose).dumps(
        [subscriber_id, version, address_fingerprint(email)]
    )


def read_token(purpose: str, token: str) -> TokenClaims:
    """Verify a token for a purpose and return its claims, or raise InvalidToken."""
    try:
        data = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as exc:
        raise InvalidToken(expired=True) from exc
    except BadSignature as exc:
        raise InvalidToken() from exc
    if (
        not isinstance(data, list)
        or len(data) != 3
        or not all(isinstance(v, int) for v in data[:2])
        or not isinstance(data[2], str)
    ):
        raise InvalidToken()
    return TokenClaims(subscriber_id=data[0], version=data[1], fingerprint=data[2])
