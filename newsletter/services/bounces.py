"""Bounces and complaints: read what came back, find the message it is about, record it.

A returned message is matched to one delivery or transactional message by its VERP
address alone (newsletter.mail.verp), never by parsing the original message: a DSN
(RFC 3464) names that address in To, Delivered-To or X-Original-To; an ARF complaint
(RFC 5965) in Original-Mail-From or the attached original's Return-Path. Anything
else (auto-replies, spam, a forged address) is ignored and reported as such.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses
from enum import StrEnum

from sqlalchemy import distinct, func, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from newsletter.config import settings
from newsletter.extensions import db
from newsletter.mail.verp import read_verp_address
from newsletter.models import (
    Bounce,
    BounceKind,
    Delivery,
    Issue,
    OutboundMessage,
    Subscriber,
    SubscriberStatus,
)
from newsletter.models.states import SUBSCRIBERS, move
from newsletter.services import audit, subscriptions
from newsletter.services.subscriptions import Origin

log = logging.getLogger("newsletter.bounces")

# The database cannot be reached (or is restarting): try the message again later.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeoutError)
# A subscriber whose address does not exist, or keeps failing.
BOUNCE = SUBSCRIBERS.step(SubscriberStatus.CONFIRMED, to=SubscriberStatus.BOUNCED)
# Feedback types that report our message as unwanted (RFC 5965 section 7.3).
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})
AUTO_REPLY_SUBJECTS = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[ -]?(reply|response)|"
    r"auto:|autosvar|automatiskt svar|frånvaro|abwesenheit|absence)",
    re.IGNORECASE,
)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"^\s*([245]\d\d)\b")


class DSNAction(StrEnum):
    """The Action field of a DSN's per-recipient block (RFC 3464 section 2.3.3)."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    EXPANDED = "expanded"


class Source(StrEnum):
    """How a bounce reached us."""

    DSN = "dsn"  # a delivery status notification by email
    SMTP = "smtp"  # a refusal during our own SMTP session
    ARF = "arf"  # a complaint (feedback report) from a mailbox provider


@dataclass(frozen=True)
class Report:
    """What one incoming message says, before it is matched to a row."""

    kind: BounceKind | None  # None: nothing to record
    addresses: tuple[str, ...]  # where the VERP address may be, best first
    what: str  # a few words for the log: "DSN 5.1.1", "auto-reply" ...
    status: str = ""
    reason: str = ""
    source: Source = Source.DSN
    detail: str = ""  # a complaint's feedback type and reporting agent


@dataclass(frozen=True)
class Processed:
    """The outcome of one incoming message: recorded, or ignored and why."""

    recorded: bool
    summary: str


@dataclass(frozen=True)
class Target:
    """The message a report is about, and whom it was for."""

    subscriber_id: int | None
    delivery_id: int | None = None
    outbound_message_id: int | None = None


@dataclass(frozen=True)
class IssueReports:
    """Bounces and complaints about one issue's deliveries."""

    bounced: int = 0  # deliveries with a hard bounce
    soft: int = 0
    complained: int = 0


@dataclass(frozen=True)
class BounceLine:
    """One bounce as the subscriber page shows it."""

    received_at: datetime
    kind: BounceKind
    status: str
    reason: str
    about: str  # the issue's title or the transactional template's name


def _clean(value: object) -> str:
    """Return a header value on one line."""
    return " ".join(str(value or "").split())


def classify(status: str, reply_code: int | None = None) -> BounceKind | None:
    """Say what a failure means for the address, from its enhanced status code
    (RFC 3463) or, without one, its SMTP reply code; None when it is no failure."""
    match = _STATUS.search(status)
    if match is None:
        return BounceKind.SOFT if reply_code and reply_code >= 400 else None
    klass, subject, detail = match.groups()
    if klass == "2":
        return None
    if klass == "4":
        return BounceKind.SOFT
    # 5.1.x: bad address; 5.2.1: mailbox disabled; 5.4.4: no route to the domain.
    if subject == "1" or (subject, detail) in {("2", "1"), ("4", "4")}:
        return BounceKind.HARD
    # 5.3.x system, 5.6.x content, 5.7.x policy: the message was refused, not
    # the address.
    if subject in {"3", "6", "7"}:
        return BounceKind.REJECTED
    # Anything else (5.0.0, a full mailbox 5.2.2, 5.5.x ...) may pass: it counts.
    return BounceKind.SOFT


