"""Form fields whose data has one type: views hand services strings, never None."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict
from wtforms import Form

from newsletter.form_fields import (
    EmailField,
    PasswordField,
    StringField,
    TextAreaField,
    add_error,
)


class ProfileForm(Form):
    """A form of every kind of text field."""

    name = StringField()
    about = TextAreaField()
    email = EmailField()
    password = PasswordField()


def test_text_fields_left_out_of_a_post_read_as_empty_strings():
    form = ProfileForm(MultiDict({"name": "Anna"}))
    assert (form.name.data, form.about.data, form.email.data) == ("Anna", "", "")
    assert form.password.data == ""


def test_text_fields_take_an_objects_values_and_keep_their_widgets():
    class Profile:
        name = "Anna"
        about = None
        email = "anna@example.se"
        password = "secret"

    form = ProfileForm(obj=Profile())
    assert (form.name.data, form.about.data) == ("Anna", "")
    assert "<textarea" in form.about()
    assert 'type="email"' in form.email()
    assert 'type="password"' in form.password() and "secret" not in form.password()


def test_an_error_added_after_validation_is_shown_with_the_others():
    form = ProfileForm(MultiDict({"name": "Anna"}))
    form.validate()
    add_error(form.name, "Taken.")
    assert form.errors == {"name": ["Taken."]}
