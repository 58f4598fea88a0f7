"""Each email's context, and the message templates built from it.

An issue email is rendered and compiled once per (issue, chosen themes, language) and
then personalised per recipient; a transactional email is rendered per message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from newsletter.config import settings
from newsletter.database import get_row
from newsletter.errors import NotFound
from newsletter.extensions import db
from newsletter.mail.message import MessageTemplate, new_marker, slot
from newsletter.mail.render import RenderedEmail, render_email
from newsletter.mail.verp import verp_address
from newsletter.models import (
    ContributionLink,
    Issue,
    Item,
    OutboundMessage,
    Proposal,
    Subscriber,
    SubscriberStatus,
    Theme,
)
from newsletter.models.types import utcnow
from newsletter.services.contributor_links import link_url, proposal_url
from newsletter.services.identity import identity, sender
from newsletter.services.issues import sections
from newsletter.services.tokens import make_token

LINK_SLOTS = ("unsubscribe_url", "preferences_url")


def base_url() -> str:
    """Return the configured absolute address of the site."""
    return settings().base_url


def mail_domain() -> str:
    """Return our domain, used in Message-IDs and List-Id."""
    return urlsplit(base_url()).hostname or "localhost"


def envelope_sender(kind: str, row_id: int) -> str:
    """Return the VERP bounce address (MAIL FROM) of one delivery or message."""
    config = settings()
    # verp_address reads the address out of a "Name <address>" once and keeps it.
    bounce_to = config.return_path or config.mail_from
    return verp_address(bounce_to, config.secret_key, kind, row_id)


def message_id(kind: str, row_id: int) -> str:
    """Return a Message-ID that is the same every time this row is sent."""
    key = settings().secret_key.encode()
    digest = hmac.new(key, f"{kind}:{row_id}".encode(), hashlib.sha256).hexdigest()
    return f"<{kind}.{row_id}.{digest[:16]}@{mail_domain()}>"


def identity_context() -> dict[str, Any]:
    """Who sends every email: the identity, its names and its logo's address."""
    current = identity()
    logo = f"{base_url()}/media/{current.logo_file}" if current.logo else ""
    return {
        "identity": current,
        "site_name": current.newsletter_name,
        "organisation": current.organisation,
        "brand_colour": current.brand_colour,
        "logo_url": logo,
    }


def reply_to_headers() -> dict[str, str]:
    """The Reply-To header, when the identity names an address for replies."""
    address = identity().reply_to
    return {"Reply-To": address} if address else {}


def subscriber_links(
    subscriber_id: int, token_version: int, email: str
) -> dict[str, str]:
    """Return the personal unsubscribe and preference links of a subscriber."""
    base = base_url()
    unsubscribe = make_token("unsubscribe", subscriber_id, token_version, email)
    preferences = make_token("preferences", subscriber_id, token_version, email)
    return {
        "unsubscribe_url": f"{base}/unsubscribe/{unsubscribe}",
        "preferences_url": f"{base}/preferences/{preferences}",
    }


def list_unsubscribe(unsubscribe_url: str) -> str:
    """Return the List-Unsubscribe value: the one-click URL, plus mailto if set."""
    value = f"<{unsubscribe_url}>"
    mailto = settings().list_unsubscribe_mailto
    if mailto:
        value += f", <mailto:{mailto}?subject=unsubscribe>"
    return value


def list_headers() -> dict[str, str]:
    """Return the list headers every issue email carries besides List-Unsubscribe."""
    name = identity().newsletter_name
    return {
        "List-Id": f"{name} <newsletter.{mail_domain()}>",
        "List-Archive": f"<{base_url()}/>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Precedence": "bulk",
    }


