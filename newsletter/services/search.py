"""Search of the published archive, with Swedish stemming on both engines.

PostgreSQL matches a weighted tsvector ('swedish' configuration, GIN index) with
websearch_to_tsquery. SQLite matches an FTS5 table holding the words as the
Snowball stemmer left them; the query is stemmed the same way and rebuilt from
quoted words, so nothing a visitor types is ever read as FTS5 syntax.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import nh3
import snowballstemmer  # type: ignore[import-untyped]
from markupsafe import Markup, escape
from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    delete,
    func,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import selectinload

from newsletter.content import render_markdown
from newsletter.extensions import db
from newsletter.models import Issue, Item, SearchDocument, Theme
from newsletter.models.search import FTS_TABLE
from newsletter.services.archive import PUBLIC

PER_PAGE = 10
MAX_QUERY = 200  # characters; longer queries are refused with a message
SNIPPET_WORDS = 36
STOCKHOLM = ZoneInfo("Europe/Stockholm")
WORD = re.compile(r"[^\W_]+")  # the words FTS5's unicode61 tokenizer sees too
# A visitor's query, read as web search engines do: "a phrase", -excluded, OR.
QUERY_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
SWEDISH: ColumnElement[str] = literal_column("'swedish'::regconfig")
FTS = table(FTS_TABLE, column("rowid"), column("title"), column("body"))


_THREAD = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    """This thread's Swedish Snowball stemmer. A stemmer keeps the word it works
    on in itself: shared by a threaded server's threads, it gave one word another
    word's stem (and an IndexError now and then)."""
    found = getattr(_THREAD, "stemmer", None)
    if found is None:
        found = _THREAD.stemmer = snowballstemmer.stemmer("swedish")
    return found


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A lower-case word's Swedish stem (remembered: stemming is the costly part
    of marking matches, and an archive's vocabulary is small)."""
    return str(_stemmer().stemWord(word))


def words(text_: str) -> list[str]:
    """The words of a text, lower case."""
    return WORD.findall(text_.lower())


def stemmed(text_: str) -> str:
    """A text as its stemmed words, separated by spaces (what SQLite indexes)."""
    return " ".join(stem(word) for word in words(text_))


def plain(markdown: str | None) -> str:
    """Editor Markdown (or stored HTML) as one line of plain text."""
    rendered = nh3.clean(str(render_markdown(markdown or "")), tags=set())
    return " ".join(html.unescape(rendered).split())


# --- Indexing -----------------------------------------------------------------


def _item_document(item: Item, issue: Issue, year: int) -> SearchDocument:
    """The document of one published item."""
    body = plain(item.body)
    extra = [item.contact_name, item.contact_email, item.contact_phone]
    extra += [link.label for link in item.links]
    heading = item.title or " ".join(body.split()[:10])
    return SearchDocument(
        issue_id=issue.id,
        item_id=item.id,
        theme_id=item.theme_id,
        published_at=issue.published_at,
        year=year,
        title=heading[:200],
        body=" ".join([body, *[part for part in extra if part]]),
    )


def _documents(issue: Issue) -> list[SearchDocument]:
    """The documents of a published issue: its header and each item."""
    assert issue.published_at is not None
    year = issue.published_at.astimezone(STOCKHOLM).year
    header = SearchDocument(
        issue_id=issue.id,
        item_id=None,
        theme_id=None,
        published_at=issue.published_at,
        year=year,
        title=issue.title,
        body=plain(issue.intro),
    )
    return [header, *(_item_document(item, issue, year) for item in issue.items)]


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def _drop(where: ColumnElement[bool]) -> None:
    """Remove the documents matching `where` (and, on SQLite, their FTS rows)."""
    if _sqlite():
        ids = select(SearchDocument.id).where(where)
        db.session.execute(delete(FTS).where(literal_column("rowid").in_(ids)))
    db.session.execute(
        delete(SearchDocument).where(where).execution_options(synchronize_session=False)
    )


