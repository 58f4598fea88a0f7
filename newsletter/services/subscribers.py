"""Subscribers: normalising addresses and names, listing, counting, exporting."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

import idna
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, case, func, or_, select

from newsletter.extensions import db
from newsletter.models import (
    Delivery,
    Issue,
    Subscriber,
    SubscriberStatus,
    Theme,
    subscriber_theme,
)
from newsletter.models.types import utcnow

CSV_HEADER = ("email", "name", "themes")
Columns = TypeVarTuple("Columns")
MAX_NAME = 120


class InvalidAddress(ValueError):
    """Not a usable email address."""


def normalise_address(raw: str) -> str:
    """Return a syntactically valid address, lower-cased, its domain in ASCII, or raise.

    An internationalised domain is kept in its ASCII (IDNA) form, which every mail
    server accepts; pages show it in Unicode again (display_address). A local part
    beyond ASCII stays as typed and is sent with SMTPUTF8.
    """
    address = raw.strip()
    return _plain_address(address) or _validated_address(address)


def _validated_address(address: str) -> str:
    """Normalise an address with the full validation of email_validator."""
    try:
        result = validate_email(
            address, check_deliverability=False, allow_smtputf8=True
        )
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"


# email_validator spends most of its time on the domain, and an import file holds
# a few domains many times: a plain ASCII address (an RFC 5322 dot-atom before the
# @, letters, digits, dots and hyphens after it) is checked with its domain's
# cached result and the same length limit; everything else takes the full path.
ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+"
PLAIN_ADDRESS = re.compile(rf"({ATEXT}(?:\.{ATEXT})*)@([a-zA-Z0-9.\-]+)\Z")
MAX_ADDRESS = 254  # octets, counted as email_validator counts them


def _plain_address(address: str) -> str | None:
    """Normalise a plain ASCII address quickly; None when it needs the full path."""
    match = PLAIN_ADDRESS.match(address)
    if match is None:
        return None
    local, domain = match.groups()
    forms = _domain_forms(domain)
    if forms is None or len(local) + 1 + forms[1] > MAX_ADDRESS:
        return None
    return f"{local.lower()}@{forms[0]}"


@functools.lru_cache(maxsize=4096)
def _domain_forms(domain: str) -> tuple[str, int] | None:
    """The normalised ASCII form of a valid domain and the most octets any of its
    forms (as typed, Unicode, ASCII) adds to an address's length; None if invalid."""
    try:
        result = validate_email(
            f"a@{domain}", check_deliverability=False, allow_smtputf8=True
        )
    except EmailNotValidError:
        return None
    forms = (domain, result.domain, result.ascii_domain)
    return result.ascii_domain.lower(), max(len(form.encode()) for form in forms)


def display_address(address: str) -> str:
    """Return a stored address as people write it: its domain in Unicode."""
    local, at, domain = address.rpartition("@")
    if "xn--" not in domain:
        return address
    try:
        return f"{local}{at}{idna.decode(domain)}"
    except idna.IDNAError:
        return address


# Invisible characters that change how the text around them is shown: the bidi
# embeddings, overrides, isolates and marks (a name could display as an address).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def normalise_name(raw: str) -> str:
    """Return a person's name on one line, without control or bidi characters."""
    if raw.isprintable():  # no control, format (bidi) or separator characters
        return " ".join(raw.split())
    kept = "".join(
        char
        for char in raw
        # Breaks and tabs (also U+2028, U+2029) are spaces; other controls go.
        if char.isspace()
        or (unicodedata.category(char) != "Cc" and char not in BIDI_CONTROLS)
    )
    return " ".join(kept.split())


def count_by_status() -> dict[str, int]:
    """Count subscribers per status."""
    return dict(
        db.session.execute(
            select(Subscriber.status, func.count(Subscriber.id)).group_by(
                Subscriber.status
            )
        ).all()
    )


@dataclass(frozen=True)
class SubscriberFilter:
    """What the editor's subscriber list is narrowed to."""

    query: str = ""
    status: str = ""
    theme_slug: str = ""

    def apply(self, statement: Select[*Columns]) -> Select[*Columns]:
        """Add the filter's conditions to a statement over Subscriber."""
        if self.query:
            pattern = f"%{self.query.lower()}%"
            statement = statement.where(
                or_(
                    Subscriber.email.like(pattern),
                    func.lower(Subscriber.name).like(pattern),
                )
            )
        if self.status:
            statement = statement.where(Subscriber.status == self.status)
        if self.theme_slug:
            statement = statement.where(
                Subscriber.id.in_(
                    select(subscriber_theme.c.subscriber_id)
                    .join(Theme, Theme.id == subscriber_theme.c.theme_id)
                    .where(Theme.slug == self.theme_slug)
                )
            )
        return statement