def issue_context(
    issue: Issue, theme_ids: frozenset[int], language: str, links: dict[str, str]
) -> dict[str, Any]:
    """Return the template context of an issue email for a set of chosen themes."""
    chosen = db.session.scalars(
        select(Theme.name)
        .where(Theme.id.in_(theme_ids))
        .order_by(Theme.position, Theme.id)
    ).all()
    return {
        "issue": issue,
        "sections": [s for s in sections(issue) if s.theme.id in theme_ids],
        "language": language,
        "web_url": f"{base_url()}/archive/{issue.slug}",
        "archive_url": f"{base_url()}/",
        # Workers build the PDF edition once sending starts; until then (a minute
        # at most) its URL answers 503 with Retry-After. No workers, no link.
        "pdf_url": f"{base_url()}/archive/{issue.slug}.pdf"
        if settings().pdf_every_seconds > 0
        else "",
        "subscribed_themes": chosen,
        **identity_context(),
        **links,
    }


def build_issue_template(
    issue: Issue, theme_ids: frozenset[int], language: str
) -> MessageTemplate:
    """Render and compile an issue for one theme combination, links left as slots."""
    marker = new_marker()
    links = {name: slot(name, marker) for name in LINK_SLOTS}
    context = issue_context(issue, theme_ids, language, links)
    rendered = render_email("issue", locale=language, **context)
    return MessageTemplate(
        rendered,
        sender=sender(settings().mail_from),
        headers={**list_headers(), **reply_to_headers()},
        slots=LINK_SLOTS,
        marker=marker,
    )


