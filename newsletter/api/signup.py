"""Reading a sign-up sent as JSON: the same checks as the sign-up form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from newsletter import consent_text
from newsletter.config import settings
from newsletter.content import text_input
from newsletter.services import themes
from newsletter.services.subscribers import (
    InvalidAddress,
    normalise_address,
    normalise_name,
)

FIELDS = {"email", "name", "themes", "language", "consent_text_version"}
MAX_EMAIL = 254  # as the form
MAX_NAME = 120


@dataclass(frozen=True)
class SignUp:
    """A valid sign-up."""

    email: str
    name: str
    theme_ids: list[int]
    language: str


class Invalid(Exception):
    """Fields that are wrong, each with a message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(fields)
        self.fields = fields


def read_sign_up(payload: dict[str, Any]) -> SignUp:
    """Check a sign-up; raise Invalid naming every wrong field."""
    errors: dict[str, str] = {}
    for unknown in sorted(set(payload) - FIELDS):
        errors[unknown[:60]] = _("This field is not part of a sign-up.")
    email = _email(payload.get("email"), errors)
    name = _name(payload.get("name"), errors)
    theme_ids = _themes(payload.get("themes"), errors)
    language = payload.get("language", settings().babel_default_locale)
    if language not in settings().languages:
        errors["language"] = _("Choose one of: %(choices)s.", choices="sv, en")
    version = payload.get("consent_text_version")
    if version is not None and version != consent_text.VERSION:
        errors["consent_text_version"] = _(
            "The consent text has changed: show the current one (version "
            "%(version)s) and ask again.",
            version=consent_text.VERSION,
        )
    if errors:
        raise Invalid(errors)
    return SignUp(email, name, theme_ids, str(language))


def _email(value: object, errors: dict[str, str]) -> str:
    """The normalised address, as the form's address field takes it."""
    text = text_input(value) if isinstance(value, str) else ""
    if not text:
        errors["email"] = _("Enter your email address.")
        return ""
    try:
        if len(text) > MAX_EMAIL:
            raise InvalidAddress(text)
        return normalise_address(text)
    except InvalidAddress:
        errors["email"] = _("Enter a valid email address.")
        return ""


def _name(value: object, errors: dict[str, str]) -> str:
    """The optional name, cleaned as the form cleans it."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NAME:
        errors["name"] = _("Enter a name of at most %(count)d characters.", count=120)
        return ""
    return normalise_name(text_input(value))


def _themes(value: object, errors: dict[str, str]) -> list[int]:
    """Theme slugs to ids. Left out: every active theme, which is what the form
    offers ticked; an empty list is refused, as the form refuses no theme."""
    offered = {t.slug: t.id for t in themes.list_themes(active_only=True)}
    if value is None:
        return list(offered.values())
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors["themes"] = _("Give the themes as a list of their slugs.")
        return []
    if not value:
        errors["themes"] = _("Choose at least one theme.")
        return []
    unknown = [slug for slug in value if slug not in offered]
    if unknown:
        errors["themes"] = _(
            "No theme to choose with the slug %(slugs)s.",
            slugs=", ".join(s[:80] for s in unknown[:5]),
        )
        return []
    return sorted({offered[slug] for slug in value})
