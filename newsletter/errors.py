"""Domain errors: what services raise instead of HTTP errors.

Each boundary decides how to answer one: the blueprints with a page (404, 409), the
command line with a message, the worker with a reason in its ledger.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; its message reads well in a log or ledger."""


class NotFound(DomainError):
    """The row asked for does not exist, or no longer does."""


class Conflict(DomainError):
    """The change collides with another change or with an existing row."""


class InvalidState(DomainError):
    """The row is in a state that does not allow this step."""

    def __init__(self, status: str | None = None, wanted: str | None = None) -> None:
        super().__init__(f"{status} -> {wanted}" if wanted else str(status))
        self.status = status
        self.wanted = wanted