def search(
    wanted: SubscriberFilter, page: int, per_page: int = 50
) -> tuple[list[Subscriber], int]:
    """Return one page of matching subscribers (newest first) and the total."""
    total = db.session.scalar(wanted.apply(select(func.count(Subscriber.id)))) or 0
    rows = db.session.scalars(
        wanted.apply(select(Subscriber))
        .order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), total


def count_by_theme() -> list[tuple[str, int]]:
    """Count confirmed subscribers per theme, in theme order."""
    confirmed = case((Subscriber.status == SubscriberStatus.CONFIRMED, 1))
    rows = db.session.execute(
        select(Theme.name, func.count(confirmed))
        .select_from(Theme)
        .outerjoin(subscriber_theme, subscriber_theme.c.theme_id == Theme.id)
        .outerjoin(Subscriber, Subscriber.id == subscriber_theme.c.subscriber_id)
        .group_by(Theme.id, Theme.name, Theme.position)
        .order_by(Theme.position, Theme.id)
    )
    return [(name, count) for name, count in rows]


def _month(column: Any) -> Any:
    """SQL: the year and month of a timestamp as 'YYYY-MM' on either engine."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("Europe/Stockholm", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def confirmed_per_month(months: int = 12) -> list[tuple[str, int]]:
    """Confirmed subscribers who confirmed in each of the last months (cumulative)."""
    month = _month(Subscriber.confirmed_at)
    rows: dict[str, int] = dict(
        db.session.execute(
            select(month, func.count(Subscriber.id))
            .where(
                Subscriber.status == SubscriberStatus.CONFIRMED,
                Subscriber.confirmed_at.is_not(None),
            )
            .group_by(month)
        ).all()
    )
    now = utcnow()
    labels = []
    year, mon = now.year, now.month
    for _step in range(months):
        labels.append(f"{year:04}-{mon:02}")
        year, mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    labels.reverse()
    before = sum(n for label, n in rows.items() if label and label < labels[0])
    series, running = [], before
    for label in labels:
        running += rows.get(label, 0)
        series.append((label, running))
    return series


def export_rows(wanted: SubscriberFilter) -> Iterator[list[str]]:
    """Yield the CSV rows (with the header) of the filtered subscribers, streaming."""
    yield list(CSV_HEADER)
    themes_of: dict[int, list[str]] = {}
    statement = wanted.apply(select(Subscriber.id, Subscriber.email, Subscriber.name))
    result = db.session.execute(
        statement.order_by(Subscriber.id).execution_options(yield_per=2000)
    )
    for chunk in result.partitions():
        ids = [row[0] for row in chunk]
        themes_of.clear()
        for subscriber_id, slug in db.session.execute(
            select(subscriber_theme.c.subscriber_id, Theme.slug)
            .join(Theme, Theme.id == subscriber_theme.c.theme_id)
            .where(subscriber_theme.c.subscriber_id.in_(ids))
            .order_by(Theme.position)
        ):
            themes_of.setdefault(subscriber_id, []).append(slug)
        for subscriber_id, email, name in chunk:
            themes = "|".join(themes_of.get(subscriber_id, []))
            yield [inert(email), inert(name), inert(themes)]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (=, +, -, @).
    Addresses may begin so too (anyone can sign up as "=x@example.se")."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def delivery_history(
    subscriber_id: int,
) -> list[tuple[str, str, datetime | None, str]]:
    """Return (issue title, status, sent time, last error) of each delivery to a
    subscriber, newest first."""
    rows = db.session.execute(
        select(Issue.title, Delivery.status, Delivery.sent_at, Delivery.last_error)
        .join(Issue, Issue.id == Delivery.issue_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
    )
    return [(title, status, sent, error) for title, status, sent, error in rows]


def confirmed_per_theme() -> list[tuple[str, str, int]]:
    """Count confirmed subscribers per theme: slug, name, count, in theme order."""
    confirmed = case((Subscriber.status == SubscriberStatus.CONFIRMED, 1))
    rows = db.session.execute(
        select(Theme.slug, Theme.name, func.count(confirmed))
        .select_from(Theme)
        .outerjoin(subscriber_theme, subscriber_theme.c.theme_id == Theme.id)
        .outerjoin(Subscriber, Subscriber.id == subscriber_theme.c.subscriber_id)
        .group_by(Theme.id, Theme.slug, Theme.name, Theme.position)
        .order_by(Theme.position, Theme.id)
    )
    return [(slug, name, count) for slug, name, count in rows]
