"""Importing subscribers from CSV: check a file row by row, preview it, write it.

A file is read as a stream, a chunk of rows at a time, so that a million rows need
about as much memory as a few thousand. Each chunk is looked up once (erased and
existing addresses) and written with set-based statements, COPY on PostgreSQL and
one executemany per table on SQLite, never one ORM object per row.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from flask_babel import gettext as _
from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    any_,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute

from newsletter import consent_text
from newsletter.extensions import db
from newsletter.models import (
    ConsentEvent,
    ConsentKind,
    MessageStatus,
    OutboundMessage,
    Subscriber,
    SubscriberStatus,
    Suppression,
    Theme,
    subscriber_theme,
)
from newsletter.models.types import table_of
from newsletter.services import audit
from newsletter.services.subscribers import (
    CSV_HEADER,
    FORMULA_STARTS,
    MAX_NAME,
    InvalidAddress,
    display_address,
    normalise_address,
    normalise_name,
)
from newsletter.services.subscriptions import address_hash

# The text of a file, or the path of one: a path is read as a stream.
ImportSource = str | Path
CHUNK = 5000  # rows per lookup and per set of inserts
T = TypeVar("T")


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


@dataclass
class ImportPreview:
    """What an import would do: rows to add, rows already there, rows refused."""

    new: int
    existing: int
    errors: list[tuple[int, str]]


def preview_import(source: ImportSource) -> ImportPreview:
    """Check a file without writing anything: errors per row, new and known rows."""
    error = _file_error(source)
    if error is not None:
        return ImportPreview(new=0, existing=0, errors=[error])
    tally = _Tally()
    preview = _preview_pass(source, tally)
    repeated = tally.repeated()
    if repeated:  # an address may appear twice: count again, knowing which
        preview = _preview_pass(source, _SeenAmong(repeated))
    return preview


def import_file(
    source: ImportSource, attestation: str, editor: str, now: datetime
) -> int:
    """Import the rows the preview of this file counts as new (import_subscribers);
    nothing from a file refused as a whole. Return how many were added."""
    if _file_error(source) is not None:
        return 0
    rows = _not_suppressed(_checked_rows(source, _LeftToTheDatabase(), errors=None))
    return import_subscribers(rows, attestation, editor, now)


def import_subscribers(
    rows: Iterable[ImportRow], attestation: str, editor: str, now: datetime
) -> int:
    """Add new rows: confirmed with the editor's attestation, or pending with a
    confirmation email each when there is no attestation. Return how many."""
    status = (
        SubscriberStatus.CONFIRMED if attestation else SubscriberStatus.PENDING
    ).value
    added = 0
    for chunk in _chunks(rows, CHUNK):
        # Someone may have signed up since the preview: leave those rows alone.
        taken = _existing([row.email for row in chunk], planned_afresh=True)
        new = []
        for row in chunk:
            if row.email not in taken:
                taken.add(row.email)
                new.append(row)
        if not new:
            continue
        ids = _insert_subscribers(new, status, now)
        _insert_themes(new, ids)
        _insert_events(ids, attestation, f"import by {editor}", now)
        if not attestation:
            _insert_confirmations(new, ids, now)
        added += len(new)
    audit.record(
        "subscribers.imported",
        "import",
        None,
        f"import by {editor}"[:300],
        {"added": [None, added], "attested": [None, bool(attestation)]},
    )
    return added


def parse_csv(text: str) -> ParsedImport:
    """Validate a file held in memory (email,name,themes) without writing anything."""
    error = _file_error(text)
    if error is not None:
        return ParsedImport(errors=[error])
    result = ParsedImport()
    result.rows = list(_checked_rows(text, _Seen(), result.errors))
    return result


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


def is_suppressed(addresses: Iterable[str]) -> set[str]:
    """Return which of the addresses were erased and may not be imported."""
    by_hash = {}
    for address in addresses:
        by_hash[address_hash(address)] = address
        # Erased before domains were kept in ASCII: the hash is of the Unicode form.
        shown = display_address(address)
        if shown != address:
            by_hash[address_hash(shown)] = address
    found: set[str] = set()
    keys = list(by_hash)
    for start in range(0, len(keys), 5000):
        erased = select(Suppression.email_hash).where(
            _in_list(Suppression.email_hash, keys[start : start + 5000])
        )
        found.update(by_hash[h] for h in db.session.scalars(erased))
    return found


# Reading a file ------------------------------------------------------------------


class _Lines:
    """The lines of a file without its byte order mark, noting any NUL character."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.first = next(self._lines, "").removeprefix("\ufeff")
        self._first_pending = bool(self.first)
        self.has_nul = False

    def __iter__(self) -> _Lines:
        """Return the lines themselves: the CSV reader and a drain share them."""
        return self

    def __next__(self) -> str:
        """Return the next line."""
        if self._first_pending:
            self._first_pending = False
            line = self.first
        else:
            line = next(self._lines)
        if "\x00" in line:
            self.has_nul = True
        return line


