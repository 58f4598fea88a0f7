"""Database models, one module per aggregate."""

from newsletter.models.api_key import ApiKey
from newsletter.models.audit import AuditEvent
from newsletter.models.bounce import Bounce, BounceKind
from newsletter.models.consent import ConsentEvent, ImportDraft, Suppression
from newsletter.models.contact import Contact
from newsletter.models.contribution import (
    ContributionLink,
    ContributionReminder,
    Proposal,
    ProposalLink,
)
from newsletter.models.delivery import Delivery, OutboundMessage
from newsletter.models.editor import Editor
from newsletter.models.issue import (
    Issue,
    IssuePdf,
    Item,
    Link,
    SectionContact,
    Theme,
)
from newsletter.models.link_check import LinkCheck, LinkOutcome
from newsletter.models.rate_limit import RateLimitCounter
from newsletter.models.review import Comment, Correction, Revision, Setting
from newsletter.models.search import SearchDocument
from newsletter.models.send_rate import SendRate
from newsletter.models.states import (
    ConsentKind,
    DeliveryStatus,
    IssueStatus,
    MessageStatus,
    ProposalStatus,
    Role,
    SubscriberStatus,
)
from newsletter.models.subscriber import (
    LinkRequest,
    PendingSignUp,
    Subscriber,
    subscriber_theme,
)
from newsletter.models.worker import WorkerHeartbeat

__all__ = [
    "ApiKey",
    "IssuePdf",
    "Role",
    "Comment",
    "Correction",
    "Revision",
    "Setting",
    "AuditEvent",
    "ContributionLink",
    "ContributionReminder",
    "Proposal",
    "ProposalLink",
    "ProposalStatus",
    "Bounce",
    "BounceKind",
    "ConsentEvent",
    "Contact",
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
    "LinkCheck",
    "LinkOutcome",
    "LinkRequest",
    "MessageStatus",
    "OutboundMessage",
    "PendingSignUp",
    "RateLimitCounter",
    "SectionContact",
    "SendRate",
    "Subscriber",
    "SubscriberStatus",
    "Theme",
    "WorkerHeartbeat",
    "SearchDocument",
    "subscriber_theme",
]
