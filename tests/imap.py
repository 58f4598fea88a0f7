"""A real IMAP server on loopback: Debian's dovecot with a throwaway configuration."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.smtp import free_port

DOVECOT = Path("/usr/sbin/dovecot")
USER = "bounces"
PASSWORD = "s3cret pass/100%@x"  # needs percent-encoding in a URL
URL_PASSWORD = "s3cret%20pass%2F100%25%40x"

CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = {base}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def _accounts() -> tuple[str, str, str]:
    """Return the internal, its group, and the login user dovecot should run as:
    as root, Debian's unprivileged dovecot and dovenull; otherwise ourselves."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        return me, grp.getgrgid(os.getgid()).gr_name, me
    return "dovecot", "dovecot", "dovenull"


class IMAPServer:
    """Start dovecot for one user whose mail is a Maildir of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.tls_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="newsletter-imap-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def certificate(self) -> Path:
        """The server's self-signed certificate, for clients to trust."""
        return self.base / "cert.pem"

    @property
    def tls_url(self) -> str:
        """The BOUNCE_MAILBOX_URL of the inbox over TLS (imaps)."""
        return f"imaps://{USER}:{URL_PASSWORD}@127.0.0.1:{self.tls_port}/INBOX"

    @property
    def url(self) -> str:
        """The BOUNCE_MAILBOX_URL of the user's inbox."""
        return f"imap://{USER}:{URL_PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> IMAPServer:
        """Write the configuration and start dovecot in the foreground."""
        internal, group, login = _accounts()
        mail = self.base / "mail"
        mail.mkdir()
        owner = pwd.getpwnam(internal)
        if os.geteuid() == 0:
            os.chown(mail, owner.pw_uid, owner.pw_gid)
        self.base.chmod(0o755)  # the unprivileged users must reach the Maildir
        (self.base / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{owner.pw_uid}:{owner.pw_gid}::{mail}\n"
        )
        self._make_certificate()
        config = self.base / "dovecot.conf"
        config.write_text(
            CONFIG.format(
                base=self.base,
                mail=mail,
                port=self.port,
                tls_port=self.tls_port,
                internal=internal,
                internal_group=group,
                login=login,
            )
        )
        self.process = subprocess.Popen(
            [str(DOVECOT), "-c", str(config), "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_listening()
        return self

    def _make_certificate(self) -> None:
        """Write a self-signed certificate for 127.0.0.1 with openssl."""
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.base / "key.pem"), "-out", str(self.certificate)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        (self.base / "key.pem").chmod(0o644)  # dovecot reads it as its own user

    def _wait_until_listening(self, timeout: float = 10.0) -> None:
        """Wait for the IMAP greeting."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        log = self.base / "dovecot.log"
        raise RuntimeError(log.read_text() if log.exists() else "dovecot did not start")

    def stop(self) -> None:
        """Stop dovecot and remove its files."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        """Log in as the user with the INBOX selected."""
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        connection.login(USER, PASSWORD)
        connection.select("INBOX")
        return connection

    def deliver(self, *messages: bytes) -> None:
        """Put messages into the inbox, as the mail server would."""
        connection = self.client()
        for message in messages:
            connection.append("INBOX", None, None, message)
        connection.logout()

    def inbox(self) -> list[bytes]:
        """Return the messages in the inbox that are not deleted."""
        connection = self.client()
        _status, data = connection.search(None, "UNDELETED")
        found = []
        for number in data[0].split():
            _status, fetched = connection.fetch(number, "(BODY.PEEK[])")
            found.append(bytes(fetched[0][1]))
        connection.logout()
        return found

    def empty(self) -> None:
        """Delete every message in the inbox."""
        connection = self.client()
        try:
            _status, data = connection.search(None, "ALL")
            if data[0]:
                connection.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                connection.expunge()
        finally:
            connection.logout()
