"""Worker heartbeats: the last sign of life of each worker process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import UTCDateTime


class WorkerHeartbeat(Model):
    """One worker process, as last seen; rows not seen for a day are pruned."""

    __tablename__ = "worker_heartbeat"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The name a worker claims rows with ("host:pid", as in Delivery.leased_by).
    name: Mapped[str] = mapped_column(String(100), unique=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Indexed: "when was any worker last seen" is asked on every editor page.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
