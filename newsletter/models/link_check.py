"""Link checks: the latest known state of each web address the issues link to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import EnumString, UTCDateTime, enum_check


class LinkOutcome(StrEnum):
    """What the latest check of an address found."""

    WORKING = "working"  # answered 2xx or 3xx without leaving the address
    REDIRECTED = "redirected"  # answered after redirects, at final_url
    BROKEN = "broken"  # 4xx/5xx, a network failure, or a refused address


class LinkCheck(Model):
    """One web address and the outcome of its latest check (newsletter.services.links).

    One row per address, however many items link to it, so an address is checked
    at most once per interval. broken_since marks when it stopped working, so the
    archive report can say what broke since the previous run.
    """

    __tablename__ = "link_check"
    __table_args__ = (enum_check("outcome", LinkOutcome),)

    url: Mapped[str] = mapped_column(String(2000), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[LinkOutcome] = mapped_column(EnumString(LinkOutcome))
    # The final answer's HTTP status; None when no answer came.
    http_status: Mapped[int | None] = mapped_column()
    final_url: Mapped[str] = mapped_column(String(2000), default="")
    # Why it is broken (a status or a network reason): a fetcher.Reason as JSON,
    # worded when shown (links.reason_text); rows checked before hold plain text.
    reason: Mapped[str] = mapped_column(Text, default="")
    broken_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
