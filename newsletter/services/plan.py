"""The quarterly plan: when issues come out and until when partners may propose."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from string import Formatter
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from sqlalchemy import func, select

from newsletter.errors import DomainError
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, Proposal, ProposalStatus
from newsletter.models.issue import EDITABLE
from newsletter.services import audit
from newsletter.services.issues import create_issue

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local_day(moment: datetime) -> date:
    """Return the day in Stockholm of a UTC moment."""
    return moment.astimezone(STOCKHOLM).date()


def deadline_end(deadline: date) -> datetime:
    """Return the UTC moment a contribution deadline ends (midnight after it)."""
    midnight = datetime.combine(deadline + timedelta(days=1), time(), STOCKHOLM)
    return midnight.astimezone(ZoneInfo("UTC"))


def is_late(issue: Issue | None, now: datetime) -> bool:
    """Whether a proposal sent now for this issue comes after its deadline."""
    if issue is None or issue.contribution_deadline is None:
        return False
    return now >= deadline_end(issue.contribution_deadline)


def next_planned_issue(now: datetime) -> Issue | None:
    """Return the issue partners propose for now: the earliest planned issue
    that is still being made and not yet due, or None without a plan."""
    return db.session.scalar(
        select(Issue)
        .where(
            Issue.status.in_(EDITABLE),
            Issue.publish_on.is_not(None),
            Issue.publish_on >= local_day(now),
        )
        .order_by(Issue.publish_on, Issue.id)
        .limit(1)
    )


# Sent and cancelled issues are done with; the others are still on their way out.
FINISHED = (IssueStatus.SENT, IssueStatus.CANCELLED)


def day_out(issue: Issue) -> date | None:
    """The day an issue goes (or went) out: scheduled, started, else planned."""
    moment = issue.scheduled_at or issue.published_at
    return local_day(moment) if moment is not None else issue.publish_on


def in_working_order(issues: Iterable[Issue]) -> list[Issue]:
    """Order issues as editors work through them: those not yet sent by the day
    they go out, soonest first (undated ones last, newest first), then the sent
    and cancelled ones, most recent first."""
    issues = list(issues)
    waiting = [issue for issue in issues if issue.status not in FINISHED]
    done = [issue for issue in issues if issue.status in FINISHED]
    waiting.sort(key=lambda issue: (issue.created_at, issue.id), reverse=True)
    waiting.sort(key=lambda issue: day_out(issue) or date.max)  # stable
    done.sort(
        key=lambda issue: (issue.published_at or issue.updated_at, issue.id),
        reverse=True,
    )
    return waiting + done


# The year's plan -------------------------------------------------------------

DEFAULT_PATTERN = "Nyhetsbrev {månad} {år}"
DEFAULT_MONTHS = (3, 6, 9, 12)
DEFAULT_PUBLISH_DAY = 15
DEFAULT_DEADLINE_DAYS = 21
# A pattern's placeholders: Swedish and English names for the same two values.
PLACEHOLDERS = frozenset({"månad", "år", "month", "year"})
# Proposals that count as received: a declined one is no longer in the running.
RECEIVED = (ProposalStatus.NEW, ProposalStatus.RETURNED, ProposalStatus.ACCEPTED)


class BadPattern(DomainError):
    """A title pattern names a placeholder we do not know, or is malformed."""

    def __init__(self, placeholder: str | None) -> None:
        super().__init__(f"unknown placeholder {placeholder!r}")
        self.placeholder = placeholder


@dataclass(frozen=True)
class PlannedIssue:
    """One issue of a year's plan, with the proposals it received so far."""

    issue: Issue
    new_proposals: int
    proposals: int
    deadline_passed: bool


@dataclass(frozen=True)
class YearPlan:
    """What creating a year's plan did: the issues made and the months skipped."""

    created: list[Issue]
    skipped: list[date]  # the first day of each month that already had an issue


def month_name(month: int) -> str:
    """Return a month's Swedish name in lower case: 3 -> "mars"."""
    return str(get_month_names("wide", locale="sv")[month]).lower()


