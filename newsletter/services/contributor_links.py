"""Contribution links: random tokens, stored hashed, that partners propose through.

A token is shown once, when the link is made; the database keeps only its SHA-256
hash, so a leaked database opens no form and revoking a row closes its link.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from newsletter.errors import DomainError, NotFound
from newsletter.extensions import db
from newsletter.models import ContributionLink

TOKEN_BYTES = 24


class LinkClosed(DomainError):
    """The link was revoked or has expired: it takes no more proposals."""

    def __init__(self, link: ContributionLink) -> None:
        super().__init__("revoked" if link.revoked_at else "expired")
        self.link = link
        self.revoked = link.revoked_at is not None


def new_token() -> str:
    """Return a fresh URL-safe random token (192 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_by_token(token: str) -> ContributionLink:
    """Return the link a token opens, whatever its state, or raise NotFound."""
    link = db.session.scalar(
        select(ContributionLink).where(ContributionLink.token_hash == hash_token(token))
    )
    if link is None:
        raise NotFound("no contribution link has this address")
    return link


def open_link(token: str, now: datetime) -> ContributionLink:
    """Return the link a token opens if it still takes proposals.

    Raises NotFound for an unknown token and LinkClosed for a revoked or
    expired one.
    """
    link = link_by_token(token)
    if not link.is_open(now):
        raise LinkClosed(link)
    return link
