"""Domain errors that services raise and the boundaries (views, CLI, worker) map."""

from __future__ import annotations


class InvalidState(Exception):
    """A row is not in a state that allows the step asked for."""

    def __init__(self, status: str | None, wanted: str | None = None) -> None:
        super().__init__(f"{status} -> {wanted}" if wanted else str(status))
        self.status = status
        self.wanted = wanted