@contextmanager
def _lines(source: ImportSource) -> Iterator[_Lines]:
    """Open a file as lines, with \\r, \\n and \\r\\n line ends read alike (old Mac
    exports use \\r)."""
    if isinstance(source, Path):
        with source.open(encoding="utf-8-sig", newline=None) as handle:
            yield _Lines(handle)
    else:
        yield _Lines(io.StringIO(source, newline=None))


def _dialect(header: str) -> str:
    """Return the delimiter of a CSV file: ';' (Swedish spreadsheets) or ','."""
    header = (header.splitlines() or [""])[0]
    return ";" if header.count(";") > header.count(",") else ","


class UnreadableRow(ValueError):
    """The CSV reader gave up on the row that starts on this line."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _records(lines: _Lines) -> Iterator[tuple[int, list[str]]]:
    """The rows of a CSV file, each with the line it starts on."""
    reader = csv.reader(lines, delimiter=_dialect(lines.first))
    ended = 0  # the line the previous row ended on
    try:
        for row in reader:
            yield ended + 1, row
            ended = reader.line_num
    except csv.Error as error:  # say, a value past the csv module's field limit
        raise UnreadableRow(ended + 1) from error


def _spans_lines(row: list[str]) -> bool:
    """Return whether a row runs over a line end (inside a quoted value)."""
    return any("\n" in cell or "\r" in cell for cell in row)


def _file_error(source: ImportSource) -> tuple[int, str] | None:
    """Return what refuses the whole file, if anything (then no row is imported):
    NUL characters, unreadable CSV, a quote left open, a missing header."""
    header: list[str] = []
    runaway = unreadable = None
    with _lines(source) as lines:
        try:
            for line, row in _records(lines):
                if line == 1:
                    header = row
                if runaway is None and _spans_lines(row):
                    runaway = line
        except UnreadableRow as error:
            unreadable = error.line
            for _rest in lines:  # a NUL further on still decides
                pass
    if lines.has_nul:
        return 1, _("the file contains NUL bytes; it is not CSV text")
    if unreadable is not None:
        return unreadable, _("the file is not valid CSV")
    if runaway is not None:
        # No field of ours holds a line break: a quote was left open, and the rows
        # after it became part of this one. Which rows are right cannot be known.
        return runaway, _(
            "a quotation mark opens a value here and is not closed where "
            "the line ends, so the following lines were read into it; "
            "nothing is imported until the file is corrected"
        )
    cells = [cell.strip().lower() for cell in header]
    if not cells or cells[0] != "email":
        return 1, _("the first row must be the header email,name,themes")
    return None


# Checking rows -------------------------------------------------------------------


class _Duplicates(Protocol):
    """How a pass over a file recognises an address it has already accepted."""

    def repeats(self, email: str) -> bool:
        """Return whether a valid row already had this address."""

    def add(self, email: str) -> None:
        """Remember the address of a valid row."""


class _Seen:
    """Every accepted address, exactly: for a file held in memory."""

    def __init__(self) -> None:
        self._emails: set[str] = set()

    def repeats(self, email: str) -> bool:
        """Return whether a valid row already had this address."""
        return email in self._emails

    def add(self, email: str) -> None:
        """Remember the address of a valid row."""
        self._emails.add(email)


class _Tally:
    """The first pass of a preview: 8 bytes per address (a 64-bit hash, not a set
    of strings) to learn which addresses may appear more than once."""

    def __init__(self) -> None:
        self._buckets = [array("q") for _bucket in range(16)]

    def repeats(self, email: str) -> bool:
        """Note the address; the second pass decides about repeats."""
        digest = hash(email)
        self._buckets[digest & 15].append(digest)
        return False

    def add(self, email: str) -> None:
        """Nothing to remember beyond the hash."""

    def repeated(self) -> frozenset[int]:
        """Return the hashes noted more than once."""
        found: set[int] = set()
        for bucket in self._buckets:  # a sixteenth at a time, to keep memory flat
            if len(set(bucket)) < len(bucket):
                found.update(h for h, n in Counter(bucket).items() if n > 1)
        return frozenset(found)


class _SeenAmong:
    """The second pass of a preview: exact, for the addresses pass one saw twice."""

    def __init__(self, repeated: frozenset[int]) -> None:
        self._repeated = repeated
        self._emails: set[str] = set()

    def repeats(self, email: str) -> bool:
        """Return whether a valid row already had this address."""
        return hash(email) in self._repeated and email in self._emails

    def add(self, email: str) -> None:
        """Remember the address of a valid row, if it may come again."""
        if hash(email) in self._repeated:
            self._emails.add(email)


class _LeftToTheDatabase:
    """The import pass: a repeated address finds its first row already written
    (import_subscribers looks each chunk up), so it is left alone there."""

    def repeats(self, email: str) -> bool:
        """Leave the decision to the lookup."""
        return False

    def add(self, email: str) -> None:
        """Nothing to remember."""


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


def _checked_rows(
    source: ImportSource,
    duplicates: _Duplicates,
    errors: list[tuple[int, str]] | None,
) -> Iterator[ImportRow]:
    """Yield the valid rows of a file without a file error, adding (line, message)
    for each other row to errors (when given)."""
    lookup, all_themes = _theme_lookup()
    with _lines(source) as lines:
        records = _records(lines)
        header = [cell.strip().lower() for cell in next(records)[1]]
        email_at, name_at, themes_at = (
            header.index(name) if name in header else None for name in CSV_HEADER
        )
        checker = _RowChecker(
            email_at,
            name_at,
            themes_at,
            themes=_ThemeChoices(lookup, all_themes),
            duplicates=duplicates,
        )
        for line, cells in records:
            row = checker.check(line, cells)
            if isinstance(row, ImportRow):
                yield row
            elif row is not None and errors is not None:
                errors.append(row)


@dataclass
class _ThemeChoices:
    """Reads a themes value: slugs or names separated by |, empty for every theme."""

    lookup: dict[str, int]
    all_themes: frozenset[int]
    known: dict[str, frozenset[int] | list[str]] = field(default_factory=dict)

    def read(self, value: str) -> frozenset[int] | list[str]:
        """Return the theme ids, or the names that are no theme."""
        if value in self.known:  # a file repeats a few combinations
            return self.known[value]
        names = [part.strip().lower() for part in value.split("|") if part.strip()]
        unknown = [part for part in names if part not in self.lookup]
        if unknown:
            choice: frozenset[int] | list[str] = unknown
        else:
            choice = (
                frozenset(self.lookup[n] for n in names) if names else self.all_themes
            )
        if len(self.known) < 1000:
            self.known[value] = choice
        return choice


@dataclass
class _RowChecker:
    """Checks the rows of one file, in order."""

    email_at: int | None
    name_at: int | None
    themes_at: int | None
    themes: _ThemeChoices
    duplicates: _Duplicates

    def check(self, line: int, cells: list[str]) -> ImportRow | tuple[int, str] | None:
        """Return the row, its error, or None for a blank row."""
        if not "".join(cells).strip():
            return None
        address = _value(cells, self.email_at)
        try:
            email = normalise_address(address)
        except InvalidAddress:
            return line, _("invalid address: %(address)s", address=address)
        if self.duplicates.repeats(email):
            return line, _("%(address)s appears more than once", address=email)
        theme_ids = self.themes.read(_value(cells, self.themes_at))
        if isinstance(theme_ids, list):
            return line, _("unknown theme %(names)s", names=", ".join(theme_ids))
        name = normalise_name(_value(cells, self.name_at))
        if len(name) > MAX_NAME:
            return line, _("name longer than %(num)d characters", num=MAX_NAME)
        self.duplicates.add(email)
        return ImportRow(line, email, name, theme_ids)


def _value(cells: list[str], index: int | None) -> str:
    """Return one value of a row ('' when the column is missing)."""
    if index is None or index >= len(cells):
        return ""
    cell = cells[index].strip()
    # Undo subscribers.inert when our own export is imported again.
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of up to size items."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _existing(emails: Sequence[str], planned_afresh: bool = False) -> set[str]:
    """Return which of (at most a chunk of) the addresses are subscribers.

    planned_afresh: while an import adds rows, PostgreSQL must plan each lookup for
    the table as it is now. psycopg prepares a query run five times, and a plan made
    while the table was small (say, by the preview of a first import, on the same
    connection) would read the whole table for every address.
    """
    known = select(Subscriber.email).where(_in_list(Subscriber.email, emails))
    connection = db.session.connection()
    if not (planned_afresh and connection.dialect.name == "postgresql"):
        return set(db.session.scalars(known))
    compiled = known.compile(dialect=connection.dialect)
    driver = connection.connection.driver_connection
    assert driver is not None  # a live connection always has one
    with driver.cursor() as cursor:
        cursor.execute(str(compiled), compiled.construct_params(), prepare=False)
        return {email for (email,) in cursor}


def _in_list(
    column: ColumnElement[str] | InstrumentedAttribute[str], values: Sequence[str]
) -> ColumnElement[bool]:
    """SQL: the column's value is one of (thousands of) values, bound as one
    parameter: an array on PostgreSQL (= ANY), JSON on SQLite (json_each). Either
    engine reads that several times faster than a parameter per value."""
    if db.engine.dialect.name == "postgresql":
        array = postgresql.ARRAY(column.type)
        return column == any_(bindparam("values", list(values), type_=array))
    listed = func.json_each(bindparam("values", json.dumps(list(values))))
    return column.in_(select(listed.table_valued("value").c.value))


def _preview_pass(source: ImportSource, duplicates: _Duplicates) -> ImportPreview:
    """Count the new and known rows of a file and collect its errors, by chunks."""
    preview = ImportPreview(new=0, existing=0, errors=[])
    for chunk in _chunks(_checked_rows(source, duplicates, preview.errors), CHUNK):
        suppressed = is_suppressed(row.email for row in chunk)
        rows = []
        for row in chunk:
            if row.email in suppressed:
                preview.errors.append(
                    (row.line, _("%(address)s was erased at its owner's request; "
                                 "only the person can subscribe again",
                                 address=row.email))
                )  # fmt: skip
            else:
                rows.append(row)
        known = len(_existing([row.email for row in rows]))
        preview.existing += known
        preview.new += len(rows) - known
    preview.errors.sort()
    return preview


def _not_suppressed(rows: Iterable[ImportRow]) -> Iterator[ImportRow]:
    """Leave out the rows whose address was erased, a chunk at a time."""
    for chunk in _chunks(rows, CHUNK):
        suppressed = is_suppressed(row.email for row in chunk)
        yield from (row for row in chunk if row.email not in suppressed)


# Writing rows --------------------------------------------------------------------


def _to_database(column: Column[Any]) -> Callable[[Any], Any]:
    """Return how a value of a column is handed to the driver (dates, JSON ...)."""
    dialect = db.engine.dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process or (lambda value: value)


def _insert_subscribers(rows: list[ImportRow], status: str, now: datetime) -> list[int]:
    """Insert the subscribers of a chunk; return their ids, in the same order."""
    table = table_of(Subscriber)
    created_at = _to_database(table.c.created_at)(now)
    confirmed_at = _to_database(table.c.confirmed_at)(
        now if status == SubscriberStatus.CONFIRMED else None
    )
    columns = ("email", "name", "language", "status", "token_version",
               "bounce_count", "created_at", "confirmed_at")  # fmt: skip
    values = [
        (row.email, row.name, "sv", status, 1, 0, created_at, confirmed_at)
        for row in rows
    ]
    if db.engine.dialect.name == "postgresql":
        ids = _sequence_ids(len(rows))
        rest = zip(ids, values, strict=True)
    else:
        # SQLite has no sequence. Inserting the first row alone gives its id and
        # takes the database's write lock until the commit: no other writer can
        # take the ids after it, which stay free (a new row gets the largest id
        # plus one).
        first = _write_one(table, columns, values[0])
        ids = list(range(first, first + len(rows)))
        rest = zip(ids[1:], values[1:], strict=True)
    _write(table, ("id", *columns), [(id, *value) for id, value in rest])
    return ids


def _sequence_ids(count: int) -> list[int]:
    """Take ids for new subscribers from PostgreSQL's sequence."""
    return list(
        db.session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence('subscriber', 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"count": count},
        )
    )


