"""DKIM signing (RFC 6376) of outgoing messages, with OpenSSL through cryptography.

Each configured key adds one DKIM-Signature header: RSA-SHA256, Ed25519-SHA256
(RFC 8463), or both, for the same DKIM_DOMAIN. Canonicalization is relaxed/relaxed
(RFC 6376 §3.4.2 and §3.4.4). Keys are read once per process; the hashing is
hashlib's and the signing OpenSSL's, so a 72 KB issue costs well under a millisecond.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from flask import Flask

from newsletter.config import ENV_PREFIX, ConfigError, Settings, settings_of

SIGNED_HEADERS = (
    b"From", b"Reply-To", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version",
    b"Content-Type", b"List-Id", b"List-Unsubscribe", b"List-Unsubscribe-Post",
    b"List-Archive",
)  # fmt: skip
# Listed once more than they occur: a verifier then finds the signature broken when
# anyone adds a second one (a From shown instead of ours).
OVERSIGNED = (b"From",)
MIN_RSA_BITS = 1024  # RFC 8301: verifiers refuse shorter keys
CRLF = b"\r\n"
FOLD = b"\r\n "
LINE = 72  # characters of a folded tag value per line

_BARE_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")
_HEADER_WSP = re.compile(rb"[ \t]+")
_SPACE_RUN = re.compile(rb"  +")  # a literal two-space prefix: found by fast search

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    """One selector and its private key: RSA (rsa-sha256) or Ed25519."""

    selector: str
    private_key: PrivateKey

    @property
    def algorithm(self) -> bytes:
        """Return the a= tag value for this key."""
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return b"rsa-sha256"
        return b"ed25519-sha256"

    def sign(self, data: bytes) -> bytes:
        """Sign the canonicalized header data."""
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        # RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data, not the data.
        return self.private_key.sign(hashlib.sha256(data).digest())


def relaxed_body(body: bytes) -> bytes:
    """Canonicalize a body with CRLF line ends the relaxed way (RFC 6376 §3.4.4)."""
    if body and not body.endswith(CRLF):
        body += CRLF
    # Each step first asks whether it has anything to do: the scans run at memory
    # speed, and most lines of a quoted-printable body need no change.
    if b"\t" in body:
        body = body.replace(b"\t", b" ")
    if b"  " in body:
        body = _SPACE_RUN.sub(b" ", body)
    if b" \r\n" in body:
        body = body.replace(b" \r\n", CRLF)
    if body != CRLF and not body.endswith(CRLF + CRLF):
        return body  # no empty lines at the end to remove
    body = body.rstrip(CRLF)
    return body + CRLF if body else b""


def relaxed_header(field: bytes) -> bytes:
    """Canonicalize one header field without its final CRLF (RFC 6376 §3.4.2)."""
    name, _, value = field.partition(b":")
    value = _HEADER_WSP.sub(b" ", value.replace(CRLF, b"")).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value


def header_fields(block: bytes) -> list[bytes]:
    """Split a header block into fields, each with its folds, without the final CRLF."""
    fields: list[bytes] = []
    for line in block.split(CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += CRLF + line
        elif line:
            fields.append(line)
    return fields


def with_crlf_line_ends(message: bytes) -> bytes:
    """Return the message with every line end a CRLF, as SMTP will send it."""
    rest = message.replace(CRLF, b"")
    if b"\n" not in rest and b"\r" not in rest:
        return message
    return _BARE_LINE_END.sub(CRLF, message)


def fold_list(names: Sequence[bytes], start: int) -> bytes:
    """Join header names with colons, folding before a line grows past LINE."""
    out, column = b"", start
    for index, name in enumerate(names):
        piece = name if index == 0 else b":" + name
        if column + len(piece) > LINE and index:
            out += b":" + FOLD
            piece, column = name, 1
        out += piece
        column += len(piece)
    return out


def fold_base64(value: bytes) -> bytes:
    """Break a base64 value into lines of LINE characters."""
    return FOLD.join(value[i : i + LINE] for i in range(0, len(value), LINE))


class DKIMSigner:
    """Prepends one DKIM-Signature header per key (relaxed/relaxed)."""

    def __init__(
        self,
        domain: str,
        keys: Sequence[SigningKey],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("a signer needs at least one key")
        self.domain = domain
        self.keys = tuple(keys)
        self.clock = clock
        # The tags that are the same in every signature of a key.
        self.prefixes = [
            b"DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;"
            % (key.algorithm, domain.encode("ascii"), key.selector.encode("ascii"))
            for key in self.keys
        ]
        self.h_tags: dict[tuple[bytes, ...], bytes] = {}

    def sign(self, message: bytes) -> bytes:
        """Return the message with its signature headers in front."""
        message = with_crlf_line_ends(message)
        if message.startswith(CRLF):
            block, body = b"", message[2:]
        else:
            block, _, body = message.partition(CRLF + CRLF)
        names, signed = self._signed_headers(header_fields(block))
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        tags = b"%st=%d; h=%s;%sbh=%s;%sb=" % (
            FOLD,
            int(self.clock()),
            self._h_tag(names),
            FOLD,
            body_hash,
            FOLD,
        )
        headers = []
        for key, prefix in zip(self.keys, self.prefixes, strict=True):
            unsigned = prefix + tags
            signature = key.sign(signed + relaxed_header(unsigned))
            headers.append(unsigned + fold_base64(base64.b64encode(signature)) + CRLF)
        return b"".join(headers) + message

    def _signed_headers(self, fields: list[bytes]) -> tuple[tuple[bytes, ...], bytes]:
        """Return the h= names and the canonicalized fields they sign, in h= order.

        A name listed n times signs its last n instances, bottom up (RFC 6376
        §5.4.2); listed once more than present, it signs "nothing" the last time.
        """
        instances: dict[bytes, list[bytes]] = {}
        for field in fields:
            name = field.partition(b":")[0].rstrip(b" \t").lower()
            instances.setdefault(name, []).append(field)
        names: list[bytes] = []
        signed: list[bytes] = []
        for name in SIGNED_HEADERS:
            present = instances.get(name.lower(), [])
            if not present:
                continue
            extra = 1 if name in OVERSIGNED else 0
            names.extend([name] * (len(present) + extra))
            signed.extend(relaxed_header(f) + CRLF for f in reversed(present))
        return tuple(names), b"".join(signed)

    def _h_tag(self, names: tuple[bytes, ...]) -> bytes:
        """Return the folded h= value, built once per set of names."""
        tag = self.h_tags.get(names)
        if tag is None:
            tag = self.h_tags[names] = fold_list(names, len(b" t=0000000000; h="))
        return tag


def _read_key(path: str, setting: str) -> PrivateKey:
    """Load a PEM private key, or stop with an error that names the setting."""
    name = ENV_PREFIX + setting
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{name}: {path} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ConfigError(f"{name}: {path} holds neither an RSA nor an Ed25519 key")
    return key


@cache
def load_key(path: str, setting: str, kind: str) -> PrivateKey:
    """Return the private key of one setting, read once per process."""
    key = _read_key(path, setting)
    if kind == "rsa":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(f"{ENV_PREFIX}{setting}: {path} is not an RSA key")
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(
                f"{ENV_PREFIX}{setting}: the key has {key.key_size} bits; "
                "use 2048 (verifiers refuse fewer than 1024)"
            )
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError(f"{ENV_PREFIX}{setting}: {path} is not an Ed25519 key")
    return key


def _pair(
    selector: str | None, path: str | None, names: tuple[str, str], kind: str
) -> SigningKey | None:
    """Return the key of a selector and key-path pair, None when neither is set."""
    if not selector and not path:
        return None
    if not (selector and path):
        missing = names[1] if selector else names[0]
        given = names[0] if selector else names[1]
        raise ConfigError(f"{ENV_PREFIX}{given} is set, {ENV_PREFIX}{missing} is not")
    return SigningKey(selector, load_key(path, names[1], kind))


def signing_keys(config: Settings) -> list[SigningKey]:
    """Return the configured keys: RSA first, then Ed25519."""
    pairs = [
        _pair(
            config.dkim_selector,
            config.dkim_private_key_path,
            ("DKIM_SELECTOR", "DKIM_PRIVATE_KEY_PATH"),
            "rsa",
        ),
        _pair(
            config.dkim_ed25519_selector,
            config.dkim_ed25519_private_key_path,
            ("DKIM_ED25519_SELECTOR", "DKIM_ED25519_PRIVATE_KEY_PATH"),
            "ed25519",
        ),
    ]
    return [key for key in pairs if key is not None]


def signer_for(app: Flask) -> DKIMSigner | None:
    """Return the app's signer, None without DKIM; a half-made setup is an error."""
    config = settings_of(app)
    keys = signing_keys(config)
    if keys and not config.dkim_domain:
        raise ConfigError(f"{ENV_PREFIX}DKIM_DOMAIN is not set; the keys sign for it")
    if config.dkim_domain and not keys:
        raise ConfigError(
            f"{ENV_PREFIX}DKIM_DOMAIN is set without a key: set DKIM_SELECTOR and "
            "DKIM_PRIVATE_KEY_PATH, or DKIM_ED25519_SELECTOR and "
            "DKIM_ED25519_PRIVATE_KEY_PATH"
        )
    if not config.dkim_domain:
        return None
    for name, value in (
        ("DKIM_DOMAIN", config.dkim_domain),
        ("DKIM_SELECTOR", config.dkim_selector),
        ("DKIM_ED25519_SELECTOR", config.dkim_ed25519_selector),
    ):
        if value and not (value.isascii() and value.isprintable() and " " not in value):
            raise ConfigError(
                f"{ENV_PREFIX}{name} must be a DNS name in ASCII (an international "
                f"domain in its xn-- form), got {value!r}"
            )
    return DKIMSigner(config.dkim_domain, keys)
