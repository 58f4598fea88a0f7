"""Public forms: sign-up, preferences, a new confirmation link."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectMultipleField

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from newsletter.content import text_input
from newsletter.form_fields import EmailField, StringField
from newsletter.services.subscribers import (
    InvalidAddress,
    normalise_address,
    normalise_name,
)


class ThemeChoices(SelectMultipleField):
    """Themes as a list of checkboxes; the chosen theme ids, never None."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
    data: list[int]

    def process_data(self, value: Any) -> None:
        """Take the default or the object's themes; none is an empty list."""
        super().process_data(value)
        if self.data is None:
            self.data = []


class AddressField(EmailField):
    """An email address, normalised (domain lower-cased) once valid."""

    def pre_validate(self, form: FlaskForm) -> None:
        """Validate with email-validator; keep the normalised address."""
        if not self.data:
            return
        try:
            self.data = normalise_address(self.data)
        except InvalidAddress:
            raise ValidationError(_l("Enter a valid email address.")) from None


class SubscribeForm(FlaskForm):
    """Email, optional name, themes; plus a field only robots fill in."""

    email = AddressField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
        filters=[text_input],
    )
    name = StringField(
        _l("Name (optional)"),
        validators=[Length(max=120)],
        filters=[text_input, normalise_name],
    )
    themes = ThemeChoices(
        _l("Themes"),
        coerce=int,
        validators=[DataRequired(_l("Choose at least one theme."))],
    )
    # Hidden from people with CSS and from assistive technology; robots fill it in.
    website = StringField(_l("Leave this field empty"), filters=[text_input])


class PreferencesForm(FlaskForm):
    """A subscriber's name, themes and language."""

    name = StringField(
        _l("Name"), validators=[Length(max=120)], filters=[text_input, normalise_name]
    )
    themes = ThemeChoices(
        _l("Themes"),
        coerce=int,
        validators=[DataRequired(_l("Choose at least one theme, or unsubscribe."))],
    )
    language = RadioField(
        _l("Language of the emails"),
        choices=[SelectChoice("sv", "Svenska"), SelectChoice("en", "English")],
        default="sv",
    )


class ResendForm(FlaskForm):
    """Ask for a new confirmation link."""

    email = AddressField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
        filters=[text_input],
    )


class EraseForm(FlaskForm):
    """Erasing needs a ticked box, so it never happens by a stray click."""

    sure = BooleanField(
        _l("Yes, delete everything stored about me"),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )
