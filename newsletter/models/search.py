"""The archive's search index: one document per published item or issue header."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, ForeignKey, Index, String, Text, event
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import UTCDateTime

# SQLite keeps the stemmed words in the FTS5 table of this name beside
# search_document (created by the migration, or with the tables in tests); it is
# no model of its own, so schema comparisons leave it and its shadow tables alone.
FTS_TABLE = "search_fts"


class SearchDocument(Model):
    """What the search finds of one published item (or an issue's header, when
    item_id is empty): plain text for snippets, and the indexed terms."""

    __tablename__ = "search_document"
    __table_args__ = (
        Index("ix_search_document_terms", "terms", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("item.id", ondelete="CASCADE"), unique=True
    )
    theme_id: Mapped[int | None] = mapped_column(
        ForeignKey("theme.id", ondelete="CASCADE"), index=True
    )
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    year: Mapped[int] = mapped_column()  # of publication, Stockholm time
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # PostgreSQL: the weighted tsvector ('swedish' configuration) behind a GIN
    # index. SQLite leaves it empty and searches FTS_TABLE instead.
    terms: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql")
    )


# Words are indexed exactly as the Snowball stemmer left them: å, ä and ö are
# letters of their own in Swedish, not accented a and o.
CREATE_FTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "title, body, tokenize = 'unicode61 remove_diacritics 0')"
)
DROP_FTS = f"DROP TABLE IF EXISTS {FTS_TABLE}"

# Created and dropped with the tables (tests build the schema from the models).
event.listen(
    SearchDocument.__table__,
    "after_create",
    DDL(CREATE_FTS).execute_if(dialect="sqlite"),  # type: ignore[no-untyped-call]
)
event.listen(
    SearchDocument.__table__,
    "before_drop",
    DDL(DROP_FTS).execute_if(dialect="sqlite"),  # type: ignore[no-untyped-call]
)


def include_in_migrations(
    object_: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Tell Alembic's comparison to leave the FTS5 table and its shadow tables
    alone: they exist only on SQLite and belong to no model."""
    return not (type_ == "table" and (name or "").startswith(FTS_TABLE))
