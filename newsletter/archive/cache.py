"""Rendered archive pages and feeds, kept per process until the archive changes.

Every public archive response depends only on published issues (frozen once sent),
the themes and the organisation's identity (names, logo, colour, footer). Three
small queries give a stamp of that state; a rendered body is
reused while the stamp, the URL and the language stay the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import NamedTuple

from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import Issue, IssuePdf, Theme
from newsletter.models.review import Setting
from newsletter.services.archive import PUBLIC
from newsletter.services.identity import IDENTITY


@dataclass(frozen=True)
class Rendered:
    """A body with its validators."""

    body: str
    etag: str
    last_modified: datetime | None


class Stamp(NamedTuple):
    """The state of the archive: when it last changed, and everything it shows."""

    changed: datetime | None
    state: tuple[object, ...]


def archive_stamp() -> Stamp:
    """What every archive page is built from, in three cheap queries."""
    published, updated, count, versions = db.session.execute(
        select(
            func.max(Issue.published_at),
            func.max(Issue.updated_at),
            func.count(Issue.id),
            func.sum(Issue.version),
        ).where(PUBLIC)
    ).one()
    themes = tuple(
        db.session.execute(
            select(
                Theme.updated_at,
                Theme.id,
                Theme.slug,
                Theme.name,
                Theme.description,
                Theme.position,
            )
        ).all()
    )
    # Issue pages link their PDF edition (with its size) once a worker built it.
    editions, built = db.session.execute(
        select(func.count(IssuePdf.issue_id), func.max(IssuePdf.built_at))
    ).one()
    look = db.session.execute(
        select(Setting.updated_at, Setting.value).where(Setting.key == IDENTITY)
    ).one_or_none()
    identity_changed, identity_value = look if look is not None else (None, None)
    # The value itself, not only the time: two saves within a clock tick differ.
    shown = json.dumps(identity_value, sort_keys=True)
    times = [
        t
        for t in (
            published,
            updated,
            built,
            identity_changed,
            *(row[0] for row in themes),
        )
        if t
    ]
    return Stamp(
        max(times, default=None), (count, versions, editions, built, themes, shown)
    )


class PageCache:
    """A small least-recently-used cache of rendered archive responses."""

    def __init__(self, size: int = 256, stamp_seconds: float = 1.0) -> None:
        self.size = size
        self.items: OrderedDict[tuple[object, ...], Rendered] = OrderedDict()
        self.lock = Lock()
        # The stamp itself is reused this long, so that busy moments cost no query;
        # a newly published issue shows up at most this much later.
        self.stamp_seconds = stamp_seconds
        self.stamp: Stamp | None = None
        self.stamp_taken = 0.0

    def current_stamp(self) -> Stamp:
        """Return the archive stamp, asking the database at most once a period."""
        now = time.monotonic()
        if self.stamp is None or now - self.stamp_taken >= self.stamp_seconds:
            self.stamp = archive_stamp()
            self.stamp_taken = now
        return self.stamp

    def get(self, key: tuple[object, ...], render: Callable[[], str]) -> Rendered:
        """Return the cached rendering for key, rendering it on a miss."""
        stamp = self.current_stamp()
        full_key = (*key, stamp)
        with self.lock:
            found = self.items.get(full_key)
            if found is not None:
                self.items.move_to_end(full_key)
                return found
        body = render()
        digest = hashlib.sha256(repr(full_key).encode() + body.encode()).hexdigest()
        rendered = Rendered(body, digest[:24], stamp.changed)
        with self.lock:
            self.items[full_key] = rendered
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return rendered
