"""Building PDF editions: the worker's duty and the `flask pdf build` command.

Both build one issue at a time and commit its row at once. A failed build is
logged and tried again later (backing off per issue); it never stops sending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from newsletter.config import Settings
from newsletter.database import is_database_outage
from newsletter.extensions import db
from newsletter.models import Issue, IssuePdf
from newsletter.models.types import utcnow
from newsletter.services import archive, audit, media, pdf

log = logging.getLogger(__name__)

# A failed build waits this long before it is tried again, doubling to the cap.
RETRY_FIRST = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)


def build_edition(issue: Issue, actor: audit.Actor | None = None) -> IssuePdf | None:
    """Build an issue's PDF, record its row and an audit entry, and commit; the
    file it replaces is removed. None when the issue changed while it was being
    built (a correction, an erased picture): that PDF is thrown away and the next
    round builds the issue again."""
    previous = pdf.edition(issue.id)
    old_file, old_stamp = (
        (previous.filename, previous.stamp) if previous else (None, None)
    )
    built = pdf.write(issue)
    db.session.rollback()  # read the issue as it is now, not as the build began
    if db.session.get(Issue, built.issue_id) is None or pdf.stamp(issue) != built.stamp:
        if not db.session.scalar(
            select(IssuePdf.issue_id).where(IssuePdf.filename == built.filename)
        ):
            (media.media_path() / built.filename).unlink(missing_ok=True)
        return None
    row = pdf.record(built, utcnow())
    audit.record(
        "issue.pdf_built",
        "issue",
        issue.id,
        issue.title,
        {"stamp": [old_stamp, built.stamp], "size": [None, built.size]},
        actor=actor,
    )
    db.session.commit()
    if old_file and old_file != built.filename:
        (media.media_path() / old_file).unlink(missing_ok=True)
    return row


@dataclass
class Failure:
    """A build that failed: of which stamp, how often, when to try again."""

    stamp: str
    attempts: int
    retry_at: datetime


class PdfDuty:
    """A worker's duty: every PDF_EVERY_SECONDS, build the missing or stale PDF
    editions of published issues, one per round while a backlog remains."""

    def __init__(self, config: Settings) -> None:
        self.every = timedelta(seconds=config.pdf_every_seconds)
        self.next_at: datetime | None = None
        self.failures: dict[int, Failure] = {}

    @classmethod
    def from_settings(cls, config: Settings) -> PdfDuty | None:
        """Return the duty unless PDF_EVERY_SECONDS is 0."""
        return cls(config) if config.pdf_every_seconds > 0 else None

    def build_when_due(self, now: datetime) -> bool:
        """Build one due PDF if it is time; return whether one was built."""
        if self.next_at is not None and now < self.next_at:
            return False
        self.next_at = now + self.every
        issue: Issue | None = None
        try:
            issue = next((i for i in pdf.due_issues() if self._may_try(i, now)), None)
            if issue is None:
                return False
            if build_edition(issue, actor=audit.WORKER) is None:
                return False  # changed meanwhile: built again next round
        except IntegrityError:
            db.session.rollback()  # another worker recorded it a moment ago
            return False
        except Exception as exc:  # noqa: BLE001 - PDFs never stop sending
            db.session.rollback()
            if is_database_outage(exc):
                log.debug("no PDF built: %s", exc)
            elif issue is not None:
                self._failed(issue, now)
                log.exception(
                    "the PDF of issue %s failed; trying again later", issue.id
                )
            return False
        self.failures.pop(issue.id, None)
        log.info("built the PDF edition of issue %s", issue.id)
        self.next_at = now  # more may be due: look again next round
        return True

    def _may_try(self, issue: Issue, now: datetime) -> bool:
        """Whether a due issue may be built now (not waiting after a failure)."""
        failure = self.failures.get(issue.id)
        return failure is None or (
            failure.stamp != pdf.stamp(issue) or now >= failure.retry_at
        )

    def _failed(self, issue: Issue, now: datetime) -> None:
        """Note a failed build; wait longer after each one of the same stamp."""
        current = pdf.stamp(issue)
        failure = self.failures.get(issue.id)
        attempts = failure.attempts + 1 if failure and failure.stamp == current else 1
        wait = min(RETRY_FIRST * 2 ** (attempts - 1), RETRY_CAP)
        self.failures[issue.id] = Failure(current, attempts, now + wait)


pdf_cli = AppGroup("pdf", help="Build the PDF editions of published issues.")


@pdf_cli.command("build")
@click.argument("slug", required=False)
@click.option(
    "--all", "everything", is_flag=True, help="Build every published issue's PDF."
)
def build_command(slug: str | None, everything: bool) -> None:
    """Build the PDF of the published issue SLUG (even when it is current); without
    SLUG, build those missing or stale; with --all, build them all again."""
    if slug and everything:
        raise click.UsageError("give SLUG or --all, not both")
    if slug:
        issue = archive.published_issue(slug)
        if issue is None:
            raise click.ClickException(f"no published issue with the slug {slug!r}")
        chosen = [issue]
    elif everything:
        chosen = list(db.session.scalars(archive.published()))
    else:
        chosen = pdf.due_issues()
    if not chosen:
        click.echo("Every published issue's PDF is up to date.")
    for issue in chosen:
        slug = issue.slug
        row = build_edition(issue)
        if row is None:
            click.echo(f"{slug}: changed while it was built; run the command again")
        else:
            click.echo(f"{slug}: {row.size // 1024} kB ({row.filename})")
