"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, String, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Store timezone-aware datetimes as UTC and always hand back aware UTC values.

    SQLite has no time zone support, so values are stored as naive UTC there and
    re-tagged on the way out; PostgreSQL uses timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Convert an aware datetime to UTC before it is stored."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def table_of(model: type[DeclarativeBase]) -> Table:
    """Return a model's table; the ORM types it as any FROM clause, but every model
    here maps exactly one table."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


class EnumString(TypeDecorator[StrEnum]):
    """Store a StrEnum as its value in a VARCHAR and hand back the member.

    A value that is not one of the enum's refuses to be written; the CHECK
    constraint from enum_check refuses it in the database too.
    """

    impl = String
    cache_ok = True

    def __init__(self, states: type[StrEnum], length: int = 20) -> None:
        super().__init__(length)
        self.states = states
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        """Store the value of a member, or of a string that names one."""
        return None if value is None else self.states(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        """Return the stored value as a member of the enum."""
        return None if value is None else self.states(value)


def enum_check(column: str, states: type[StrEnum]) -> CheckConstraint:
    """Limit a column to an enum's values (named ck_<table>_<column>)."""
    values = ", ".join(f"'{state.value}'" for state in states)
    return CheckConstraint(f"{column} IN ({values})", name=column)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types as the plain types they store in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EnumString):
        return f"sa.String(length={obj.length})"
    return False
