"""Rate-limit counters that every web process shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import UTCDateTime


class RateLimitCounter(Model):
    """The requests counted under one rate-limit key in its current fixed window."""

    __tablename__ = "rate_limit_counter"
    __table_args__ = (CheckConstraint("hits >= 0", name="hits"),)

    # SHA-256 of the key: a fixed width, and the client addresses and login names
    # that keys hold are not kept readable.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int]
    # Expired rows count as absent; they are deleted now and then, by this index.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
