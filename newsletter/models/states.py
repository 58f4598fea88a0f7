"""The states of every stateful row, and the moves allowed between them.

Each status column holds a StrEnum. Each lifecycle is written once, as a table: the
states a new row may start in and, for every state, the states it may move to.
Code that changes a status declares a named Step (from these states to that one),
which is checked against the table when its module is imported, and changes a
loaded row only through `move`. Set-based statements (claims, fan-out, cancelling)
put a Step's sources and target into their WHERE and SET clauses, so they obey the
same table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from newsletter.errors import InvalidState


class IssueStatus(StrEnum):
    """Where an issue is on its way from draft to sent."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    """Where one subscriber's copy of an issue is in the queue."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class MessageStatus(StrEnum):
    """Where a transactional email is in the queue."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class SubscriberStatus(StrEnum):
    """Whether a person receives issues (only confirmed people do)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class Role(StrEnum):
    """What an account may do; each route names the roles it admits."""

    ADMIN = "admin"  # accounts, themes, settings, everything
    PUBLISHER = "publisher"  # approves, sends and schedules
    EDITOR = "editor"  # composes, accepts proposals, asks for review
    REVIEWER = "reviewer"  # reads drafts and previews, comments


class ProposalStatus(StrEnum):
    """Where an item proposed by a partner is on its way into an issue."""

    NEW = "new"  # waiting for an editor; the proposer may still change it
    RETURNED = "returned"  # an editor asked for changes
    ACCEPTED = "accepted"  # placed as an item in an issue
    DECLINED = "declined"


class ConsentKind(StrEnum):
    """What a consent event records; events are appended, never changed."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    PREFERENCES_CHANGED = "preferences_changed"
    UNSUBSCRIBED = "unsubscribed"
    IMPORTED = "imported"
    # Reported our mail as spam (an ARF report from the mailbox provider): taken
    # off the list at once.
    COMPLAINT = "complaint"


S = TypeVar("S", bound=StrEnum)


class Lifecycle(Generic[S]):
    """A status enum, the states a new row starts in, and the moves from each."""

    def __init__(
        self, states: type[S], start: Iterable[S], moves: Mapping[S, Iterable[S]]
    ) -> None:
        self.states = states
        self.start = frozenset(start)
        if set(moves) != set(states):
            raise ValueError(f"the table of {states.__name__} must list every state")
        self.moves = {state: frozenset(targets) for state, targets in moves.items()}

    def allows(self, current: str | None, wanted: str) -> bool:
        """Return whether the table has this move (current None: a new row)."""
        if current is None:
            return wanted in self.start
        return wanted in self.moves[self.states(current)]

    def step(self, *sources: S, to: S) -> Step[S]:
        """Declare a move from any of the sources (none: a new row) to a state.

        Raises InvalidState for a move the table does not have, so that a wrong
        declaration fails when its module is imported.
        """
        for source in sources or (None,):
            if not self.allows(source, to):
                raise InvalidState(source, to)
        return Step(sources, to)


@dataclass(frozen=True)
class Step(Generic[S]):
    """A declared move: from any of `sources` (empty: a new row) to `target`."""

    sources: tuple[S, ...]
    target: S

    @property
    def source(self) -> S:
        """The one state this step starts from (for a statement that needs one)."""
        (only,) = self.sources
        return only

    def check(self, current: str | None) -> None:
        """Refuse the move for a row in a state it does not start from."""
        allowed = current in self.sources if self.sources else current is None
        if not allowed:
            raise InvalidState(current, self.target)


class Stateful(Protocol):
    """A row with a status column."""

    status: Any


def move(row: Stateful, step: Step[S]) -> None:
    """Change a loaded row's status by a declared step, or raise InvalidState."""
    step.check(row.status)
    row.status = step.target


_I = IssueStatus
ISSUES = Lifecycle(
    IssueStatus,
    start={_I.DRAFT},
    moves={
        _I.DRAFT: {_I.SCHEDULED, _I.SENDING},
        # Scheduled again is a new time.
        _I.SCHEDULED: {_I.SCHEDULED, _I.DRAFT, _I.SENDING, _I.CANCELLED},
        _I.SENDING: {_I.PAUSED, _I.SENT, _I.CANCELLED},
        _I.PAUSED: {_I.SENDING, _I.CANCELLED},
        # Sending again when its failed deliveries are queued again.
        _I.SENT: {_I.SENDING},
        _I.CANCELLED: set(),
    },
)

_D = DeliveryStatus
DELIVERIES = Lifecycle(
    DeliveryStatus,
    # Fan-out writes a row for every confirmed subscriber; those who chose none of
    # the issue's themes start skipped.
    start={_D.QUEUED, _D.SKIPPED},
    moves={
        _D.QUEUED: {_D.SENDING, _D.SKIPPED},
        # Sending again: claimed by another worker once the lease ran out.
        # Queued again: a transient failure, or a claim given back at shutdown.
        _D.SENDING: {_D.SENDING, _D.SENT, _D.QUEUED, _D.FAILED, _D.SKIPPED},
        _D.FAILED: {_D.QUEUED},
        _D.SENT: set(),
        _D.SKIPPED: set(),
    },
)

_M = MessageStatus
MESSAGES = Lifecycle(
    MessageStatus,
    start={_M.QUEUED},
    moves={
        _M.QUEUED: {_M.SENDING},
        _M.SENDING: {_M.SENDING, _M.SENT, _M.QUEUED, _M.FAILED},
        _M.FAILED: set(),
        _M.SENT: set(),
    },
)

_P = SubscriberStatus
SUBSCRIBERS = Lifecycle(
    SubscriberStatus,
    # Pending: a sign-up or an import without consent; confirmed: an attested import.
    start={_P.PENDING, _P.CONFIRMED},
    moves={
        _P.PENDING: {_P.CONFIRMED, _P.UNSUBSCRIBED},
        _P.CONFIRMED: {_P.UNSUBSCRIBED, _P.BOUNCED},
        # A returning person confirms a new sign-up.
        _P.UNSUBSCRIBED: {_P.CONFIRMED},
        _P.BOUNCED: {_P.CONFIRMED, _P.UNSUBSCRIBED},
    },
)

_R = ProposalStatus
PROPOSALS = Lifecycle(
    ProposalStatus,
    start={_R.NEW},
    moves={
        # New again: the proposer changed it before an editor took it up.
        _R.NEW: {_R.NEW, _R.RETURNED, _R.ACCEPTED, _R.DECLINED},
        # New again: the proposer sent the changes that were asked for.
        _R.RETURNED: {_R.NEW, _R.ACCEPTED, _R.DECLINED},
        _R.ACCEPTED: set(),
        _R.DECLINED: set(),
    },
)
