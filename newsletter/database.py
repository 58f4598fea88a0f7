"""Binding the database: SQLite pragmas, the login loader, rows by id, health check."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import CursorResult, Update, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from newsletter.errors import NotFound
from newsletter.extensions import db, login_manager

Row = TypeVar("Row")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Use WAL (readers never block the writer), enforce foreign keys, wait on locks."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_before_savepoint(connection: Connection, _name: str) -> None:
    """Open the transaction a savepoint belongs to.

    pysqlite begins a transaction only before a data change; a SAVEPOINT issued
    first would be the outermost one, and releasing it would commit on its own,
    so that a later rollback left the savepoint's rows behind.
    """
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN")


def init_app(app: Flask) -> None:
    """Bind SQLAlchemy to the app and configure each engine on first connect."""
    db.init_app(app)
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "savepoint", _begin_before_savepoint)
    login_manager.user_loader(load_editor)


def load_editor(session_id: str) -> Any:
    """Return the active editor whose session id matches, or None."""
    from newsletter.models import Editor

    editor_id, _, fingerprint = session_id.partition(":")
    if not editor_id.isdigit():
        return None
    editor = db.session.get(Editor, int(editor_id))
    if editor is None or not editor.active or editor.get_id() != session_id:
        return None
    return editor


def get_row(model: type[Row], row_id: int) -> Row:
    """Return the row of this model with this id, or raise NotFound naming it."""
    row = db.session.get(model, row_id)
    if row is None:
        what = str(getattr(model, "__tablename__", model.__name__)).replace("_", " ")
        raise NotFound(f"{what} {row_id} does not exist")
    return row


def rows_changed(statement: Update) -> int:
    """Run an UPDATE and return how many rows it changed."""
    result = db.session.execute(statement)
    # An UPDATE gives a CursorResult, which the Session's hints call any Result.
    if not isinstance(result, CursorResult):
        raise TypeError(f"an UPDATE gave {type(result).__name__}")
    return result.rowcount


def is_database_outage(error: BaseException) -> bool:
    """Tell whether an error means the database cannot be reached (down, restarting,
    connection lost), as opposed to a fault in a statement."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def database_is_reachable() -> bool:
    """Run a trivial query; used by /healthz."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        db.session.rollback()
        return False
