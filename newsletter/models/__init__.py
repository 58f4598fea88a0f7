"""Database models, one module per aggregate."""

from newsletter.models.consent import (
    CONSENT_KINDS,
    ConsentEvent,
    ImportDraft,
    Suppression,
)
from newsletter.models.delivery import (
    DELIVERY_STATUSES,
    MESSAGE_STATUSES,
    Delivery,
    OutboundMessage,
)
from newsletter.models.editor import Editor
from newsletter.models.issue import ISSUE_STATUSES, Issue, Item, Link, Theme
from newsletter.models.subscriber import (
    SUBSCRIBER_STATUSES,
    LinkRequest,
    PendingSignUp,
    Subscriber,
    subscriber_theme,
)

__all__ = [
    "CONSENT_KINDS",
    "ConsentEvent",
    "ImportDraft",
    "Suppression",
    "DELIVERY_STATUSES",
    "ISSUE_STATUSES",
    "MESSAGE_STATUSES",
    "SUBSCRIBER_STATUSES",
    "Delivery",
    "Editor",
    "Issue",
    "Item",
    "Link",
    "LinkRequest",
    "OutboundMessage",
    "PendingSignUp",
    "Subscriber",
    "Theme",
    "subscriber_theme",
]