def classify_reply(reply: str) -> tuple[BounceKind | None, str]:
    """Classify an SMTP reply such as "550 5.1.1 No such user"; return the kind
    and the enhanced status code found in it."""
    code = _REPLY_CODE.match(reply)
    status = _STATUS.search(reply)
    kind = classify(status.group(0) if status else "", int(code[1]) if code else None)
    return kind, status.group(0) if status else ""


def _addresses(message: Message, *names: str) -> list[str]:
    """Return every address in the named header fields, in order."""
    values = [str(v) for name in names for v in message.get_all(name, [])]
    return [address for _name, address in getaddresses(values) if address]


def _report_type(message: Message) -> str:
    """Return a multipart/report's report-type, or ""."""
    if message.get_content_type() != "multipart/report":
        return ""
    return str(collapse_rfc2231_value(message.get_param("report-type", ""))).lower()


def _subject(message: Message) -> str:
    """Return the decoded subject."""
    try:
        return _clean(make_header(decode_header(str(message.get("Subject", "")))))
    except (LookupError, UnicodeError, ValueError):
        return _clean(message.get("Subject"))


def _field_blocks(part: Message) -> list[Message]:
    """Return the blocks of header-like fields a message/* report part holds."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else ""
    return [HeaderParser().parsestr(block) for block in re.split(r"\r?\n\r?\n", text)]


def _part(message: Message, *content_types: str) -> Message | None:
    """Return the first part of one of these content types."""
    for part in message.walk():
        if part.get_content_type() in content_types:
            return part
    return None


def _read_dsn(message: Message, recipient: str | None) -> Report:
    """Read a delivery status notification (RFC 3464)."""
    addresses = (
        *([recipient] if recipient else []),
        *_addresses(message, "To", "Delivered-To", "X-Original-To"),
    )
    part = _part(message, "message/delivery-status")
    blocks = [b for b in _field_blocks(part) if b.get("Action")] if part else []
    worst: tuple[int, BounceKind | None, str, str] = (0, None, "", "")
    for block in blocks:
        action = _clean(block.get("Action")).lower()
        status = _clean(block.get("Status"))
        reason = _clean(block.get("Diagnostic-Code"))
        reason = re.sub(r"^(smtp|x-[\w-]+)\s*;\s*", "", reason, flags=re.IGNORECASE)
        if action == DSNAction.DELAYED:
            kind: BounceKind | None = BounceKind.SOFT
        elif action == DSNAction.FAILED:
            kind = classify(status or reason) or BounceKind.HARD
        else:
            kind = None
        rank = [None, BounceKind.SOFT, BounceKind.REJECTED, BounceKind.HARD].index(kind)
        if rank > worst[0]:
            found = _STATUS.search(status or reason)
            worst = (rank, kind, found.group(0) if found else "", reason or status)
    _rank, kind, status, reason = worst
    what = f"DSN {status or 'without a status'}" if kind else "DSN of a success"
    return Report(kind, addresses, what, status, reason, Source.DSN)


def _read_complaint(message: Message) -> Report:
    """Read a complaint in the Abuse Reporting Format (RFC 5965)."""
    part = _part(message, "message/feedback-report")
    fields = _field_blocks(part)[0] if part else Message()
    original = _part(message, "message/rfc822", "text/rfc822-headers")
    headers: Message = Message()
    if original is not None:
        inner = original.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            headers = inner[0]
        elif isinstance(inner, str):
            headers = HeaderParser().parsestr(inner)
    addresses = (
        *_addresses(fields, "Original-Mail-From"),
        *_addresses(headers, "Return-Path"),
    )
    feedback = _clean(fields.get("Feedback-Type")).lower() or "abuse"
    agent = _clean(fields.get("User-Agent"))
    kind = BounceKind.COMPLAINT if feedback in COMPLAINT_TYPES else None
    detail = f"{feedback} ({agent})" if agent else feedback
    what = f"complaint: {detail}" if kind else f"feedback report: {detail}"
    return Report(kind, addresses, what, "", detail, Source.ARF, detail)


def is_auto_reply(message: Message) -> bool:
    """Return whether a message says it was sent by a machine on its own."""
    submitted = _clean(message.get("Auto-Submitted")).lower()
    precedence = _clean(message.get("Precedence")).lower()
    return (
        (bool(submitted) and submitted != "no")
        or any(message.get(name) for name in ("X-Autoreply", "X-Autorespond"))
        or precedence == "auto_reply"
        or bool(AUTO_REPLY_SUBJECTS.match(_subject(message)))
    )


def read_report(raw: bytes, recipient: str | None = None) -> Report:
    """Say what an incoming message is: a DSN, a complaint, or something to ignore."""
    message = email.message_from_bytes(raw, policy=policy.compat32)
    report_type = _report_type(message)
    if report_type == "delivery-status":
        return _read_dsn(message, recipient)
    if report_type == "feedback-report":
        return _read_complaint(message)
    if is_auto_reply(message):
        return Report(None, (), "auto-reply")
    return Report(None, (), "neither a bounce nor a complaint")


def _target(addresses: Iterable[str]) -> Target | None:
    """Return the row the first VERP address of ours names, if it still exists."""
    secret = settings().secret_key
    for address in addresses:
        tagged = read_verp_address(address, secret)
        model = Delivery if tagged and tagged.kind == "d" else OutboundMessage
        target = _row_target(model, tagged.row_id) if tagged else None
        if target is not None:
            return target
    return None


def report_key(raw: bytes) -> str:
    """Return a digest that is the same each time one report is read."""
    message_id = _clean(email.message_from_bytes(raw).get("Message-ID"))
    return hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()


def process(raw: bytes, now: datetime, recipient: str | None = None) -> Processed:
    """Read one incoming message and record the bounce or complaint it reports."""
    try:
        report = read_report(raw, recipient)
    except Exception as exc:  # noqa: BLE001 - a message we cannot read is ignored
        return Processed(False, f"ignored: the message could not be read ({exc})")
    if report.kind is None:
        return Processed(False, f"ignored: {report.what}")
    target = _target(report.addresses)
    if target is None:
        return Processed(False, f"ignored: {report.what} names no message of ours")
    key = report_key(raw)
    if db.session.scalar(select(Bounce.id).where(Bounce.report_key == key)):
        return Processed(False, f"ignored: {report.what} is recorded already")
    record(target, report, now, key)
    about = (
        f"delivery {target.delivery_id}"
        if target.delivery_id
        else f"message {target.outbound_message_id}"
    )
    return Processed(True, f"recorded: {report.what} for {about}")


def record(
    target: Target,
    report: Report,
    now: datetime,
    key: str | None,
    actor: audit.Actor | None = None,
) -> None:
    """Store a bounce and apply it to the subscriber (and the audit trail)."""
    assert report.kind is not None
    db.session.add(
        Bounce(
            kind=report.kind,
            subscriber_id=target.subscriber_id,
            delivery_id=target.delivery_id,
            outbound_message_id=target.outbound_message_id,
            status=report.status[:12],
            reason=report.reason[:2000],
            source=report.source,
            report_key=key,
            received_at=now,
        )
    )
    db.session.flush()
    subscriber = (
        db.session.get(Subscriber, target.subscriber_id)
        if target.subscriber_id
        else None
    )
    before = subscriber.status if subscriber is not None else None
    if subscriber is not None:
        _apply(subscriber, report, now)
    audit.record(
        f"subscriber.bounce_{report.kind.value}",
        "subscriber",
        target.subscriber_id,
        subscriber.email if subscriber is not None else "",
        audit.changes(
            {"status": before},
            {
                "status": subscriber.status if subscriber is not None else None,
                "report": f"{report.status} {report.reason}".strip()[:200],
            },
        ),
        actor=actor,
    )
    db.session.flush()


def _apply(subscriber: Subscriber, report: Report, now: datetime) -> None:
    """Bounce, count or unsubscribe the person, as the report calls for."""
    if report.kind == BounceKind.COMPLAINT:
        origin = Origin(how="spam report")
        subscriptions.complain(subscriber, origin, now, detail=report.detail)
        return
    if report.kind not in (BounceKind.HARD, BounceKind.SOFT):
        return
    subscriber.bounce_count += 1
    if subscriber.status not in BOUNCE.sources:
        return
    if report.kind == BounceKind.HARD or _soft_bounces(subscriber, now) >= (
        settings().bounce_limit
    ):
        move(subscriber, BOUNCE)


def _soft_bounces(subscriber: Subscriber, now: datetime) -> int:
    """Count a subscriber's soft bounces within the window since they confirmed."""
    since = now - timedelta(days=settings().bounce_window_days)
    if subscriber.confirmed_at is not None:
        since = max(since, subscriber.confirmed_at)
    return (
        db.session.scalar(
            select(func.count(Bounce.id)).where(
                Bounce.subscriber_id == subscriber.id,
                Bounce.kind == BounceKind.SOFT,
                Bounce.received_at >= since,
            )
        )
        or 0
    )


