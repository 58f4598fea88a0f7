"""Send rates shared by every worker: one row per limit, the next free slot."""

from __future__ import annotations

from sqlalchemy import Double, String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model


class SendRate(Model):
    """One sending limit held for all workers together (newsletter.mail.pace).

    Times are seconds since the epoch by the database's clock, so workers on several
    machines agree on them. Only newsletter.mail.pace changes these rows.
    """

    __tablename__ = "send_rate"

    # "all" for RATE_PER_SECOND and RATE_PER_HOUR, "domain:<ascii domain>" for a
    # domain's limit.
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    # The first send slot nobody has reserved yet.
    next_at: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    # The current hour of RATE_PER_HOUR: when it began, how many it has given out.
    window_start: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    window_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # How many slots the latest reservation got (RETURNING shows new values only).
    granted: Mapped[int] = mapped_column(default=0, server_default="0")
