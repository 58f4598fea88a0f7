"""Names of statuses and events in the reader's language, for pages, emails and the
command line alike: one place to look a label up or to translate it."""

from __future__ import annotations

from flask_babel import gettext as _

from newsletter.models import (
    BounceKind,
    ConsentKind,
    DeliveryStatus,
    IssueStatus,
    ProposalStatus,
    Role,
    SubscriberStatus,
)
from newsletter.services.sending import SKIPPED_CANCELLED, SKIPPED_NO_THEMES


def status_label(status: str) -> str:
    """Return the translated name of an issue status."""
    labels: dict[str, str] = {
        IssueStatus.DRAFT: _("Draft"),
        IssueStatus.SCHEDULED: _("Scheduled"),
        IssueStatus.SENDING: _("Sending"),
        IssueStatus.PAUSED: _("Paused"),
        IssueStatus.SENT: _("Sent"),
        IssueStatus.CANCELLED: _("Cancelled"),
    }
    return labels.get(status, status)


def subscriber_status(status: str) -> str:
    """Return the translated name of a subscriber status."""
    labels: dict[str, str] = {
        SubscriberStatus.PENDING: _("Awaiting confirmation"),
        SubscriberStatus.CONFIRMED: _("Confirmed"),
        SubscriberStatus.UNSUBSCRIBED: _("Unsubscribed"),
        SubscriberStatus.BOUNCED: _("Bounced"),
    }
    return labels.get(status, status)


def delivery_status(status: str) -> str:
    """Return the translated name of a delivery status."""
    labels: dict[str, str] = {
        DeliveryStatus.QUEUED: _("Queued"),
        DeliveryStatus.SENDING: _("Sending"),
        DeliveryStatus.SENT: _("Sent"),
        DeliveryStatus.FAILED: _("Failed"),
        DeliveryStatus.SKIPPED: _("Skipped"),
    }
    return labels.get(status, status)


def delivery_error(error: str | None) -> str:
    """Translate the reasons the service itself records; SMTP replies stay as sent."""
    labels: dict[str, str] = {
        SKIPPED_NO_THEMES: _("None of the subscriber's themes has items in the issue."),
        SKIPPED_CANCELLED: _("The send was cancelled."),
    }
    return labels.get(error or "", error or "")


def consent_how(how: str | None) -> str:
    """Translate how a consent event came about; names stay as recorded."""
    labels: dict[str, str] = {
        "web form": _("web form"),
        "confirmation link": _("confirmation link"),
        "new link": _("new confirmation link"),
        "preference page": _("preference page"),
        "unsubscribe page": _("unsubscribe page"),
        "one-click (RFC 8058)": _("one-click unsubscribe in the email program"),
        "command line": _("command line"),
        "attested by the editor": _("attested by the editor"),
        "confirmation sent": _("confirmation email sent"),
        "spam report": _("spam report from the email provider"),
    }
    how = how or ""
    if how.startswith("editor "):
        return _("editor %(name)s", name=how.removeprefix("editor "))
    if how == "API":
        return _("API")
    if how.startswith("API "):
        return _("API from %(origin)s", origin=how.removeprefix("API "))
    if how.startswith("import by "):
        return _("import by %(name)s", name=how.removeprefix("import by "))
    return labels.get(how, how)


def language_name(code: str | None) -> str:
    """A language by its own name, as language menus show them."""
    return {"sv": "Svenska", "en": "English"}.get(code or "", code or "")


def consent_kind(kind: str) -> str:
    """Return the translated name of a consent event."""
    labels: dict[str, str] = {
        ConsentKind.REQUESTED: _("Asked to subscribe"),
        ConsentKind.CONFIRMED: _("Confirmed"),
        ConsentKind.PREFERENCES_CHANGED: _("Changed preferences"),
        ConsentKind.UNSUBSCRIBED: _("Unsubscribed"),
        ConsentKind.IMPORTED: _("Imported"),
        ConsentKind.COMPLAINT: _("Reported the email as spam"),
    }
    return labels.get(kind, kind)


def bounce_kind(kind: str) -> str:
    """Return the translated name of a kind of bounce."""
    labels: dict[str, str] = {
        BounceKind.HARD: _("Hard bounce: the address does not exist"),
        BounceKind.SOFT: _("Soft bounce: delayed or temporarily refused"),
        BounceKind.REJECTED: _("Refused for its content or the sender"),
        BounceKind.COMPLAINT: _("Reported as spam"),
    }
    return labels.get(kind, kind)


def proposal_status(status: str) -> str:
    """Return the translated name of a proposal's state."""
    labels: dict[str, str] = {
        ProposalStatus.NEW: _("New"),
        ProposalStatus.RETURNED: _("Returned for changes"),
        ProposalStatus.ACCEPTED: _("Accepted"),
        ProposalStatus.DECLINED: _("Declined"),
    }
    return labels.get(status, status)


def role_label(role: str) -> str:
    """Return the translated name of an account's role."""
    labels: dict[str, str] = {
        Role.ADMIN: _("Administrator"),
        Role.PUBLISHER: _("Publisher"),
        Role.EDITOR: _("Editor"),
        Role.REVIEWER: _("Reviewer"),
    }
    return labels.get(role, role)