class TemplateCache:
    """Compiled issue templates of one worker, least recently used dropped first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, frozenset[int], str], MessageTemplate] = (
            OrderedDict()
        )
        self.compiled = 0

    def get(
        self, issue: Issue, theme_ids: frozenset[int], language: str
    ) -> MessageTemplate:
        """Return the template for this combination, compiling it on first use."""
        key = (issue.id, theme_ids, language)
        template = self._items.get(key)
        if template is None:
            template = build_issue_template(issue, theme_ids, language)
            self.compiled += 1
            self._items[key] = template
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return template


def _issue_test_context(message: OutboundMessage) -> dict[str, Any]:
    """A test copy: every section, links that lead to the site, not to a person."""
    issue = get_row(Issue, message.context["issue_id"])
    theme_ids = frozenset(s.theme.id for s in sections(issue))
    links = dict.fromkeys(LINK_SLOTS, f"{base_url()}/")
    return issue_context(issue, theme_ids, message.language, links)


def _about_us(message: OutboundMessage) -> dict[str, Any]:
    """What every transactional email says of itself: its language and who we are."""
    return {"language": message.language, **identity_context()}


def _subscriber_context(message: OutboundMessage) -> dict[str, Any]:
    """Context shared by the emails about a subscription."""
    subscriber = db.session.get(Subscriber, message.context["subscriber_id"])
    if subscriber is None:
        raise NotFound("the subscriber no longer exists")
    return {
        "subscriber": subscriber,
        "address": subscriber.email,
        **_about_us(message),
    }


def _confirm_context(message: OutboundMessage) -> dict[str, Any]:
    """A confirmation link signed now, valid for 48 hours, usable once."""
    context = _subscriber_context(message)
    subscriber = context["subscriber"]
    token = make_token(
        "confirm", subscriber.id, subscriber.token_version, subscriber.email
    )
    return {**context, "confirm_url": f"{base_url()}/confirm/{token}"}


def _already_subscribed_context(message: OutboundMessage) -> dict[str, Any]:
    """No content, only the way to the preferences."""
    context = _subscriber_context(message)
    subscriber = context["subscriber"]
    links = subscriber_links(subscriber.id, subscriber.token_version, subscriber.email)
    return {**context, "preferences_url": links["preferences_url"]}


def _page_link_context(message: OutboundMessage) -> dict[str, Any]:
    """A new link to the person's own page, signed now: their earlier links died
    when they left, and this one dies the same way."""
    context = _already_subscribed_context(message)
    subscribed = context["subscriber"].status == SubscriberStatus.CONFIRMED
    return {**context, "subscribed": subscribed}


def _proposal_context(message: OutboundMessage) -> dict[str, Any]:
    """A proposal and the proposer's private link to follow it (and change it
    while no editor has decided)."""
    proposal = db.session.get(Proposal, message.context["proposal_id"])
    if proposal is None:
        raise NotFound("the proposal no longer exists")
    return {
        "proposal": proposal,
        "title": proposal.title or proposal.body[:60],
        "organisation_name": proposal.link.organisation,
        # The message as the editor wrote it when deciding, not a later one.
        "message": message.context.get("message", proposal.editor_message),
        "proposal_url": proposal_url(proposal),
        **_about_us(message),
    }


def _contribution_reminder_context(message: OutboundMessage) -> dict[str, Any]:
    """A partner's link and the deadline of the issue it proposes items for; no
    address when the link can no longer be unsealed (the secret key changed)."""
    link = db.session.get(ContributionLink, message.context["link_id"])
    issue = db.session.get(Issue, message.context["issue_id"])
    if link is None or issue is None:
        raise NotFound("the contribution link or the issue no longer exists")
    return {
        "organisation_name": link.organisation,
        "contact_name": link.contact_name,
        "issue": issue,
        "deadline": issue.contribution_deadline,
        "contribute_url": link_url(link),
        **_about_us(message),
    }


def _proposal_received_context(message: OutboundMessage) -> dict[str, Any]:
    """What the proposer sent: its theme and the issue it is proposed for."""
    context = _proposal_context(message)
    proposal = context["proposal"]
    theme = db.session.get(Theme, proposal.theme_id)
    issue = db.session.get(Issue, proposal.issue_id) if proposal.issue_id else None
    return {
        **context,
        "theme_name": theme.name if theme else "",
        "issue": issue,
        "private_url": context["proposal_url"],
    }


def _proposal_accepted_context(message: OutboundMessage) -> dict[str, Any]:
    """The decision, and the issue the item is placed in."""
    context = _proposal_context(message)
    item = db.session.get(Item, message.context.get("item_id") or 0)
    return {**context, "issue_title": item.issue.title if item else ""}


def _review_requested_context(message: OutboundMessage) -> dict[str, Any]:
    """The issue to review, who asks and their message, and the issue page link."""
    issue = db.session.get(Issue, message.context["issue_id"])
    if issue is None:
        raise NotFound("the issue no longer exists")
    return {
        "issue": issue,
        "reviewer_name": message.to_name,
        "requested_by": message.context.get("requested_by", ""),
        "message": message.context.get("message", ""),
        "issue_url": f"{base_url()}/editor/issues/{issue.id}#review",
        **_about_us(message),
    }


TRANSACTIONAL: dict[str, Callable[[OutboundMessage], dict[str, Any]]] = {
    "issue_test": _issue_test_context,
    "confirm_subscription": _confirm_context,
    "already_subscribed": _already_subscribed_context,
    "page_link": _page_link_context,
    "proposal_received": _proposal_received_context,
    "proposal_accepted": _proposal_accepted_context,
    "proposal_returned": _proposal_context,
    "proposal_declined": _proposal_context,
    "contribution_reminder": _contribution_reminder_context,
    "review_requested": _review_requested_context,
}


def build_transactional(message: OutboundMessage) -> bytes:
    """Render a queued transactional message into its final bytes."""
    context = TRANSACTIONAL[message.template](message)
    rendered = render_email(message.template, locale=message.language, **context)
    template = MessageTemplate(
        rendered, sender=sender(settings().mail_from), headers=reply_to_headers()
    )
    return template.personalise(
        to_address=message.to_address,
        to_name=message.to_name,
        message_id=message_id("m", message.id),
        date=utcnow(),
    )


def preview_email(issue: Issue, language: str) -> RenderedEmail:
    """Render an issue as a reader with every theme would get it, without links."""
    theme_ids = frozenset(s.theme.id for s in sections(issue))
    links = dict.fromkeys(LINK_SLOTS, f"{base_url()}/")
    context = issue_context(issue, theme_ids, language, links)
    return render_email("issue", locale=language, **context)
