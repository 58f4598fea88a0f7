"""DKIM signing of outgoing messages when a key is configured."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import dkim
from flask import Flask

from newsletter.config import settings_of

SIGNED_HEADERS = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version",
    b"Content-Type", b"List-Id", b"List-Unsubscribe", b"List-Unsubscribe-Post",
    b"List-Archive",
)  # fmt: skip


class DKIMSigner:
    """Prepends a DKIM-Signature header (relaxed/relaxed, rsa-sha256)."""

    def __init__(self, domain: str, selector: str, private_key: bytes) -> None:
        self.domain = domain.encode()
        self.selector = selector.encode()
        self.private_key = private_key

    def sign(self, message: bytes) -> bytes:
        """Return the message with its signature header in front."""
        header: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(SIGNED_HEADERS),
        )
        return header + message


@cache
def _read_key(path: str) -> bytes:
    """Read a PEM private key once per process."""
    return Path(path).read_bytes()


def signer_for(app: Flask) -> DKIMSigner | None:
    """Return a signer when DKIM_DOMAIN, DKIM_SELECTOR and the key path are set."""
    config = settings_of(app)
    domain = config.dkim_domain
    selector = config.dkim_selector
    key_path = config.dkim_private_key_path
    if not (domain and selector and key_path):
        return None
    return DKIMSigner(domain, selector, _read_key(key_path))
