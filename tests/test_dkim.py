"""DKIM signatures (RSA-SHA256 and Ed25519-SHA256) checked by independent verifiers:
dkimpy (with PyNaCl for Ed25519) and Perl's Mail::DKIM, on messages that went
through a real SMTP server on loopback."""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.extensions import db
from newsletter.mail.dkim import DKIMSigner, SigningKey, signer_for
from newsletter.mail.transport import SMTPTransport
from newsletter.mail.worker import Worker
from newsletter.models.types import utcnow
from newsletter.services import sending, subscriptions
from newsletter.services.subscriptions import Origin
from tests.conftest import require
from tests.factories import make_issue, make_item, make_subscriber, theme

DOMAIN = "example.se"
RSA_SELECTOR = "nyhetsbrev"
ED_SELECTOR = "nyhetsbrev-ed"
LONG_SWEDISH_TITLE = (
    "Äldreomsorg, psykisk hälsa och barn och unga i förändring: så samverkar "
    "regionen, kommunerna och skolorna under våren 2026"
)
RELAXED = (b"relaxed", b"relaxed")
PERL_VERIFIER = Path(__file__).with_name("dkim_verify.pl")


@dataclass(frozen=True)
class Keys:
    """Key files as `openssl genpkey` writes them, and their DNS TXT records."""

    rsa_path: Path
    ed_path: Path
    records: dict[str, str]

    def dns(self, name: bytes, timeout: int = 5) -> bytes:
        """Answer dkimpy's key query offline."""
        return self.records.get(name.decode().rstrip("."), "").encode()


