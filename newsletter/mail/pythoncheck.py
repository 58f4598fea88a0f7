"""Check that this Python writes no decoded line break into an email header.

CPython before 3.11.10 and 3.12.5 (CVE-2024-6923) re-serialises an RFC 2047 encoded
word that holds CR/LF as a raw line break, so text in a header can add headers or a
body part. Distributions backport the fix without changing the version number, so
the behaviour is checked, not the version. Run as a script (`python3
newsletter/mail/pythoncheck.py`) it needs nothing but the standard library and exits
1 on an affected interpreter; the Makefile uses it to choose one.
"""

from __future__ import annotations

import sys
from email.message import EmailMessage
from email.policy import SMTP

PROBE = "=?utf-8?q?=0D=0AX-Injected:_yes?= probe"


def email_headers_are_safe() -> bool:
    """Return whether a decoded CR/LF in a header stays encoded on the wire."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = PROBE
    head = message.as_bytes().split(b"\r\n\r\n", 1)[0]
    return not any(line.startswith(b"X-Injected") for line in head.split(b"\r\n"))


UNSAFE = (
    "This Python ({version}) writes decoded line breaks into email headers "
    "(CVE-2024-6923). Use Python 3.11.10, 3.12.5, 3.13 or newer, or a distribution "
    "build with the fix (Debian 12's python3 has it)."
)


def require_safe_email_headers() -> None:
    """Refuse to run on an interpreter with the header line-break bug."""
    if not email_headers_are_safe():
        raise RuntimeError(UNSAFE.format(version=sys.version.split()[0]))


if __name__ == "__main__":
    if not email_headers_are_safe():
        print(UNSAFE.format(version=sys.version.split()[0]), file=sys.stderr)
        sys.exit(1)
