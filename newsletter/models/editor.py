"""Editors: the people who compose and send issues."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import String
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.states import Role
from newsletter.models.types import EnumString, UTCDateTime, enum_check, utcnow


@cache
def _hasher_for(profile: str) -> PasswordHasher:
    """Return a hasher with the Argon2 parameters of an argon2-cffi profile."""
    return PasswordHasher.from_parameters(getattr(profiles, profile))


def password_hasher() -> PasswordHasher:
    """Return the hasher of the app's PASSWORD_HASH_PROFILE."""
    return _hasher_for(current_app.config["PASSWORD_HASH_PROFILE"])


@cache
def _dummy_hash(profile: str) -> str:
    """Return a hash to verify against when no account matches the address."""
    return _hasher_for(profile).hash("not a real password")


class Editor(Model):
    """A person allowed into the editor pages, with one role."""

    __tablename__ = "editor"
    __table_args__ = (enum_check("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(EnumString(Role), default=Role.EDITOR)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the session id: logging out raises it, so a copied session or
    # remember-me cookie stops working too.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @hybrid_property
    def is_admin(self) -> bool:
        """Whether the account administers the service."""
        return self.role == Role.ADMIN

    @is_admin.inplace.expression
    @classmethod
    def _is_admin_expression(cls) -> Any:
        return cls.role == Role.ADMIN

    def set_password(self, password: str) -> None:
        """Store an Argon2id hash of the password."""
        self.password_hash = password_hasher().hash(password)

    def check_password(self, password: str) -> bool:
        """Return whether the password matches, rehashing outdated parameters."""
        hasher = password_hasher()
        try:
            hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if hasher.check_needs_rehash(self.password_hash):
            self.set_password(password)
        return True

    # Flask-Login's user protocol, written out: its UserMixin ships no type hints.
    def get_id(self) -> str:
        """Return the session id; it changes with the password and at each logout,
        ending every older session."""
        secret = f"{self.password_hash}:{self.session_version}".encode()
        return f"{self.id}:{hashlib.sha256(secret).hexdigest()[:16]}"

    @property
    def is_active(self) -> bool:
        """Deactivated editors cannot log in and lose their sessions."""
        return self.active

    @property
    def is_authenticated(self) -> bool:
        """Tell Flask-Login that a loaded, active editor is logged in."""
        return self.is_active

    @property
    def is_anonymous(self) -> bool:
        """Tell Flask-Login that an editor is never the anonymous visitor."""
        return False


def spend_password_check_time(password: str) -> None:
    """Verify against a dummy hash so unknown accounts take as long as known ones."""
    profile = current_app.config["PASSWORD_HASH_PROFILE"]
    try:
        _hasher_for(profile).verify(_dummy_hash(profile), password)
    except VerificationError:
        pass
