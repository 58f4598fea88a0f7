"""Running link checks: the worker's duty and the command's run share this boundary.

The network part runs outside any transaction; only reading what is due and
recording the outcomes touch the database, each committed here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from newsletter.config import Settings, settings
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus
from newsletter.models.types import utcnow
from newsletter.services import links

log = logging.getLogger(__name__)


def check_and_record(urls: Sequence[str], config: Settings | None = None) -> list[str]:
    """Check addresses, record and commit the outcomes; return those that broke."""
    config = config or settings()
    db.session.commit()  # no transaction stays open while the network is slow
    results = links.check_urls(
        urls,
        config.link_check_timeout,
        config.link_check_per_host,
        config.allow_private_fetches,
    )
    try:
        broken = links.record(results, utcnow())
        db.session.commit()
    except IntegrityError:
        # Another worker recorded one of these addresses a moment ago: ours is as
        # fresh, so record again over its rows.
        db.session.rollback()
        broken = links.record(results, utcnow())
        db.session.commit()
    return broken


class LinkCheckDuty:
    """A worker's duty: check the due links of draft and scheduled issues every
    LINK_CHECK_EVERY_SECONDS (sooner while a backlog remains)."""

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.every = timedelta(seconds=config.link_check_every_seconds)
        self.next_at: datetime | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> LinkCheckDuty | None:
        """Return the duty unless LINK_CHECK_EVERY_SECONDS is 0."""
        return cls(config) if config.link_check_every_seconds > 0 else None

    def check_when_due(self, now: datetime) -> bool:
        """Check one round of due links if it is time; return whether any were."""
        if self.next_at is not None and now < self.next_at:
            return False
        urls = links.pending(now)
        more = len(urls) >= links.ROUND_LIMIT
        self.next_at = now if more else now + self.every
        if not urls:
            return False
        broken = check_and_record(urls, self.config)
        log.info("checked %d links, %d newly broken", len(urls), len(broken))
        return True


links_cli = AppGroup("links", help="Check the web addresses issues link to.")


def _table(states: Sequence[links.LinkState]) -> None:
    """Print one line per address: URL, outcome, status, final address."""
    click.echo(f"{'URL':60} {'OUTCOME':11} {'STATUS':6} FINAL ADDRESS")
    for state in states:
        check = state.check
        outcome = check.outcome.value if check else "unchecked"
        status = str(check.http_status or "-") if check else "-"
        final = (check.final_url or links.reason_text(check.reason)) if check else ""
        click.echo(f"{state.url:60} {outcome:11} {status:6} {final}")


@links_cli.command("check")
@click.argument("slug", required=False)
def check_links_command(slug: str | None) -> None:
    """Check an issue's links and print them all; without SLUG, check the published
    archive and print what broke since the last run. Addresses checked within the
    hour are not checked again."""
    if slug:
        issue = db.session.scalar(select(Issue).where(Issue.slug == slug))
        if issue is None:
            raise click.ClickException(f"no issue with the slug {slug!r}")
        urls = links.issue_urls(issue)
    else:
        urls = links.urls_of_issues([IssueStatus.SENT])
    broken = check_and_record(links.due(urls, utcnow()))
    if slug:
        _table(links.states_of(urls))
        return
    click.echo(f"Checked the archive's {len(urls)} links; {len(broken)} broke since "
               "the last run.")  # fmt: skip
    if broken:
        _table(links.states_of(broken))
