"""Subscribers: normalising addresses, adding them, and importing them from CSV."""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import idna
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import Select, case, func, insert, or_, select

from newsletter.extensions import db
from newsletter.models import Subscriber, Theme, subscriber_theme
from newsletter.models.types import utcnow

CSV_HEADER = ("email", "name", "themes")
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


@dataclass(frozen=True)
class ImportRow:
    """One valid row of an import file."""

    line: int
    email: str
    name: str
    theme_ids: frozenset[int]


@dataclass
class ParsedImport:
    """The rows of a file that can be imported, and what is wrong with the others."""

    rows: list[ImportRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def _theme_lookup() -> tuple[dict[str, int], frozenset[int]]:
    """Map theme slugs and names (any case) to ids; return all active ids too."""
    lookup: dict[str, int] = {}
    active: set[int] = set()
    for theme in db.session.scalars(select(Theme)):
        lookup[theme.slug.lower()] = theme.id
        lookup[theme.name.lower()] = theme.id
        if theme.active:
            active.add(theme.id)
    return lookup, frozenset(active)


def _dialect(sample: str) -> str:
    """Return the delimiter of a CSV file: ';' (Swedish spreadsheets) or ','."""
    header = sample.splitlines()[0] if sample else ""
    return ";" if header.count(";") > header.count(",") else ","


class UnreadableRow(ValueError):
    """The CSV reader gave up on the row that starts on this line."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _records(text: str) -> list[tuple[int, list[str]]]:
    """The rows of a CSV file, each with the line it starts on."""
    # newline=None reads \r, \n and \r\n line ends alike (old Mac exports use \r).
    reader = csv.reader(io.StringIO(text, newline=None), delimiter=_dialect(text))
    records = []
    ended = 0  # the line the previous row ended on
    try:
        for row in reader:
            records.append((ended + 1, row))
            ended = reader.line_num
    except csv.Error as error:  # say, a value past the csv module's field limit
        raise UnreadableRow(ended + 1) from error
    return records


def _spans_lines(row: list[str]) -> bool:
    """Return whether a row runs over a line end (inside a quoted value)."""
    return any("\n" in cell or "\r" in cell for cell in row)


def parse_csv(text: str) -> ParsedImport:
    """Validate an import file (email,name,themes) without writing anything."""
    text = text.removeprefix("\ufeff")
    result = ParsedImport()
    if "\x00" in text:
        result.errors.append((1, _("the file contains NUL bytes; it is not CSV text")))
        return result
    try:
        records = _records(text)
    except UnreadableRow as error:
        result.errors.append((error.line, _("the file is not valid CSV")))
        return result
    runaway = next((line for line, row in records if _spans_lines(row)), None)
    if runaway is not None:
        # No field of ours holds a line break: a quote was left open, and the rows
        # after it became part of this one. Which rows are right cannot be known.
        result.errors.append(
            (
                runaway,
                _(
                    "a quotation mark opens a value here and is not closed where "
                    "the line ends, so the following lines were read into it; "
                    "nothing is imported until the file is corrected"
                ),
            )
        )
        return result
    header = [cell.strip().lower() for cell in (records[0][1] if records else [])]
    if not header or header[0] != "email":
        result.errors.append(
            (1, _("the first row must be the header email,name,themes"))
        )
        return result
    columns = {name: header.index(name) for name in CSV_HEADER if name in header}
    lookup, all_themes = _theme_lookup()
    seen: set[str] = set()
    for line, cells in records[1:]:
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            if index is None or index >= len(cells):
                return ""
            return _revived(cells[index].strip())

        try:
            email = normalise_address(cell("email"))
        except InvalidAddress:
            result.errors.append(
                (line, _("invalid address: %(address)s", address=cell("email")))
            )
            continue
        if email in seen:
            result.errors.append(
                (line, _("%(address)s appears more than once", address=email))
            )
            continue
        names = [
            part.strip().lower() for part in cell("themes").split("|") if part.strip()
        ]
        unknown = [part for part in names if part not in lookup]
        if unknown:
            result.errors.append(
                (line, _("unknown theme %(names)s", names=", ".join(unknown)))
            )
            continue
        name = normalise_name(cell("name"))
        if len(name) > MAX_NAME:
            result.errors.append(
                (line, _("name longer than %(num)d characters", num=MAX_NAME))
            )
            continue
        seen.add(email)
        theme_ids = frozenset(lookup[n] for n in names) if names else all_themes
        result.rows.append(ImportRow(line, email, name, theme_ids))
    return result


@dataclass(frozen=True)
class ImportResult:
    """How many rows became new subscribers and how many were already there."""

    added: int
    existing: int
    ids: dict[str, int] = field(default_factory=dict)  # address -> id of added rows


def add_subscribers(rows: Sequence[ImportRow], status: str) -> ImportResult:
    """Insert new addresses with their themes in bulk; existing ones stay untouched."""
    existing: set[str] = set()
    emails = [row.email for row in rows]
    for start in range(0, len(emails), 5000):
        chunk = emails[start : start + 5000]
        existing.update(
            db.session.scalars(
                select(Subscriber.email).where(Subscriber.email.in_(chunk))
            )
        )
    new = [row for row in rows if row.email not in existing]
    now = utcnow()
    confirmed_at = now if status == "confirmed" else None
    table = Subscriber.__table__
    added: dict[str, int] = {}
    for start in range(0, len(new), 5000):
        chunk = new[start : start + 5000]
        # RETURNING gives the new ids at once: a second lookup by address right
        # after a bulk insert can be planned as sequential scans (stale statistics).
        ids = dict(
            db.session.execute(
                insert(table).returning(table.c.email, table.c.id),
                [
                    {
                        "email": row.email,
                        "name": row.name,
                        "language": "sv",
                        "status": status,
                        "token_version": 1,
                        "bounce_count": 0,
                        "created_at": now,
                        "confirmed_at": confirmed_at,
                    }
                    for row in chunk
                ],
            ).all()
        )
        added.update(ids)
        links = [
            {"subscriber_id": ids[row.email], "theme_id": theme_id}
            for row in chunk
            for theme_id in row.theme_ids
        ]
        if links:
            db.session.execute(insert(subscriber_theme), links)
    return ImportResult(added=len(new), existing=len(existing), ids=added)


def import_row(email: str, name: str, theme_slugs: Iterable[str]) -> ImportRow:
    """Validate an address and its theme slugs (empty: every theme) as an import row."""
    address = normalise_address(email)
    lookup, all_themes = _theme_lookup()
    slugs = [s.strip().lower() for s in theme_slugs if s.strip()]
    unknown = [s for s in slugs if s not in lookup]
    if unknown:
        raise LookupError(f"unknown theme {', '.join(unknown)}")
    theme_ids = frozenset(lookup[s] for s in slugs) if slugs else all_themes
    return ImportRow(0, address, normalise_name(name), theme_ids)


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

    def apply(self, statement: Select) -> Select:
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
    confirmed = case((Subscriber.status == "confirmed", 1))
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
    rows = dict(
        db.session.execute(
            select(month, func.count(Subscriber.id))
            .where(
                Subscriber.status == "confirmed", Subscriber.confirmed_at.is_not(None)
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
            yield [_inert(email), _inert(name), _inert(themes)]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (=, +, -, @).
    Addresses may begin so too (anyone can sign up as "=x@example.se")."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _revived(cell: str) -> str:
    """Undo _inert when our own export is imported again."""
    return (
        cell[1:]
        if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS)
        else cell
    )