def _add(documents: list[SearchDocument], issue_ids: list[int]) -> None:
    """Store documents and fill in their indexed terms."""
    db.session.add_all(documents)
    db.session.flush()
    if not documents:
        return
    if _sqlite():
        ids = [document.id for document in documents]
        # An id SQLite hands out again must not bring back a removed row's words.
        db.session.execute(delete(FTS).where(literal_column("rowid").in_(ids)))
        db.session.execute(
            text(
                f"INSERT INTO {FTS_TABLE} (rowid, title, body) "
                "VALUES (:id, :title, :body)"
            ),
            [
                {"id": d.id, "title": stemmed(d.title), "body": stemmed(d.body)}
                for d in documents
            ],
        )
    else:
        db.session.execute(
            update(SearchDocument)
            .where(SearchDocument.issue_id.in_(issue_ids))
            .values(terms=POSTGRES_TERMS)
            .execution_options(synchronize_session=False)
        )


# Title words weigh more than the text's (the setweight letters rank A over D).
POSTGRES_TERMS = func.setweight(
    func.to_tsvector(SWEDISH, SearchDocument.title), literal_column("'A'")
).op("||")(func.to_tsvector(SWEDISH, SearchDocument.body))


def index_issue(issue_id: int) -> int:
    """Make the index hold an issue as it is now: its documents when it is
    published, none otherwise (a draft, a cancelled issue). Returns how many."""
    _drop(SearchDocument.issue_id == issue_id)
    issue = db.session.scalar(
        select(Issue)
        .where(Issue.id == issue_id, PUBLIC)
        .options(selectinload(Issue.items).selectinload(Item.links))
        .execution_options(populate_existing=True)
    )
    if issue is None:
        return 0
    documents = _documents(issue)
    _add(documents, [issue.id])
    return len(documents)


def rebuild() -> int:
    """Index every published issue afresh; return how many documents."""
    if _sqlite():
        db.session.execute(text(f"DELETE FROM {FTS_TABLE}"))
    db.session.execute(delete(SearchDocument))
    issues = db.session.scalars(
        select(Issue)
        .where(PUBLIC)
        .options(selectinload(Issue.items).selectinload(Item.links))
    ).all()
    documents = [document for issue in issues for document in _documents(issue)]
    _add(documents, [issue.id for issue in issues])
    return len(documents)


# --- Queries ------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A visitor's query: every clause must match (a clause is one or more
    phrases joined by OR, a phrase one or more stemmed words); no excluded
    phrase may."""

    text: str
    clauses: list[list[list[str]]] = field(default_factory=list)
    excluded: list[list[str]] = field(default_factory=list)

    @property
    def stems(self) -> set[str]:
        """Every stem the results should show highlighted."""
        return {stem for clause in self.clauses for phrase in clause for stem in phrase}

    def fts5(self) -> str:
        """The query in FTS5 syntax, every word quoted (stems are letters and
        digits only, so a quote cannot close early)."""

        def phrase(stems: list[str]) -> str:
            return '"' + " ".join(stems) + '"'

        expression = " AND ".join(
            "(" + " OR ".join(phrase(p) for p in clause) + ")"
            for clause in self.clauses
        )
        for stems in self.excluded:
            expression = f"({expression}) NOT {phrase(stems)}"
        return expression


def parse(query: str) -> Query:
    """Read a query: words, "phrases", -excluded words and OR between them."""
    parsed = Query(query)
    alternative = False
    for found in QUERY_TOKEN.finditer(query):
        minus = found.group(1) or found.group(3)
        raw = found.group(2) if found.group(2) is not None else found.group(4)
        if raw == "OR" and found.group(4) is not None and parsed.clauses:
            alternative = True
            continue
        stems = [stem(word) for word in words(raw)]
        if not stems:
            continue
        if minus:
            parsed.excluded.append(stems)
        elif alternative:
            parsed.clauses[-1].append(stems)
        else:
            parsed.clauses.append([stems])
        alternative = False
    return parsed


@dataclass(frozen=True)
class Hit:
    """One result: a published item (item_id set) or an issue's header."""

    item_id: int | None
    issue_slug: str
    issue_title: str
    published_at: datetime
    theme_name: str | None
    title: Markup
    snippet: Markup


@dataclass(frozen=True)
class Results:
    """One page of results."""

    hits: list[Hit]
    total: int
    page: int
    pages: int