def check_pattern(pattern: str) -> None:
    """Refuse a title pattern with an unknown placeholder or unpaired braces."""
    try:
        fields = [
            name for _, name, _, _ in Formatter().parse(pattern) if name is not None
        ]
    except ValueError:
        raise BadPattern(None) from None
    for name in fields:
        if name not in PLACEHOLDERS:
            raise BadPattern(name)


def title_for(pattern: str, month: int, year: int) -> str:
    """Fill a title pattern: "Nyhetsbrev {månad} {år}" -> "Nyhetsbrev mars 2027"."""
    check_pattern(pattern)
    name = month_name(month)
    values = {"månad": name, "month": name, "år": str(year), "year": str(year)}
    return pattern.format_map(values)


def publication_day(year: int, month: int, day: int) -> date:
    """Return the day in a month, the month's last day when it is shorter."""
    return date(year, month, min(day, monthrange(year, month)[1]))


def year_plan(year: int, now: datetime) -> list[PlannedIssue]:
    """Return the issues planned to come out in a year, with their proposal counts."""
    planned = db.session.scalars(
        select(Issue)
        .where(Issue.publish_on.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(Issue.publish_on, Issue.id)
    ).all()
    counts: dict[tuple[int | None, ProposalStatus], int] = {}
    if planned:
        rows = db.session.execute(
            select(Proposal.issue_id, Proposal.status, func.count())
            .where(
                Proposal.issue_id.in_([i.id for i in planned]),
                Proposal.status.in_(RECEIVED),
            )
            .group_by(Proposal.issue_id, Proposal.status)
        )
        counts = {(issue_id, status): n for issue_id, status, n in rows}
    return [
        PlannedIssue(
            issue=issue,
            new_proposals=counts.get((issue.id, ProposalStatus.NEW), 0),
            proposals=sum(counts.get((issue.id, s), 0) for s in RECEIVED),
            deadline_passed=is_late(issue, now),
        )
        for issue in planned
    ]


def _planned_months(year: int) -> set[int]:
    """Return the months of a year that already have an issue planned in them."""
    days = db.session.scalars(
        select(Issue.publish_on).where(
            Issue.publish_on.between(date(year, 1, 1), date(year, 12, 31)),
            Issue.status != IssueStatus.CANCELLED,
        )
    )
    return {day.month for day in days if day is not None}


def create_year_plan(
    year: int,
    months: Iterable[int],
    pattern: str,
    publish_day: int,
    deadline_days: int,
    editor: str,
) -> YearPlan:
    """Create one draft issue per chosen month that has none planned yet.

    The pattern is checked before anything is written, so a bad one creates
    nothing. Each issue comes out on publish_day (or the month's last day) and
    takes proposals until deadline_days before that.
    """
    check_pattern(pattern)
    taken = _planned_months(year)
    created: list[Issue] = []
    skipped: list[date] = []
    for month in sorted(set(months)):
        if month in taken:
            skipped.append(date(year, month, 1))
            continue
        publish_on = publication_day(year, month, publish_day)
        issue = create_issue(title_for(pattern, month, year), "", "", "", editor)
        set_plan(issue, publish_on, publish_on - timedelta(days=deadline_days))
        created.append(issue)
    return YearPlan(created, skipped)


def set_plan(
    issue: Issue, publish_on: date | None, contribution_deadline: date | None
) -> None:
    """Set an issue's publication date and deadline, recording any change."""
    before = {
        "publish_on": issue.publish_on,
        "contribution_deadline": issue.contribution_deadline,
    }
    after = {"publish_on": publish_on, "contribution_deadline": contribution_deadline}
    change = audit.changes(before, after)
    if not change:
        return
    issue.publish_on = publish_on
    issue.contribution_deadline = contribution_deadline
    if issue.id is None:
        db.session.flush()  # a new issue needs its id for the record
    audit.record("issue.planned", "issue", issue.id, issue.title, change)
