"""Keys that let another system read aggregate figures through the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow


class ApiKey(Model):
    """An API key: shown once when made, kept only as its SHA-256 hash.

    `prefix` is the key's first characters, kept so that administrators can
    tell keys apart; a revoked key stays listed and never works again."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        """Whether the key still opens the API."""
        return self.revoked_at is None
