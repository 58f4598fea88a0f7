"""Names of statuses and events in the reader's language, for pages, emails and the
command line alike: one place to look a label up or to translate it."""

from __future__ import annotations

from flask_babel import gettext as _

from newsletter.services.sending import SKIPPED_CANCELLED, SKIPPED_NO_THEMES


def status_label(status: str) -> str:
    """Return the translated name of an issue status."""
    labels = {
        "draft": _("Draft"),
        "scheduled": _("Scheduled"),
        "sending": _("Sending"),
        "paused": _("Paused"),
        "sent": _("Sent"),
        "cancelled": _("Cancelled"),
    }
    return labels.get(status, status)


def subscriber_status(status: str) -> str:
    """Return the translated name of a subscriber status."""
    labels = {
        "pending": _("Awaiting confirmation"),
        "confirmed": _("Confirmed"),
        "unsubscribed": _("Unsubscribed"),
        "bounced": _("Bounced"),
    }
    return labels.get(status, status)


def delivery_status(status: str) -> str:
    """Return the translated name of a delivery status."""
    labels = {
        "queued": _("Queued"),
        "sending": _("Sending"),
        "sent": _("Sent"),
        "failed": _("Failed"),
        "skipped": _("Skipped"),
    }
    return labels.get(status, status)


def delivery_error(error: str | None) -> str:
    """Translate the reasons the service itself records; SMTP replies stay as sent."""
    labels = {
        SKIPPED_NO_THEMES: _("None of the subscriber's themes has items in the issue."),
        SKIPPED_CANCELLED: _("The send was cancelled."),
    }
    return labels.get(error or "", error or "")


def consent_how(how: str | None) -> str:
    """Translate how a consent event came about; names stay as recorded."""
    labels = {
        "web form": _("web form"),
        "confirmation link": _("confirmation link"),
        "new link": _("new confirmation link"),
        "preference page": _("preference page"),
        "unsubscribe page": _("unsubscribe page"),
        "one-click (RFC 8058)": _("one-click unsubscribe in the email program"),
        "command line": _("command line"),
        "attested by the editor": _("attested by the editor"),
        "confirmation sent": _("confirmation email sent"),
    }
    how = how or ""
    if how.startswith("editor "):
        return _("editor %(name)s", name=how.removeprefix("editor "))
    if how.startswith("import by "):
        return _("import by %(name)s", name=how.removeprefix("import by "))
    return labels.get(how, how)


def language_name(code: str | None) -> str:
    """A language by its own name, as language menus show them."""
    return {"sv": "Svenska", "en": "English"}.get(code or "", code or "")


def consent_kind(kind: str) -> str:
    """Return the translated name of a consent event."""
    labels = {
        "requested": _("Asked to subscribe"),
        "confirmed": _("Confirmed"),
        "preferences_changed": _("Changed preferences"),
        "unsubscribed": _("Unsubscribed"),
        "imported": _("Imported"),
    }
    return labels.get(kind, kind)