def _insert_themes(rows: list[ImportRow], ids: list[int]) -> None:
    """Link the new subscribers of a chunk to their themes."""
    links = [
        (subscriber_id, theme_id)
        for subscriber_id, row in zip(ids, rows, strict=True)
        for theme_id in row.theme_ids
    ]
    _write(subscriber_theme, ("subscriber_id", "theme_id"), links)


def _insert_events(ids: list[int], attestation: str, how: str, now: datetime) -> None:
    """Record the import in each new subscriber's consent history."""
    at = _to_database(table_of(ConsentEvent).c.at)(now)
    constant = (
        ConsentKind.IMPORTED.value,
        at,
        "",
        "",
        how[:120],
        consent_text.VERSION if not attestation else "",
        attestation,
        "attested by the editor" if attestation else "confirmation sent",
    )
    columns = ("subscriber_id", "kind", "at", "ip", "user_agent", "how",
               "consent_version", "consent_text", "detail")  # fmt: skip
    _write(table_of(ConsentEvent), columns, [(id, *constant) for id in ids])


def _insert_confirmations(rows: list[ImportRow], ids: list[int], now: datetime) -> None:
    """Queue a confirmation email to each new subscriber of a chunk, to a bare
    address (the person has not confirmed the name)."""
    table = table_of(OutboundMessage)
    context = _to_database(table.c.context)
    at = _to_database(table.c.created_at)(now)
    columns = ("template", "context", "language", "to_address", "to_name",
               "subscriber_id", "status", "attempts", "next_attempt_at",
               "last_error", "created_at")  # fmt: skip
    messages = [
        (
            "confirm_subscription",
            context({"subscriber_id": id}),
            "sv",
            row.email,
            "",
            id,
            MessageStatus.QUEUED.value,
            0,
            at,
            "",
            at,
        )
        for id, row in zip(ids, rows, strict=True)
    ]
    _write(table, columns, messages)


def _write(
    table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert plain rows (values as the driver takes them) in one statement: COPY on
    PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    connection = db.session.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if connection.dialect.name == "postgresql":
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        driver = connection.connection.driver_connection
        assert driver is not None  # a live connection always has one
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _column in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", list(rows)
    )


def _write_one(table: Table, columns: Sequence[str], row: tuple[Any, ...]) -> int:
    """Insert one row on SQLite and return its id."""
    connection = db.session.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    marks = ", ".join("?" for _column in columns)
    result = connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", row
    )
    return int(result.lastrowid)
