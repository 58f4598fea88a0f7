"""The one guarded fetcher for every outbound HTTP request (feed import, link checks).

Fetching is bounded (time, size, redirects) and only reaches public addresses:
every address a host name resolves to is checked, and the connection goes to the
checked address, so a name cannot be re-pointed at an internal one in between.
Private, loopback and link-local addresses are reachable only with the test-only
setting OUTBOUND_ALLOW_PRIVATE.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

from flask_babel import lazy_gettext as _l

USER_AGENT = "newsletter/1.0 (+link check and feed import)"
REDIRECTS = (301, 302, 303, 307, 308)


# Why an address could not be fetched, by code. A link check stores the code and
# its values, so the reason reads in the language of whoever looks at it later.
REASONS = {
    "no-such-host": _l("the host name %(host)s could not be found"),
    "private-address": _l(
        "%(host)s points to a private or local address (%(ip)s); "
        "only public addresses can be fetched"
    ),
    "invalid-address": _l("%(url)s is not a valid web address"),
    "not-web": _l("use an address that starts with https:// or http://"),
    "connection-failed": _l("the connection to %(host)s failed or broke off"),
    "timed-out": _l("the server did not answer within %(seconds)s seconds"),
    "redirects": _l("more than %(num)d redirects"),
    "status": _l("the server answered with status %(num)d"),
    "feed-too-large": _l("the feed is larger than 2 MB"),
    "not-a-feed": _l("the address does not lead to an RSS or Atom feed"),
}


@dataclass(frozen=True)
class Reason:
    """Why an address could not be fetched: a code of REASONS and its values."""

    code: str
    values: dict[str, str | int] = field(default_factory=dict)

    def __str__(self) -> str:
        """Word the reason in the current language."""
        text = str(REASONS[self.code])
        return text % self.values if self.values else text

    def stored(self) -> str:
        """Return the reason as JSON, to be worded when it is read."""
        return json.dumps({"code": self.code, "values": self.values})

    @classmethod
    def from_stored(cls, stored: str) -> Reason | None:
        """Read a stored reason; None when it is not one (older rows hold text)."""
        try:
            data = json.loads(stored)
            reason = cls(data["code"], dict(data["values"]))
            str(reason)  # a known code whose values fit its message
        except (ValueError, TypeError, KeyError):
            return None
        return reason


class FetchError(Exception):
    """The address could not be fetched: reason says why; the message is the reason
    worded in the language current when it was raised."""

    def __init__(self, code: str, **values: str | int) -> None:
        self.reason = Reason(code, values)
        super().__init__(str(self.reason))


class Refused(FetchError):
    """The address is not a public web address, so nothing was connected."""


@dataclass(frozen=True)
class Answer:
    """What the server answered, after following redirects."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    redirects: int


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052,
# RFC 8215) and the deprecated IPv4-compatible form.
EMBEDDING_PREFIXES = [
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
]


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _addresses_within(ip: IPAddress) -> list[IPAddress]:
    """The address itself and every IPv4 address it carries (mapped, 6to4, Teredo,
    NAT64), each of which must be public for the address to be."""
    found: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        found += [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
        found += list(ip.teredo or ())
        if any(ip in prefix for prefix in EMBEDDING_PREFIXES):
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def check_address(host: str, port: int, allow_private: bool) -> str:
    """Resolve a host and return an address that is allowed to be reached."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError("no-such-host", host=host) from exc
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        public = all(a.is_global and not a.is_multicast for a in _addresses_within(ip))
        if not public and not allow_private:
            raise Refused("private-address", host=host, ip=str(ip))
    return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, verifying the certificate for the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        """Connect to the checked address, not to what the host name resolves to."""
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    host_header: str
    path: str


def _target(url: str) -> _Target:
    """Parse an address strictly; non-ASCII paths are percent-encoded."""
    invalid = Refused("invalid-address", url=url)
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise invalid
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise invalid from exc
    if parts.scheme not in ("http", "https") or not host:
        raise Refused("not-web")
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise invalid from exc
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    default = 443 if parts.scheme == "https" else 80
    return _Target(
        scheme=parts.scheme,
        host=ascii_host,
        port=port or default,
        host_header=ascii_host if port is None else f"{ascii_host}:{port}",
        path=path,
    )


def _abort(conn: http.client.HTTPConnection) -> None:
    """Wake a read that is still waiting when the time is up."""
    if conn.sock is not None:
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@dataclass(frozen=True)
class _Limits:
    method: str
    accept: str
    max_bytes: int
    deadline: float
    seconds: float
    allow_private: bool


def _connection(
    target: _Target, address: str, timeout: float
) -> http.client.HTTPConnection:
    """A connection to the checked address, HTTPS verified for the host name."""
    if target.scheme == "https":
        return _PinnedHTTPS(target.host, address, target.port, timeout)
    return http.client.HTTPConnection(address, target.port, timeout=timeout)


def _exchange(url: str, limits: _Limits) -> tuple[int, dict[str, str], bytes]:
    """One request to a checked address; the body is cut off past max_bytes, and
    the whole exchange ends at the deadline however slowly the server sends."""
    target = _target(url)
    address = check_address(target.host, target.port, limits.allow_private)
    timeout = limits.deadline - time.monotonic()
    if timeout <= 0:
        raise _timed_out(limits.seconds)
    conn = _connection(target, address, timeout)
    watchdog = threading.Timer(timeout, _abort, args=(conn,))
    watchdog.start()
    try:
        conn.request(limits.method, target.path, headers={
            "Host": target.host_header, "User-Agent": USER_AGENT,
            "Accept": limits.accept,
        })  # fmt: skip
        response = conn.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size <= limits.max_bytes and limits.method != "HEAD":
            chunk = response.read1(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > limits.deadline:
                raise _timed_out(limits.seconds)
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, b"".join(chunks)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() >= limits.deadline:
            raise _timed_out(limits.seconds) from exc
        raise FetchError("connection-failed", host=target.host) from exc
    finally:
        watchdog.cancel()
        conn.close()


def _timed_out(seconds: float) -> FetchError:
    """The error of a fetch that ran out of time."""
    return FetchError("timed-out", seconds=f"{seconds:g}")


def fetch(
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
    method: str = "GET",
    accept: str = "*/*",
) -> Answer:
    """Request an address, following up to max_redirects redirects, all within
    timeout seconds; raise FetchError (Refused for a non-public address)."""
    limits = _Limits(
        method=method,
        accept=accept,
        max_bytes=max_bytes,
        deadline=time.monotonic() + timeout,
        seconds=timeout,
        allow_private=allow_private,
    )
    for redirects in range(max_redirects + 1):
        status, headers, body = _exchange(url, limits)
        if status in REDIRECTS and "location" in headers:
            url = urljoin(url, headers["location"])
            continue
        return Answer(status, headers, body, url, redirects)
    raise FetchError("redirects", num=max_redirects)
