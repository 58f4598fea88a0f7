"""Subscribers: normalising addresses, adding them, and importing them from CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, insert, select

from newsletter.extensions import db
from newsletter.models import Subscriber, Theme, subscriber_theme
from newsletter.models.types import utcnow

CSV_HEADER = ("email", "name", "themes")
MAX_NAME = 120


class InvalidAddress(ValueError):
    """Not a usable email address."""


def normalise_address(raw: str) -> str:
    """Return a syntactically valid address, domain lower-cased, or raise."""
    try:
        result = validate_email(
            raw.strip(), check_deliverability=False, allow_smtputf8=False
        )
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    local, _, domain = result.normalized.rpartition("@")
    return f"{local.lower()}@{domain.lower()}"


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


def parse_csv(text: str) -> ParsedImport:
    """Validate an import file (email,name,themes) without writing anything."""
    text = text.removeprefix("\ufeff")
    result = ParsedImport()
    reader = csv.reader(io.StringIO(text), delimiter=_dialect(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if not header or header[0] != "email":
        result.errors.append((1, "the first row must be the header email,name,themes"))
        return result
    columns = {name: header.index(name) for name in CSV_HEADER if name in header}
    lookup, all_themes = _theme_lookup()
    seen: set[str] = set()
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            return (
                cells[index].strip() if index is not None and index < len(cells) else ""
            )

        try:
            email = normalise_address(cell("email"))
        except InvalidAddress as exc:
            result.errors.append((line, f"invalid address {cell('email')!r}: {exc}"))
            continue
        if email in seen:
            result.errors.append((line, f"{email} appears more than once"))
            continue
        names = [
            part.strip().lower() for part in cell("themes").split("|") if part.strip()
        ]
        unknown = [part for part in names if part not in lookup]
        if unknown:
            result.errors.append((line, f"unknown theme {', '.join(unknown)}"))
            continue
        name = cell("name")
        if len(name) > MAX_NAME:
            result.errors.append((line, f"name longer than {MAX_NAME} characters"))
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
    for start in range(0, len(new), 5000):
        chunk = new[start : start + 5000]
        db.session.execute(
            insert(Subscriber),
            [
                {
                    "email": row.email,
                    "name": row.name,
                    "status": status,
                    "created_at": now,
                    "confirmed_at": confirmed_at,
                }
                for row in chunk
            ],
        )
        ids = dict(
            db.session.execute(
                select(Subscriber.email, Subscriber.id).where(
                    Subscriber.email.in_([row.email for row in chunk])
                )
            ).all()
        )
        links = [
            {"subscriber_id": ids[row.email], "theme_id": theme_id}
            for row in chunk
            for theme_id in row.theme_ids
        ]
        if links:
            db.session.execute(insert(subscriber_theme), links)
    return ImportResult(added=len(new), existing=len(existing))


def add_confirmed(email: str, name: str, theme_slugs: Iterable[str]) -> Subscriber:
    """Add one confirmed subscriber (command line); raise on a bad address or theme."""
    address = normalise_address(email)
    lookup, all_themes = _theme_lookup()
    slugs = [s.strip().lower() for s in theme_slugs if s.strip()]
    unknown = [s for s in slugs if s not in lookup]
    if unknown:
        raise LookupError(f"unknown theme {', '.join(unknown)}")
    theme_ids = frozenset(lookup[s] for s in slugs) if slugs else all_themes
    add_subscribers([ImportRow(0, address, name.strip(), theme_ids)], "confirmed")
    subscriber = db.session.scalar(
        select(Subscriber).where(Subscriber.email == address)
    )
    assert subscriber is not None
    return subscriber


def count_by_status() -> dict[str, int]:
    """Count subscribers per status."""
    return dict(
        db.session.execute(
            select(Subscriber.status, func.count(Subscriber.id)).group_by(
                Subscriber.status
            )
        ).all()
    )