def search(
    query: str, theme_id: int | None = None, year: int | None = None, page: int = 1
) -> Results:
    """Find published items and issues matching a query, best first, a page at a
    time (a page past the last is empty)."""
    parsed = parse(query)
    if not parsed.clauses:
        return Results([], 0, page, 1)
    if _sqlite():
        fts = FTS
        match = text(f"{FTS_TABLE} MATCH :match").bindparams(match=parsed.fts5())
        rank: ColumnElement[float] = func.bm25(literal_column(FTS_TABLE), 4.0, 1.0)
        base = select(SearchDocument.id).join(
            fts, literal_column(f"{FTS_TABLE}.rowid") == SearchDocument.id
        )
        conditions: list[ColumnElement[bool]] = [match]  # type: ignore[list-item]
    else:
        tsquery = func.websearch_to_tsquery(SWEDISH, query)
        rank = -func.ts_rank(SearchDocument.terms, tsquery)
        base = select(SearchDocument.id)
        conditions = [SearchDocument.terms.bool_op("@@")(tsquery)]
    if theme_id is not None:
        conditions.append(SearchDocument.theme_id == theme_id)
    if year is not None:
        conditions.append(SearchDocument.year == year)
    matching = base.where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(matching.subquery()))
    total = total or 0
    pages = max(1, -(-total // PER_PAGE))
    ids = db.session.scalars(
        matching.order_by(rank, SearchDocument.published_at.desc(), SearchDocument.id)
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    ).all()
    return Results(_hits(ids, parsed.stems), total, page, pages)


def _hits(ids: Sequence[int], stems: set[str]) -> list[Hit]:
    """The hits for these document ids, in the same order."""
    if not ids:
        return []
    rows = db.session.execute(_hit_rows(list(ids))).all()
    by_id = {row.id: row for row in rows}
    return [
        Hit(
            item_id=row.item_id,
            issue_slug=row.slug,
            issue_title=row.issue_title,
            published_at=row.published_at,
            theme_name=row.theme_name,
            title=highlight(row.title, stems),
            snippet=snippet(row.body, stems),
        )
        for row in (by_id[i] for i in ids if i in by_id)
    ]


def _hit_rows(ids: list[int]) -> Select:  # type: ignore[type-arg]
    return (
        select(
            SearchDocument.id,
            SearchDocument.item_id,
            SearchDocument.title,
            SearchDocument.body,
            SearchDocument.published_at,
            Issue.slug,
            Issue.title.label("issue_title"),
            Theme.name.label("theme_name"),
        )
        .join(Issue, Issue.id == SearchDocument.issue_id)
        .outerjoin(Theme, Theme.id == SearchDocument.theme_id)
        .where(SearchDocument.id.in_(ids))
    )


def years() -> list[int]:
    """The years that have published issues, newest first (the year filter)."""
    return list(
        db.session.scalars(
            select(SearchDocument.year).distinct().order_by(SearchDocument.year.desc())
        )
    )


# --- Highlighting ---------------------------------------------------------------


def highlight(text_: str, stems: set[str]) -> Markup:
    """The text escaped, with the words whose stem was searched for in <mark>."""
    out = Markup("")
    at = 0
    for found in WORD.finditer(text_):
        if stem(found.group().lower()) in stems:
            out += escape(text_[at : found.start()])
            out += Markup("<mark>%s</mark>") % found.group()
            at = found.end()
    return out + escape(text_[at:])


def snippet(text_: str, stems: set[str], size: int = SNIPPET_WORDS) -> Markup:
    """A stretch of the text around its first matching word, highlighted."""
    found = list(WORD.finditer(text_))
    first = next(
        (n for n, word in enumerate(found) if stem(word.group().lower()) in stems),
        0,
    )
    start = max(0, min(first - size // 3, len(found) - size))
    end = min(len(found), start + size)
    if not found:
        return Markup("")
    begin = found[start].start() if start else 0
    finish = found[end - 1].end() if end < len(found) else len(text_)
    shown = highlight(text_[begin:finish], stems)
    before = Markup("… ") if begin else Markup("")
    after = Markup(" …") if finish < len(text_) else Markup("")
    return before + shown + after
