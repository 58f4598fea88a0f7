"""Double opt-in, preferences, unsubscribe, erase: the subscriber's own workflows.

A sign-up runs the same statements whatever state the address is in, so that neither
the answer nor the work done reveals whether somebody is subscribed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from newsletter import consent_text
from newsletter.config import settings
from newsletter.database import get_row
from newsletter.extensions import db
from newsletter.models import (
    ConsentEvent,
    ConsentKind,
    Delivery,
    ImportDraft,
    Issue,
    LinkRequest,
    MessageStatus,
    OutboundMessage,
    PendingSignUp,
    Subscriber,
    SubscriberStatus,
    Suppression,
    Theme,
    subscriber_theme,
)
from newsletter.models.states import MESSAGES, SUBSCRIBERS, move
from newsletter.models.types import UTCDateTime
from newsletter.services import audit
from newsletter.services.subscribers import normalise_name
from newsletter.services.tokens import InvalidToken, address_fingerprint, read_token

# The emails anybody can make us send to an address by typing it into a form; one
# throttle (_throttled) holds for all of them together.
CONFIRMATION_TEMPLATES = ("confirm_subscription", "already_subscribed", "page_link")
_S = SubscriberStatus
# People who were once on the list: a new sign-up of theirs is held in PendingSignUp
# and changes nothing about them until its confirmation link is used.
RETURNING = (_S.UNSUBSCRIBED, _S.BOUNCED)
# The moves of a subscription, each checked against the subscriber lifecycle.
SIGN_UP = SUBSCRIBERS.step(to=_S.PENDING)
IMPORT_ATTESTED = SUBSCRIBERS.step(to=_S.CONFIRMED)
CONFIRM = SUBSCRIBERS.step(_S.PENDING, *RETURNING, to=_S.CONFIRMED)
UNSUBSCRIBE = SUBSCRIBERS.step(_S.CONFIRMED, _S.PENDING, _S.BOUNCED, to=_S.UNSUBSCRIBED)
# People who may ask for a new link to their own page: on the list, or once on it
# (a bounced address is not written to again on a stranger's request).
PAGE_LINK_HOLDERS = (_S.CONFIRMED, _S.UNSUBSCRIBED)
# An email about a subscription enters the queue.
QUEUE_EMAIL = MESSAGES.step(to=MessageStatus.QUEUED)


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as recorded in the consent history."""

    ip: str = ""
    user_agent: str = ""
    how: str = "web form"


