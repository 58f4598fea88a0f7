"""Form fields whose data has one type, so views hand services plain values.

WTForms leaves a text field's data at None when the field is missing from the post
and has no default; these fields use "" instead, and say so to the type checker.
Each keeps the name and widget of the WTForms field it stands for.
"""

from __future__ import annotations

from typing import Any

from wtforms import Field
from wtforms import StringField as _StringField
from wtforms.widgets import EmailInput, HiddenInput, PasswordInput, TextArea, URLInput


class StringField(_StringField):
    """A one-line text input whose data is always a string ("" when absent)."""

    data: str

    def process_data(self, value: Any) -> None:
        """Take the default or the object's value; nothing becomes ""."""
        self.data = "" if value is None else str(value)


class TextAreaField(StringField):
    """A multi-line text input whose data is always a string."""

    widget = TextArea()


class EmailField(StringField):
    """An email input whose data is always a string."""

    widget = EmailInput()


class URLField(StringField):
    """A web address input whose data is always a string."""

    widget = URLInput()


class PasswordField(StringField):
    """A password input whose data is always a string; never shown back."""

    widget = PasswordInput()


class HiddenField(StringField):
    """A hidden input whose data is always a string."""

    widget = HiddenInput()


def add_error(field: Field, message: str) -> None:
    """Show a message under a field after validation (a service refused its value)."""
    field.errors = [*field.errors, message]
