"""The organisation's identity: names, logo, colour, addresses and footer.

Administrators set it on /editor/settings; it is kept in the `Setting` row
IDENTITY (a JSON object of the fields below) and read per request, so a change
shows without a restart. A field that was never set (or was emptied) falls
back to its default: SITE_NAME, ORGANISATION and MAIL_FROM's display name
from the environment, the built-in brand colour, or nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from flask import g, has_app_context

from newsletter.config import settings
from newsletter.extensions import db
from newsletter.models.review import Setting

IDENTITY = "IDENTITY"
DEFAULT_BRAND_COLOUR = "#00507a"


@dataclass(frozen=True)
class Identity:
    """What readers see of the organisation in every email, page, feed and PDF."""

    organisation: str
    newsletter_name: str
    tagline: str = ""
    # The logo: a stored image's name in MEDIA_PATH (services/media.py), "" for
    # none, with its pixel size.
    logo: str = ""
    logo_width: int = 0
    logo_height: int = 0
    # The header's background behind white text (at least 4.5:1 against white).
    brand_colour: str = DEFAULT_BRAND_COLOUR
    postal_address: str = ""
    editorial_contact: str = ""
    footer_text: str = ""
    sender_name: str = ""
    reply_to: str = ""
    feed_title: str = ""
    feed_description: str = ""

    @property
    def feed_heading(self) -> str:
        """The feeds' title: the one set for them, else the newsletter's name."""
        return self.feed_title or self.newsletter_name

    @property
    def feed_summary(self) -> str:
        """The feeds' description: the one set, else the tagline or organisation."""
        return self.feed_description or self.tagline or self.organisation


FIELDS = tuple(spec.name for spec in dataclasses.fields(Identity))


def defaults() -> Identity:
    """The identity given by the environment, before any administrator's change."""
    config = settings()
    return Identity(
        organisation=config.organisation,
        newsletter_name=config.site_name,
        sender_name=parseaddr(config.mail_from)[0],
    )


def stored() -> dict[str, Any]:
    """The fields administrators set, as kept (unknown keys dropped)."""
    row = db.session.get(Setting, IDENTITY)
    value = row.value if row is not None else None
    if not isinstance(value, dict):
        return {}
    return {key: value[key] for key in FIELDS if key in value}


def load() -> Identity:
    """Read the identity from the database: stored fields over the defaults;
    an empty stored text means the default."""
    base = defaults()
    changes = {
        key: value
        for key, value in stored().items()
        if value not in ("", None) and type(value) is type(getattr(base, key))
    }
    return dataclasses.replace(base, **changes)


def identity() -> Identity:
    """The current identity, read once per request (or app context)."""
    if not has_app_context():
        raise RuntimeError("identity() needs an app context")
    found = g.get("identity")
    if not isinstance(found, Identity):
        found = g.identity = load()
    return found


def forget() -> None:
    """Drop this request's copy after a change, so the next read sees it."""
    g.pop("identity", None)