def record_refusals(
    model: type[Delivery] | type[OutboundMessage],
    refusals: Sequence[tuple[int, str]],
    now: datetime,
) -> None:
    """Record the permanent refusals (5xx) met during our own SMTP sessions, each
    a (row id, reply) pair, like the same failure reported later by a DSN."""
    for row_id, reply in refusals:
        kind, status = classify_reply(reply)
        target = _row_target(model, row_id) if kind else None
        if target is not None:
            report = Report(kind, (), "SMTP refusal", status, reply, Source.SMTP)
            record(target, report, now, None, audit.WORKER)


def _row_target(
    model: type[Delivery] | type[OutboundMessage], row_id: int
) -> Target | None:
    """Return the target of a delivery or message row, if it still exists."""
    if model is Delivery:
        delivery = db.session.get(Delivery, row_id)
        return Target(delivery.subscriber_id, delivery_id=row_id) if delivery else None
    message = db.session.get(OutboundMessage, row_id)
    if message is None:
        return None
    return Target(message.subscriber_id, outbound_message_id=row_id)


def issue_reports(issue_id: int) -> IssueReports:
    """Count the deliveries of an issue that bounced or drew a complaint."""
    rows = db.session.execute(
        select(Bounce.kind, func.count(distinct(Bounce.delivery_id)))
        .join(Delivery, Delivery.id == Bounce.delivery_id)
        .where(Delivery.issue_id == issue_id)
        .group_by(Bounce.kind)
    )
    counts = {kind: n for kind, n in rows}
    return IssueReports(
        bounced=counts.get(BounceKind.HARD, 0),
        soft=counts.get(BounceKind.SOFT, 0),
        complained=counts.get(BounceKind.COMPLAINT, 0),
    )


def subscriber_bounces(subscriber_id: int) -> list[BounceLine]:
    """Return a subscriber's bounces and complaints, newest first."""
    rows = db.session.execute(
        select(
            Bounce.received_at,
            Bounce.kind,
            Bounce.status,
            Bounce.reason,
            func.coalesce(Issue.title, OutboundMessage.template, ""),
        )
        .outerjoin(Delivery, Delivery.id == Bounce.delivery_id)
        .outerjoin(Issue, Issue.id == Delivery.issue_id)
        .outerjoin(OutboundMessage, OutboundMessage.id == Bounce.outbound_message_id)
        .where(Bounce.subscriber_id == subscriber_id)
        .order_by(Bounce.received_at.desc(), Bounce.id.desc())
    )
    return [BounceLine(*row) for row in rows]
