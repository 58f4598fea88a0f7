"""The organisation's identity: names, logo, colour, addresses and footer.

Administrators set it on /editor/settings; it is kept in the `Setting` row
IDENTITY (a JSON object of the fields below) and read per request, so a change
shows without a restart. A field that was never set (or was emptied) falls
back to its default: SITE_NAME, ORGANISATION and MAIL_FROM's display name
from the environment, the built-in brand colour, or nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

from flask import g, has_app_context
from flask_babel import format_decimal
from flask_babel import gettext as _

from newsletter.config import settings
from newsletter.content import one_line_ending
from newsletter.errors import DomainError
from newsletter.extensions import db
from newsletter.models.review import Setting
from newsletter.services import audit
from newsletter.services.media import (
    ImageRefused,
    find_image,
    store_image,
    variant_name,
)
from newsletter.services.subscribers import InvalidAddress, normalise_address

IDENTITY = "IDENTITY"
DEFAULT_BRAND_COLOUR = "#00507a"
# White header text on the brand colour must be readable (WCAG 2 AA, body text).
MIN_CONTRAST = 4.5
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Logos are shown at most 300 px wide: the 600 px variant is sharp on every screen.
LOGO_VARIANT = 600
LOGO_WIDTHS = (LOGO_VARIANT,)


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
    def logo_file(self) -> str:
        """The logo's stored variant that pages and emails show ("" for none)."""
        return variant_name(self.logo, LOGO_VARIANT) if self.logo else ""

    def logo_size(self, max_width: int, max_height: int) -> tuple[int, int]:
        """The logo's shown size: its proportions, within the given box."""
        if not (self.logo_width and self.logo_height):
            return max_width, max_height
        scale = min(max_width / self.logo_width, max_height / self.logo_height, 1)
        return max(1, round(self.logo_width * scale)), max(
            1, round(self.logo_height * scale)
        )

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


class IdentityRefused(DomainError):
    """A field of the identity cannot be saved; the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _channel(value: int) -> float:
    """One sRGB channel (0-255) as linear light, as WCAG 2 defines it."""
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def contrast_with_white(colour: str) -> float:
    """The WCAG contrast ratio of white text on a "#rrggbb" background."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * _channel(red) + 0.7152 * _channel(green)
    luminance += 0.0722 * _channel(blue)
    return 1.05 / (luminance + 0.05)


def colour_problem(colour: str) -> str | None:
    """Why a brand colour cannot be used, or None when it can ("" is the default)."""
    if not colour:
        return None
    if not HEX_COLOUR.match(colour):
        return str(_("Write the colour as # and six hexadecimal digits, e.g. #00507a."))
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST:
        # Rounded down, so that 4.49 is never shown as the 4.5 that is needed.
        shown = format_decimal(int(ratio * 100) / 100, format="0.00")
        needed = format_decimal(MIN_CONTRAST, format="0.0")
        return str(
            _(
                "White text on %(colour)s has a contrast of only %(ratio)s:1; at least "
                "%(needed)s:1 is needed. Choose a darker colour.",
                colour=colour,
                ratio=shown,
                needed=needed,
            )
        )
    return None


def _reply_to(address: str) -> str:
    """A Reply-To address normalised, or IdentityRefused."""
    try:
        normal = normalise_address(address)
    except InvalidAddress:
        raise IdentityRefused("reply_to", _("Enter a valid email address.")) from None
    if not normal.isascii():
        raise IdentityRefused(
            "reply_to",
            _("Use an address with only the letters a to z before the @."),
        )
    return normal


def store_logo(data: bytes) -> dict[str, Any]:
    """Keep an uploaded logo; return its identity fields, or raise ImageRefused.

    SVG is refused by name: it can carry scripts, and many email programs do not
    show it."""
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        raise ImageRefused(
            _("SVG images cannot be used as the logo: save it as PNG, JPEG or WebP.")
        )
    image = store_image(data, LOGO_WIDTHS)
    return {"logo": image.name, "logo_width": image.width, "logo_height": image.height}


def find_logo(name: str) -> dict[str, Any] | None:
    """The identity fields of a logo uploaded before (its name handed back by the
    settings form after another field was refused), or None when no such logo is
    kept (a tampered or forgotten name)."""
    kept = find_image(name, LOGO_VARIANT)
    if kept is None:
        return None
    return {"logo": name, "logo_width": kept.width, "logo_height": kept.height}


def save(values: Mapping[str, Any], by: str) -> list[str]:
    """Keep the identity administrators set (an empty value: the default) and
    audit each changed field with its value before and after; return their names.

    `values` holds every field; the logo's name and size come from store_image."""
    wanted: dict[str, Any] = {}
    for key in FIELDS:
        value = values.get(key, "")
        if isinstance(value, str):
            value = one_line_ending(value).strip()
        if value in ("", None, 0):
            continue
        wanted[key] = value
    colour = str(wanted.get("brand_colour", "")).lower()
    if problem := colour_problem(colour):
        raise IdentityRefused("brand_colour", problem)
    if colour:
        wanted["brand_colour"] = colour
    if "reply_to" in wanted:
        wanted["reply_to"] = _reply_to(str(wanted["reply_to"]))
    before = stored()
    # Text saved with CR LF before line endings were made one is not a change.
    changed = sorted(k for k in FIELDS if _as_saved(before.get(k)) != wanted.get(k))
    if not changed:
        return []
    row = db.session.get(Setting, IDENTITY)
    if row is None:
        db.session.add(Setting(key=IDENTITY, value=wanted, updated_by=by))
    else:
        row.value = wanted
        row.updated_by = by
    audit.record(
        "identity.changed",
        "setting",
        None,
        IDENTITY,
        {k: [before.get(k, ""), wanted.get(k, "")] for k in changed},
    )
    db.session.flush()
    forget()
    return changed


def _as_saved(value: Any) -> Any:
    """A stored value as save() would keep it now."""
    return one_line_ending(value) if isinstance(value, str) else value


def sender(mail_from: str) -> str:
    """MAIL_FROM with the identity's display name (its address stays)."""
    name, address = parseaddr(mail_from)
    # One header line: a line break in a stored name would stop every email.
    shown = " ".join((identity().sender_name or name).split())
    return formataddr((shown, address))


def forget() -> None:
    """Drop this request's copy after a change, so the next read sees it."""
    g.pop("identity", None)
