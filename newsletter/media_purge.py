"""Removing stored media that nothing refers to: the worker's daily duty and the
`flask media purge` command.

A photo removed from an item, a replaced logo or a superseded PDF edition would
otherwise stay reachable under /media/ for anyone who kept its address.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup

from newsletter.config import Settings
from newsletter.database import is_database_outage
from newsletter.extensions import db
from newsletter.models.types import utcnow
from newsletter.services import audit, media

log = logging.getLogger(__name__)


def purge_and_record(
    now: datetime, actor: audit.Actor | None = None, dry_run: bool = False
) -> media.PurgeReport:
    """Purge MEDIA_PATH; when files went, record how many and commit."""
    report = media.purge(now, dry_run=dry_run)
    if report.files and not dry_run:
        audit.record(
            "media.purged",
            "media",
            None,
            "",
            {"files": [None, report.files], "bytes": [None, report.bytes]},
            actor=actor,
        )
        db.session.commit()
    return report


class MediaPurgeDuty:
    """A worker's duty: every MEDIA_PURGE_EVERY_SECONDS (first at its start),
    remove stored media that nothing refers to."""

    def __init__(self, config: Settings) -> None:
        self.every = timedelta(seconds=config.media_purge_every_seconds)
        self.next_at: datetime | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> MediaPurgeDuty | None:
        """Return the duty unless MEDIA_PURGE_EVERY_SECONDS is 0."""
        return cls(config) if config.media_purge_every_seconds > 0 else None

    def purge_when_due(self, now: datetime) -> bool:
        """Purge if it is time; return whether files were removed. A failure is
        logged and tried again at the next turn; it never stops sending."""
        if self.next_at is not None and now < self.next_at:
            return False
        self.next_at = now + self.every
        try:
            report = purge_and_record(now, actor=audit.WORKER)
        except Exception as exc:  # noqa: BLE001 - a purge never stops sending
            db.session.rollback()
            if is_database_outage(exc):
                log.debug("media not purged: %s", exc)
            else:
                log.exception("purging media failed; trying again later")
            return False
        if report.files:
            log.info(
                "removed %d unused media files (%d bytes): %s",
                report.files,
                report.bytes,
                ", ".join(name for name, _size in report.removed),
            )
        return bool(report.files)


media_cli = AppGroup("media", help="Stored images and PDF editions.")


@media_cli.command("purge")
@click.option(
    "--dry-run", is_flag=True, help="Only list what would be removed; change nothing."
)
def purge_command(dry_run: bool) -> None:
    """Remove images and PDF files that no item, revision, logo or PDF edition
    refers to any more (files younger than a day stay: an upload may wait in an
    open form)."""
    report = purge_and_record(utcnow(), dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for name, size in report.removed:
        click.echo(f"{verb} {name} ({size} bytes)")
    click.echo(
        f"{'Would remove' if dry_run else 'Removed'} {report.files} file(s), "
        f"{report.bytes} bytes."
    )