def address_hash(email: str) -> str:
    """Return the suppression hash of a normalised address."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()


def record_event(
    subscriber_id: int, kind: ConsentKind, origin: Origin, now: datetime, **extra: str
) -> None:
    """Append one consent event."""
    db.session.add(
        ConsentEvent(
            subscriber_id=subscriber_id,
            kind=kind,
            at=now,
            ip=origin.ip[:45],
            user_agent=origin.user_agent[:300],
            how=origin.how[:120],
            **extra,
        )
    )
    # The same change in the audit trail, named by the address (erasure later
    # replaces it with the suppression hash).
    subscriber = db.session.get(Subscriber, subscriber_id)
    detail = extra.get("detail", "")
    audit.record(
        f"subscriber.{kind.value}",
        "subscriber",
        subscriber_id,
        subscriber.email if subscriber is not None else "",
        {"detail": [None, detail]} if detail else {"status": [None, kind.value]},
    )


def _throttled(subscriber: Subscriber, now: datetime) -> bool:
    """At most one email asked for by a form per 15 minutes and three per day per
    address (a confirmation, "already subscribed", or a link to the person's page).

    Looked up through the subscriber's (indexed) messages: by address alone each
    sign-up read the whole outbox, which only grows. Every confirmation email has
    its subscriber's id, and erasing a subscriber deletes its messages."""
    recent = select(OutboundMessage.created_at).where(
        OutboundMessage.subscriber_id == subscriber.id,
        OutboundMessage.to_address == subscriber.email,
        OutboundMessage.template.in_(CONFIRMATION_TEMPLATES),
        OutboundMessage.created_at > now - timedelta(days=1),
    )
    times = list(db.session.scalars(recent))
    window = timedelta(minutes=settings().confirm_email_interval_minutes)
    return len(times) >= settings().confirm_emails_per_day or any(
        t > now - window for t in times
    )


def _email_about(
    subscriber: Subscriber, template: str, language: str, now: datetime
) -> OutboundMessage:
    """A queued email about a subscription.

    It goes to a bare address: whoever asked for it may have typed any address and
    any name, and a name the person never confirmed must not speak in the header.
    """
    return OutboundMessage(
        template=template,
        context={"subscriber_id": subscriber.id},
        language=language,
        to_address=subscriber.email,
        to_name="",
        subscriber_id=subscriber.id,
        created_at=now,
    )


def request_subscription(
    address: str,
    name: str,
    theme_ids: Iterable[int],
    language: str,
    origin: Origin,
    now: datetime,
) -> None:
    """Record a sign-up and queue the right email, the same way for every address.

    A new or pending address takes the choices at once; a returning one (unsubscribed
    or bounced) stays as it is, the choices held until its link is used; a confirmed
    one is never changed by an anonymous request and gets a neutral "you are already
    subscribed" email instead of a confirmation link.
    """
    name = normalise_name(name)
    theme_ids = list(theme_ids)
    subscriber = _subscriber_row(address, now)
    was_confirmed = subscriber.status == _S.CONFIRMED
    if subscriber.status == _S.PENDING:
        subscriber.name = name
        subscriber.language = language
    subscriber.last_requested_at = now
    db.session.flush()
    # The same four statements run for every state; their WHERE clauses decide
    # what changes: a pending sign-up's themes, or a returning person's held request.
    pending = exists().where(
        Subscriber.id == subscriber.id, Subscriber.status == _S.PENDING
    )
    db.session.execute(
        delete(subscriber_theme).where(
            subscriber_theme.c.subscriber_id == subscriber.id, pending
        )
    )
    db.session.execute(
        insert(subscriber_theme).from_select(
            ["subscriber_id", "theme_id"],
            select(literal(subscriber.id), Theme.id).where(
                Theme.id.in_(theme_ids), Theme.active.is_(True), pending
            ),
        )
    )
    _hold_sign_up(subscriber.id, name, theme_ids, language, now)
    record_event(
        subscriber.id,
        ConsentKind.REQUESTED,
        origin,
        now,
        consent_version=consent_text.VERSION,
        consent_text=consent_text.consent_text(language),
    )
    if not _throttled(subscriber, now):
        template = "already_subscribed" if was_confirmed else "confirm_subscription"
        email_language = subscriber.language if was_confirmed else language
        db.session.add(_email_about(subscriber, template, email_language, now))
    db.session.flush()


def _subscriber_row(address: str, now: datetime) -> Subscriber:
    """Return the row of an address, adding a pending one when there is none.

    The insert skips an address that exists, so sign-ups of the same new address at
    the same moment all find the one row that won, on either engine, without a retry.
    """
    module = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(
        module.insert(Subscriber)
        .values(email=address, status=SIGN_UP.target, created_at=now)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    return db.session.scalars(
        select(Subscriber).where(Subscriber.email == address)
    ).one()


def _hold_sign_up(
    subscriber_id: int,
    name: str,
    theme_ids: list[int],
    language: str,
    now: datetime,
) -> None:
    """Replace the held sign-up of a returning person; change nothing for others."""
    db.session.execute(
        delete(PendingSignUp).where(PendingSignUp.subscriber_id == subscriber_id)
    )
    db.session.execute(
        insert(PendingSignUp).from_select(
            ["subscriber_id", "name", "language", "theme_ids", "requested_at"],
            select(
                Subscriber.id,
                literal(name),
                literal(language),
                literal(theme_ids, JSON),
                literal(now, UTCDateTime()),
            ).where(Subscriber.id == subscriber_id, Subscriber.status.in_(RETURNING)),
        )
    )


def resend_confirmation(address: str, origin: Origin, now: datetime) -> None:
    """Record a request for a new link, the same way for every address; the worker
    answers it (answer_link_requests)."""
    db.session.add(
        LinkRequest(
            email=address,
            ip=origin.ip[:45],
            user_agent=origin.user_agent[:300],
            how=origin.how[:120],
            requested_at=now,
        )
    )
    # Anyone may type any address here: the trail keeps its hash, never the
    # address of somebody who may not even subscribe.
    audit.record("subscriber.link_requested", "subscriber", None, address_hash(address))
    db.session.flush()


def answer_link_requests(now: datetime, batch: int = 500) -> int:
    """Queue a new confirmation link for each requested address that awaits one,
    recording the request in its consent history, or a new link to their own page
    for a person who is or was on the list; drop the others. Return how many
    requests were handled."""
    requests = db.session.scalars(
        select(LinkRequest)
        .order_by(LinkRequest.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for link_request in requests:
        _answer_link_request(link_request, now)
        db.session.delete(link_request)
    db.session.flush()
    return len(requests)


def _answer_link_request(link_request: LinkRequest, now: datetime) -> None:
    """Queue a confirmation email if the address awaits one: a pending sign-up, or
    a returning person's held one (in the language it asked for); otherwise a link
    to the person's own page."""
    found = db.session.execute(
        select(Subscriber, func.coalesce(PendingSignUp.language, Subscriber.language))
        .outerjoin(PendingSignUp, PendingSignUp.subscriber_id == Subscriber.id)
        .where(
            Subscriber.email == link_request.email,
            or_(
                Subscriber.status == _S.PENDING,
                and_(
                    Subscriber.status.in_(RETURNING),
                    PendingSignUp.subscriber_id.is_not(None),
                ),
            ),
        )
    ).first()
    if found is None:
        _answer_with_page_link(link_request.email, now)
        return
    subscriber, language = found
    origin = Origin(link_request.ip, link_request.user_agent, link_request.how)
    record_event(
        subscriber.id, ConsentKind.REQUESTED, origin, link_request.requested_at
    )
    if not _throttled(subscriber, now):
        db.session.add(_email_about(subscriber, "confirm_subscription", language, now))


def _answer_with_page_link(address: str, now: datetime) -> None:
    """Queue a fresh link to the person's own page (themes, their data, erasure)
    if the address is on the list or was; unknown and erased addresses get nothing.

    Their earlier links died when they left, as they must; this one is signed when
    the email is built, at the current token version. The request goes into the
    audit trail, not the consent history: nobody asked to subscribe."""
    subscriber = db.session.scalars(
        select(Subscriber).where(
            Subscriber.email == address, Subscriber.status.in_(PAGE_LINK_HOLDERS)
        )
    ).first()
    if subscriber is None:
        return
    answer = "not sent (throttled)"
    if not _throttled(subscriber, now):
        email = _email_about(subscriber, "page_link", subscriber.language, now)
        db.session.add(email)
        answer = QUEUE_EMAIL.target.value
    audit.record(
        "subscriber.page_link_requested",
        "subscriber",
        subscriber.id,
        subscriber.email,
        {"email": [None, answer]},
    )


def subscriber_for(purpose: str, token: str, *statuses: SubscriberStatus) -> Subscriber:
    """Return the subscriber a token is for, if its version and status still match."""
    claims = read_token(purpose, token)
    subscriber = db.session.get(Subscriber, claims.subscriber_id)
    if subscriber is None or not claims.matches(
        subscriber.id, subscriber.token_version, subscriber.email
    ):
        raise InvalidToken()
    if statuses and subscriber.status not in statuses:
        raise InvalidToken()
    return subscriber


def confirmed_by(token: str) -> Subscriber | None:
    """The subscriber a used confirmation link confirmed, if they still subscribe
    (people often open the link twice). None for any other link."""
    try:
        claims = read_token("confirm", token)
    except InvalidToken:
        return None
    subscriber = db.session.get(Subscriber, claims.subscriber_id)
    if (
        subscriber is None
        or subscriber.status != _S.CONFIRMED
        or claims.fingerprint != address_fingerprint(subscriber.email)
        or claims.version >= subscriber.token_version
    ):
        return None
    return subscriber


def awaiting_confirmation(token: str) -> tuple[Subscriber, PendingSignUp | None]:
    """Return whom a confirmation link is for, and the sign-up held for them, if
    the link can still confirm: a pending address, or a returning one whose new
    sign-up waits."""
    subscriber = subscriber_for("confirm", token, *CONFIRM.sources)
    held = db.session.get(PendingSignUp, subscriber.id)
    if subscriber.status != _S.PENDING and held is None:
        raise InvalidToken()
    return subscriber, held


def confirm(token: str, origin: Origin, now: datetime) -> Subscriber:
    """Confirm a sign-up, applying what it asked for; the link then stops working."""
    subscriber, held = awaiting_confirmation(token)
    if held is not None:
        subscriber.name = held.name
        subscriber.language = held.language
        subscriber.themes = list(
            db.session.scalars(
                select(Theme)
                .where(Theme.id.in_(held.theme_ids), Theme.active.is_(True))
                .order_by(Theme.position)
            )
        )
        db.session.delete(held)
    move(subscriber, CONFIRM)
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.bounce_count = 0
    subscriber.token_version += 1
    db.session.execute(
        delete(Suppression).where(
            Suppression.email_hash == address_hash(subscriber.email)
        )
    )
    record_event(
        subscriber.id,
        ConsentKind.CONFIRMED,
        origin,
        now,
        consent_version=consent_text.VERSION,
    )
    db.session.flush()
    return subscriber


def update_preferences(
    subscriber: Subscriber,
    name: str,
    theme_ids: Iterable[int],
    language: str,
    origin: Origin,
    now: datetime,
) -> None:
    """Change name, themes and language, and record what changed."""
    chosen = list(
        db.session.scalars(
            select(Theme).where(Theme.id.in_(list(theme_ids))).order_by(Theme.position)
        )
    )
    subscriber.name = normalise_name(name)
    subscriber.language = language
    subscriber.themes = chosen
    record_event(
        subscriber.id,
        ConsentKind.PREFERENCES_CHANGED,
        origin,
        now,
        detail=f"themes: {', '.join(t.slug for t in chosen)}; language: {language}",
    )
    db.session.flush()


def _leave(subscriber: Subscriber, now: datetime) -> bool:
    """Take a person off the list; every earlier link stops working. Return
    whether it changed anything."""
    if subscriber.status not in UNSUBSCRIBE.sources:
        return False
    move(subscriber, UNSUBSCRIBE)
    subscriber.unsubscribed_at = now
    subscriber.token_version += 1
    # Leaving also withdraws a sign-up still waiting for its link.
    db.session.execute(
        delete(PendingSignUp).where(PendingSignUp.subscriber_id == subscriber.id)
    )
    return True


def unsubscribe(subscriber: Subscriber, origin: Origin, now: datetime) -> bool:
    """Withdraw consent; every earlier link stops working. Return whether it changed."""
    if not _leave(subscriber, now):
        return False
    record_event(subscriber.id, ConsentKind.UNSUBSCRIBED, origin, now)
    db.session.flush()
    return True


def complain(
    subscriber: Subscriber, origin: Origin, now: datetime, detail: str = ""
) -> None:
    """Take somebody who reported our mail as spam off the list at once, like an
    unsubscribe, and record the complaint in their consent history."""
    _leave(subscriber, now)
    record_event(subscriber.id, ConsentKind.COMPLAINT, origin, now, detail=detail)
    db.session.flush()


def unsubscribe_link_holder(token: str) -> Subscriber | None:
    """Return whom an unsubscribe link would take off the list now, or None when
    the link is an old one or they have already left."""
    claims = read_token("unsubscribe", token)
    subscriber = db.session.get(Subscriber, claims.subscriber_id)
    if (
        subscriber is None
        or not claims.matches(subscriber.id, subscriber.token_version, subscriber.email)
        or subscriber.status == _S.UNSUBSCRIBED
    ):
        return None
    return subscriber


def unsubscribe_by_token(
    token: str, origin: Origin, now: datetime
) -> Subscriber | None:
    """One-click unsubscribe: idempotent for any link we signed, even an old one.
    Returns the subscriber when the link was current (and so unsubscribed them)."""
    claims = read_token("unsubscribe", token)
    subscriber = db.session.get(Subscriber, claims.subscriber_id)
    if subscriber is not None and claims.matches(
        subscriber.id, subscriber.token_version, subscriber.email
    ):
        unsubscribe(subscriber, origin, now)
        return subscriber
    return None


def erase(subscriber: Subscriber, by: str) -> None:
    """Delete everything about a subscriber, keeping only a suppression hash."""
    digest = address_hash(subscriber.email)
    if db.session.get(Suppression, digest) is None:
        db.session.add(Suppression(email_hash=digest, reason=f"erased by {by}"[:30]))
    db.session.execute(
        delete(OutboundMessage).where(
            or_(
                OutboundMessage.subscriber_id == subscriber.id,
                OutboundMessage.to_address == subscriber.email,
            )
        )
    )
    db.session.execute(delete(LinkRequest).where(LinkRequest.email == subscriber.email))
    # An uploaded file waiting for its preview may hold the address too.
    db.session.execute(
        delete(ImportDraft).where(ImportDraft.content.contains(subscriber.email))
    )
    subscriber_id = subscriber.id
    email = subscriber.email
    db.session.delete(subscriber)
    db.session.flush()
    audit.forget_address(email, digest)
    audit.record(
        "subscriber.erased", "subscriber", subscriber_id, digest, {"by": [None, by]}
    )


def stamp(value: datetime | None) -> str | None:
    """Return a time as ISO 8601 text, or None when it is not set."""
    return value.isoformat() if value else None


def export_data(subscriber: Subscriber) -> dict[str, Any]:
    """Return everything stored about a subscriber, for "download my data"."""
    deliveries = db.session.execute(
        select(Issue.title, Delivery.status, Delivery.sent_at, Delivery.attempts)
        .join(Issue, Issue.id == Delivery.issue_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    )
    held = db.session.get(PendingSignUp, subscriber.id)
    return {
        "profile": {
            "email": subscriber.email,
            "name": subscriber.name,
            "language": subscriber.language,
            "status": subscriber.status,
            "created_at": stamp(subscriber.created_at),
            "confirmed_at": stamp(subscriber.confirmed_at),
            "unsubscribed_at": stamp(subscriber.unsubscribed_at),
        },
        "themes": [theme.name for theme in subscriber.themes],
        "sign_up_awaiting_confirmation": None
        if held is None
        else {
            "name": held.name,
            "language": held.language,
            "themes": list(
                db.session.scalars(
                    select(Theme.name)
                    .where(Theme.id.in_(held.theme_ids))
                    .order_by(Theme.position)
                )
            ),
            "requested_at": stamp(held.requested_at),
        },
        "consent_history": [
            {
                "kind": event.kind,
                "at": stamp(event.at),
                "ip": event.ip,
                "user_agent": event.user_agent,
                "how": event.how,
                "consent_version": event.consent_version,
                "consent_text": event.consent_text,
                "detail": event.detail,
            }
            for event in subscriber.events
        ],
        "deliveries": [
            {"issue": title, "status": status, "sent_at": stamp(sent), "attempts": n}
            for title, status, sent, n in deliveries
        ],
    }


def purge_unconfirmed(now: datetime) -> int:
    """Delete sign-ups never confirmed within PENDING_DAYS, and import files left
    unused for a day; return how many people were deleted with their sign-up."""
    db.session.execute(
        delete(ImportDraft).where(ImportDraft.created_at < now - timedelta(days=1))
    )
    cutoff = now - timedelta(days=settings().pending_days)
    # A returning person's stale sign-up goes; the person stays as they were.
    db.session.execute(delete(PendingSignUp).where(PendingSignUp.requested_at < cutoff))
    stale = select(Subscriber.id).where(
        Subscriber.status == _S.PENDING,
        # Somebody who was ever on the list is never deleted as a stranger's
        # sign-up (earlier versions set returning people back to pending).
        Subscriber.confirmed_at.is_(None),
        Subscriber.unsubscribed_at.is_(None),
        func.coalesce(Subscriber.last_requested_at, Subscriber.created_at) < cutoff,
    )
    ids = list(db.session.scalars(stale))
    if not ids:
        return 0
    db.session.execute(
        delete(OutboundMessage).where(OutboundMessage.subscriber_id.in_(ids))
    )
    db.session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
    return len(ids)


def save_import_draft(filename: str, content: str, editor: str) -> ImportDraft:
    """Keep an uploaded file for its preview; nothing is imported yet."""
    draft = ImportDraft(filename=filename[:255], content=content, created_by=editor)
    db.session.add(draft)
    db.session.flush()
    audit.record("import.uploaded", "import", draft.id, draft.filename)
    return draft


def discard_import_draft(draft_id: int) -> None:
    """Forget an uploaded file once it is imported."""
    draft = get_row(ImportDraft, draft_id)
    audit.record("import.discarded", "import", draft.id, draft.filename)
    db.session.delete(draft)
    db.session.flush()
