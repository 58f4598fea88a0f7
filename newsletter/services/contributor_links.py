"""Contribution links and proposals' private links.

A contribution link is a random token. The database finds it by its SHA-256 hash
and keeps the token itself only sealed (Fernet) with a key derived from the secret
key, so reminders and editors can give the address again while a copy of the
database alone opens no form. Revoking the row closes the link for good.

A proposal's private link is signed (itsdangerous) over the proposal's id and a
random value stored with it: any email about the proposal can carry it, and
replacing the value ends every earlier link.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from newsletter.config import settings
from newsletter.errors import DomainError, NotFound
from newsletter.extensions import db
from newsletter.models import ContributionLink, Proposal

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
    """Return the form of a token that finds its row."""
    return hashlib.sha256(token.encode()).hexdigest()


def _fernet() -> Fernet:
    """The sealing key: derived from the secret key, for this purpose only."""
    digest = hashlib.sha256(
        b"newsletter contribution links\0" + settings().secret_key.encode()
    ).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def set_token(link: ContributionLink) -> str:
    """Give a link a new random token and return it (the old one stops working)."""
    token = new_token()
    link.token_hash = hash_token(token)
    link.token_sealed = _fernet().encrypt(token.encode()).decode()
    return token


def token_of(link: ContributionLink) -> str | None:
    """Return a link's token, or None when it cannot be unsealed (the secret key
    changed since the link was made)."""
    try:
        return _fernet().decrypt(link.token_sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def link_url(link: ContributionLink) -> str | None:
    """Return the full address of a contribution link, or None (see token_of)."""
    token = token_of(link)
    return f"{settings().base_url}/contribute/{token}" if token else None


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


def _proposal_signer() -> URLSafeSerializer:
    return URLSafeSerializer(settings().secret_key, salt="proposal")


def set_proposal_secret(proposal: Proposal) -> None:
    """Give a proposal a new private-link secret (earlier links stop working)."""
    proposal.edit_secret = secrets.token_hex(32)


def proposal_token(proposal: Proposal) -> str:
    """Return the token of a proposal's private link (needs its id: flush first)."""
    return _proposal_signer().dumps([proposal.id, proposal.edit_secret[:32]])


def proposal_url(proposal: Proposal) -> str:
    """Return the full address of a proposal's private page."""
    return f"{settings().base_url}/contribute/proposal/{proposal_token(proposal)}"


def proposal_by_token(token: str) -> Proposal:
    """Return the proposal a private link opens, or raise NotFound."""
    try:
        proposal_id, secret = _proposal_signer().loads(token)
    except (BadSignature, ValueError, TypeError):
        raise NotFound("no proposal has this address") from None
    proposal = (
        db.session.get(Proposal, proposal_id) if type(proposal_id) is int else None
    )
    if proposal is None or not secrets.compare_digest(
        proposal.edit_secret[:32], str(secret)
    ):
        raise NotFound("no proposal has this address")
    return proposal