def pkcs8(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    """Return a private key as an unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """Make an RSA-2048 and an Ed25519 key once for the module."""
    folder = tmp_path_factory.mktemp("dkim")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    (folder / "rsa.pem").write_bytes(pkcs8(rsa_key))
    (folder / "ed25519.pem").write_bytes(pkcs8(ed_key))
    rsa_public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ed_public = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return Keys(
        folder / "rsa.pem",
        folder / "ed25519.pem",
        {
            f"{RSA_SELECTOR}._domainkey.{DOMAIN}": "v=DKIM1; k=rsa; p="
            + base64.b64encode(rsa_public).decode(),
            f"{ED_SELECTOR}._domainkey.{DOMAIN}": "v=DKIM1; k=ed25519; p="
            + base64.b64encode(ed_public).decode(),
        },
    )


def dkim_settings(keys: Keys) -> dict[str, str]:
    """Both signatures configured."""
    return {
        "DKIM_DOMAIN": DOMAIN,
        "DKIM_SELECTOR": RSA_SELECTOR,
        "DKIM_PRIVATE_KEY_PATH": str(keys.rsa_path),
        "DKIM_ED25519_SELECTOR": ED_SELECTOR,
        "DKIM_ED25519_PRIVATE_KEY_PATH": str(keys.ed_path),
    }


@pytest.fixture
def signing_app(make_app, smtp_server, keys):
    """An app that signs with both keys and sends to the loopback server."""
    return make_app(
        SMTP_PORT=smtp_server.port,
        BASE_URL="https://nyhetsbrev.example.se",
        MAIL_FROM="Nyhetsbrevet Väst <nyhetsbrev@example.se>",
        **dkim_settings(keys),
    )


def verdicts(raw: bytes, keys: Keys) -> list[bool]:
    """Ask dkimpy about each signature, topmost first: does it verify?"""
    results = []
    for index in range(raw.count(b"DKIM-Signature:")):
        try:
            results.append(bool(dkim.DKIM(raw).verify(idx=index, dnsfunc=keys.dns)))
        except dkim.DKIMException:
            results.append(False)
    return results


def algorithms(raw: bytes) -> list[str]:
    """Return the a= tag of each signature, topmost first."""
    message = dkim.DKIM(raw)
    found = []
    for name, value in message.headers:
        if name.lower() == b"dkim-signature":
            tags = dkim.util.parse_tag_value(value)
            found.append(tags[b"a"].decode())
    return found


@pytest.fixture
def delivered(signing_app, smtp_server) -> bytes:
    """Send an issue with a long Swedish title to one subscriber; return its bytes."""
    with signing_app.app_context():
        issue = make_issue(LONG_SWEDISH_TITLE, intro="Välkommen till vårens nummer!")
        make_item(issue, "aldre", "Träffpunkter för äldre i hela länet")
        make_subscriber(email="asa@example.se", name="Åsa Öberg")
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
    Worker(signing_app).run(once=True)
    assert len(smtp_server.sink.received) == 1
    return smtp_server.sink.received[0].data


def body_start(raw: bytes) -> int:
    """Return where the body begins."""
    return raw.index(b"\r\n\r\n") + 4


def test_a_delivered_issue_carries_an_rsa_and_an_ed25519_signature_that_verify(
    delivered, keys
):
    assert algorithms(delivered) == ["rsa-sha256", "ed25519-sha256"]
    assert verdicts(delivered, keys) == [True, True]


def with_a_body_byte_changed(raw: bytes) -> bytes:
    """Turn the T of "Träffpunkter" in the body into a D."""
    position = raw.index(b"Tr=C3=A4ffpunkter", body_start(raw))
    return raw[:position] + b"D" + raw[position + 1 :]


def test_a_changed_byte_in_the_body_fails_both_signatures(delivered, keys):
    assert verdicts(with_a_body_byte_changed(delivered), keys) == [False, False]


@pytest.mark.parametrize("header", [b"Subject", b"To", b"List-Unsubscribe"])
def test_a_changed_byte_in_a_signed_header_fails_both_signatures(
    delivered, keys, header
):
    start = delivered.index(b"\r\n" + header + b":") + len(header) + 4
    changed = b"X" if delivered[start : start + 1] != b"X" else b"Y"
    tampered = delivered[:start] + changed + delivered[start + 1 :]
    assert verdicts(tampered, keys) == [False, False]


@pytest.mark.parametrize("where", ["above", "below"])
def test_a_second_from_header_fails_both_signatures(delivered, keys, where):
    forged = b"From: Banken <kundtjanst@example.com>\r\n"
    if where == "above":
        tampered = forged + delivered
    else:
        end = body_start(delivered) - 2
        tampered = delivered[:end] + forged + delivered[end:]
    assert verdicts(tampered, keys) == [False, False]


def test_the_signatures_list_from_twice_and_the_list_headers(delivered):
    signature = dkim.DKIM(delivered).headers[0][1]
    names = dkim.util.parse_tag_value(signature)[b"h"].decode()
    signed = [name.strip().lower() for name in names.split(":")]
    assert signed[:2] == ["from", "from"]
    for header in ("to", "subject", "date", "message-id", "list-unsubscribe"):
        assert header in signed
    assert "list-unsubscribe-post" in signed


def test_the_sender_name_and_reply_to_of_the_identity_are_signed(
    signing_app, smtp_server, keys
):
    from newsletter.services import identity

    with signing_app.test_request_context():
        identity.save(
            {"sender_name": "Samverkan Kalmar län", "reply_to": "svar@example.se"},
            "Ada Admin",
        )
        db.session.commit()
        issue = make_issue("Nyhetsbrev maj")
        make_item(issue, "aldre", "Träffpunkter för äldre")
        make_subscriber(email="asa@example.se")
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
    Worker(signing_app).run(once=True)
    [received] = smtp_server.sink.received
    assert verdicts(received.data, keys) == [True, True]
    signature = dkim.DKIM(received.data).headers[0][1]
    signed = dkim.util.parse_tag_value(signature)[b"h"].decode().lower().split(":")
    assert "reply-to" in [name.strip() for name in signed]
    head = received.data[: body_start(received.data)]
    assert b"Reply-To: svar@example.se" in head


def test_a_confirmation_email_is_signed_too(signing_app, smtp_server, keys):
    with signing_app.app_context():
        subscriptions.request_subscription(
            "ny@example.se", "", [theme("aldre").id], "sv", Origin(), utcnow()
        )
        db.session.commit()
    Worker(signing_app).run(once=True)
    [received] = smtp_server.sink.received
    assert b"/confirm/" in received.data.replace(b"=\r\n", b"")
    assert verdicts(received.data, keys) == [True, True]


TRICKY_MESSAGES = {
    "encoded Swedish subject, folded": (
        b"From: =?utf-8?q?Nyhetsbrevet_V=C3=A4st?= <nyhetsbrev@example.se>\r\n"
        b"To: =?utf-8?q?=C3=85sa_=C3=96berg?= <asa@example.se>\r\n"
        b"Subject: =?utf-8?q?=C3=84ldreomsorg_och_psykisk_h=C3=A4lsa_i_f=C3=B6r?=\r\n"
        b"\t=?utf-8?q?=C3=A4ndring_=E2=80=93_v=C3=A5ren_2026?=\r\n"
        b"Date: Mon, 02 Mar 2026 08:00:00 +0000\r\n"
        b"Message-ID: <d.1.abc@nyhetsbrev.example.se>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Hej!\r\n"
    ),
    "long folded headers with odd whitespace": (
        b"From: nyhetsbrev@example.se\r\n"
        b"To:   anna@example.se  \r\n"
        b"Subject:    Many     spaces\t\tand tabs   \r\n"
        b"List-Unsubscribe: <https://nyhetsbrev.example.se/unsubscribe/"
        + b"a"
        * 120
        + b">,\r\n   <mailto:avregistrera@example.se?subject=unsubscribe>\r\n"
        b"List-Id: Nyhetsbrev\r\n  <newsletter.nyhetsbrev.example.se>\r\n"
        b"Content-Type: text/plain\r\n\r\n"
        b"Body\r\n"
    ),
    "quoted-printable body with trailing space and blank lines": (
        b"From: nyhetsbrev@example.se\r\n"
        b"To: anna@example.se\r\n"
        b"Subject: Test\r\n"
        b'Content-Type: text/html; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"<p>Hej  och   v=C3=A4lkommen \t\r\n"
        b"  till =C3=A5rets f=C3=B6rsta nummer=\r\n"
        b"!</p>  \r\n"
        b"\t\r\n"
        b"\r\n"
        b"\r\n"
    ),
}


@pytest.mark.parametrize("raw", TRICKY_MESSAGES.values(), ids=TRICKY_MESSAGES)
def test_swedish_subjects_folded_headers_and_quoted_printable_bodies_verify(
    signing_app, smtp_server, keys, raw
):
    signed = signer_for(signing_app).sign(raw)
    transport = SMTPTransport("127.0.0.1", smtp_server.port, timeout=10)
    try:
        transport.send("nyhetsbrev@example.se", "anna@example.se", signed)
    finally:
        transport.close()
    [received] = smtp_server.sink.received
    assert verdicts(received.data, keys) == [True, True]


def test_the_rsa_signature_verifies_with_perls_mail_dkim(delivered, keys):
    perl = shutil.which("perl")
    require(perl is not None, "perl is not installed")
    check = subprocess.run([perl, "-MMail::DKIM::Verifier", "-e1"], check=False)
    require(check.returncode == 0, "Mail::DKIM (libmail-dkim-perl) is not installed")
    env = {**os.environ, **{f"DKIM_TXT_{k}": v for k, v in keys.records.items()}}

    def perl_says(raw: bytes) -> list[str]:
        result = subprocess.run(
            [perl, str(PERL_VERIFIER)], input=raw, env=env, capture_output=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.decode().splitlines()

    assert perl_says(delivered)[0].startswith("rsa-sha256 pass")
    tampered = with_a_body_byte_changed(delivered)
    assert perl_says(tampered)[0].startswith("rsa-sha256 fail")


def test_signing_a_72_kb_message_costs_a_small_part_of_what_dkimpy_did(keys):
    line = b"<p>Regional samverkan f=C3=B6r barn och unga, v=C3=A5rd och skola.</p>="
    body = (line + b"\r\n") * (72 * 1024 // (len(line) + 2))
    raw = (
        b"From: nyhetsbrev@example.se\r\nTo: anna@example.se\r\nSubject: Test\r\n"
        b"Content-Type: text/html\r\n\r\n" + body
    )
    key = serialization.load_pem_private_key(keys.rsa_path.read_bytes(), None)
    ours = DKIMSigner(DOMAIN, [SigningKey(RSA_SELECTOR, key)])
    pem = keys.rsa_path.read_bytes()

    def timed(sign) -> float:  # noqa: ANN001
        start = time.perf_counter()
        sign()
        return time.perf_counter() - start

    ours_times, dkimpy_times = [], []
    for _ in range(15):  # interleaved, so that load from elsewhere hits both
        ours_times.append(timed(lambda: ours.sign(raw)))
        dkimpy_times.append(
            timed(
                lambda: dkim.sign(raw, b"s", b"example.se", pem, canonicalize=RELAXED)
            )
        )
    assert statistics.median(ours_times) * 4 < statistics.median(dkimpy_times)


# Lines of words, spaces, tabs and empty lines: what relaxed canonicalization changes.
WHITESPACE_LINES = st.lists(st.text(alphabet=" \tax=", max_size=12), max_size=8).map(
    lambda lines: "".join(f"{line}\r\n" for line in lines).encode()
)


@settings(max_examples=150, deadline=None)
@given(subject=WHITESPACE_LINES, body=WHITESPACE_LINES)
def test_any_whitespace_in_folded_headers_and_bodies_verifies_with_dkimpy(
    keys, subject, body
):
    folded = subject.rstrip(b"\r\n").replace(b"\r\n", b"\r\n ")
    raw = (
        b"From: nyhetsbrev@example.se\r\nTo: anna@example.se\r\n"
        b"Subject: " + folded + b"x\r\n\r\n" + body
    )
    key = serialization.load_pem_private_key(keys.ed_path.read_bytes(), None)
    signed = DKIMSigner(DOMAIN, [SigningKey(ED_SELECTOR, key)]).sign(raw)
    assert verdicts(signed, keys) == [True]


KEY_PROBLEMS = {
    "missing file": ("DKIM_PRIVATE_KEY_PATH", lambda k, tmp: tmp / "gone.pem"),
    "Ed25519 key as the RSA key": ("DKIM_PRIVATE_KEY_PATH", lambda k, tmp: k.ed_path),
    "RSA key as the Ed25519 key": (
        "DKIM_ED25519_PRIVATE_KEY_PATH",
        lambda k, tmp: k.rsa_path,
    ),
    "not a key": ("DKIM_ED25519_PRIVATE_KEY_PATH", lambda k, tmp: Path(__file__)),
}


@pytest.mark.parametrize("problem", KEY_PROBLEMS.values(), ids=KEY_PROBLEMS)
def test_a_bad_key_file_stops_the_worker_with_a_message_naming_the_setting(
    make_app, keys, tmp_path, problem
):
    setting, path = problem
    app = make_app(**{**dkim_settings(keys), setting: str(path(keys, tmp_path))})
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert f"Error: NEWSLETTER_{setting}" in result.output
    assert "Traceback" not in result.output


def test_half_a_dkim_setup_stops_the_worker_instead_of_sending_unsigned(make_app, keys):
    app = make_app(DKIM_DOMAIN=DOMAIN, DKIM_SELECTOR=RSA_SELECTOR)
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert "NEWSLETTER_DKIM_PRIVATE_KEY_PATH is not" in result.output


def test_a_domain_outside_ascii_stops_the_worker_with_its_setting_named(make_app, keys):
    app = make_app(**{**dkim_settings(keys), "DKIM_DOMAIN": "nyhetsbrev.växjö.se"})
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert "NEWSLETTER_DKIM_DOMAIN must be a DNS name in ASCII" in result.output
