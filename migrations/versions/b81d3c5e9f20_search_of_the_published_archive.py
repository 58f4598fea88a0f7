"""search of the published archive

Revision ID: b81d3c5e9f20
Revises: fe54d12de68a
Create Date: 2026-12-02 05:45:00.000000

A table of search documents (one per published item and issue header). On
PostgreSQL it carries a tsvector ('swedish' configuration) behind a GIN index;
on SQLite an FTS5 table beside it holds the Snowball-stemmed words. The upgrade
indexes every issue already published (the backfill is here, so the search works
at once); `flask search rebuild` does the same later. Downgrading drops the
index: the previous release had no search.
"""

import html
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "b81d3c5e9f20"
down_revision = "fe54d12de68a"
branch_labels = None
depends_on = None

FTS = (
    "CREATE VIRTUAL TABLE search_fts USING fts5("
    "title, body, tokenize = 'unicode61 remove_diacritics 0')"
)
PUBLISHED = (
    "SELECT id, title, intro, published_at FROM issue "
    "WHERE published_at IS NOT NULL AND status <> 'cancelled'"
)
ITEMS = (
    "SELECT id, theme_id, title, body, contact_name, contact_email, "
    "contact_phone FROM item WHERE issue_id = :issue ORDER BY position, id"
)
LINKS = "SELECT label FROM link WHERE item_id = :item ORDER BY position, id"
TERMS = (
    "UPDATE search_document SET terms = "
    "setweight(to_tsvector('swedish'::regconfig, title), 'A') || "
    "to_tsvector('swedish'::regconfig, body)"
)


def upgrade():
    op.create_table(
        "search_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "terms",
            sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_search_document_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["item.id"],
            name=op.f("fk_search_document_item_id_item"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["theme.id"],
            name=op.f("fk_search_document_theme_id_theme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_document")),
        sa.UniqueConstraint("item_id", name=op.f("uq_search_document_item_id")),
    )
    with op.batch_alter_table("search_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_document_issue_id"), ["issue_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_search_document_theme_id"), ["theme_id"], unique=False
        )
        batch_op.create_index(
            "ix_search_document_terms",
            ["terms"],
            unique=False,
            postgresql_using="gin",
        )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(FTS)
    _backfill(op.get_bind(), sqlite)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    with op.batch_alter_table("search_document", schema=None) as batch_op:
        batch_op.drop_index("ix_search_document_terms")
        batch_op.drop_index(batch_op.f("ix_search_document_theme_id"))
        batch_op.drop_index(batch_op.f("ix_search_document_issue_id"))
    op.drop_table("search_document")


# --- The backfill: the issues published before this release ----------------------
# Self-contained on purpose (the app's code may change after this migration); it
# indexes what newsletter/services/search.py would.


def _backfill(conn, sqlite: bool) -> None:
    """Index every published issue."""
    import nh3
    import snowballstemmer

    from newsletter.content import render_markdown

    stemmer = snowballstemmer.stemmer("swedish")
    word = re.compile(r"[^\W_]+")

    def plain(markdown):
        rendered = nh3.clean(str(render_markdown(markdown or "")), tags=set())
        return " ".join(html.unescape(rendered).split())

    def stemmed(text):
        return " ".join(stemmer.stemWords(word.findall(text.lower())))

    documents = sa.table(
        "search_document",
        *(sa.column(name) for name in ("id", "issue_id", "item_id", "theme_id")),
        sa.column("published_at", sa.DateTime(timezone=True)),
        *(sa.column(name) for name in ("year", "title", "body")),
    )
    stockholm = ZoneInfo("Europe/Stockholm")
    published_issues = sa.text(PUBLISHED).columns(
        published_at=sa.DateTime(timezone=True)
    )
    for issue in conn.execute(published_issues).mappings().all():
        published = issue["published_at"]
        if published.tzinfo is None:  # SQLite keeps UTC without a zone
            published = published.replace(tzinfo=ZoneInfo("UTC"))
        year = published.astimezone(stockholm).year
        stored = published if not sqlite else published.replace(tzinfo=None)
        rows = [
            {
                "issue_id": issue["id"],
                "item_id": None,
                "theme_id": None,
                "published_at": stored,
                "year": year,
                "title": issue["title"],
                "body": plain(issue["intro"]),
            }
        ]
        items = conn.execute(sa.text(ITEMS), {"issue": issue["id"]}).mappings()
        for item in items.all():
            body = plain(item["body"])
            labels = conn.execute(sa.text(LINKS), {"item": item["id"]}).scalars()
            extra = [item["contact_name"], item["contact_email"], item["contact_phone"]]
            rows.append(
                {
                    "issue_id": issue["id"],
                    "item_id": item["id"],
                    "theme_id": item["theme_id"],
                    "published_at": stored,
                    "year": year,
                    "title": (item["title"] or " ".join(body.split()[:10]))[:200],
                    "body": " ".join(part for part in [body, *extra, *labels] if part),
                }
            )
        for row in rows:
            row_id = conn.execute(
                documents.insert().values(**row).returning(documents.c.id)
            ).scalar_one()
            if sqlite:
                conn.execute(
                    sa.text(
                        "INSERT INTO search_fts (rowid, title, body) "
                        "VALUES (:id, :title, :body)"
                    ),
                    {
                        "id": row_id,
                        "title": stemmed(row["title"]),
                        "body": stemmed(row["body"]),
                    },
                )
    if not sqlite:
        conn.execute(sa.text(TERMS))
