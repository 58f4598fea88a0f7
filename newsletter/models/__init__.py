"""Database models, one module per aggregate."""

from newsletter.models.consent import ConsentEvent, ImportDraft, Suppression
from newsletter.models.delivery import Delivery, OutboundMessage
from newsletter.models.editor import Editor
from newsletter.models.issue import Issue, Item, Link, Theme
from newsletter.models.send_rate import SendRate
from newsletter.models.states import (
    ConsentKind,
    DeliveryStatus,
    IssueStatus,
    MessageStatus,
    SubscriberStatus,
)
from newsletter.models.subscriber import (
    LinkRequest,
    PendingSignUp,
    Subscriber,
    subscriber_theme,
)

__all__ = [
    "ConsentEvent",
    "ConsentKind",
    "ImportDraft",
    "Suppression",
    "Delivery",
    "DeliveryStatus",
    "Editor",
    "Issue",
    "IssueStatus",
    "Item",
    "Link",
    "LinkRequest",
    "MessageStatus",
    "OutboundMessage",
    "PendingSignUp",
    "SendRate",
    "Subscriber",
    "SubscriberStatus",
    "Theme",
    "subscriber_theme",
]
