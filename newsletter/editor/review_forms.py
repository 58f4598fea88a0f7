"""Forms of review: asking for review, approving, commenting, the settings page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Form, HiddenField, RadioField, SelectField
from wtforms import TextAreaField as _TextAreaField

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from newsletter.content import text_input
from newsletter.editor.forms import MonthChoices
from newsletter.form_fields import EmailField, StringField, TextAreaField
from newsletter.services.identity import colour_problem
from newsletter.services.review import MAX_COMMENT, MAX_MESSAGE


class ReviewRequestForm(FlaskForm):
    """Ask for review, naming reviewers who get an email."""

    reviewers = MonthChoices(
        _l("Reviewers to notify"),
        coerce=int,
        validate_choice=True,
        description=_l("They get an email with a link to the issue. Optional."),
    )
    message = _TextAreaField(
        _l("Message to the reviewers"),
        validators=[Length(max=MAX_MESSAGE)],
        filters=[text_input],
    )


class ApproveForm(FlaskForm):
    """Approve the issue as it was when the page was opened."""

    version = HiddenField()
    stamp = HiddenField()


class CommentForm(FlaskForm):
    """A comment on the issue or one of its items."""

    item_id = SelectField(_l("About"), coerce=int, default=0)
    body = _TextAreaField(
        _l("Comment"),
        validators=[
            DataRequired(_l("Write a comment.")),
            Length(max=MAX_COMMENT),
        ],
        filters=[text_input],
    )


def brand_colour(form: Form, field: StringField) -> None:
    """Refuse a colour that white header text cannot be read on."""
    field.data = field.data.lower()
    if problem := colour_problem(field.data):
        raise ValidationError(problem)


def _text(label: str, limit: int, description: str = "") -> StringField:
    """An optional one-line identity field: empty means the default."""
    return StringField(
        label,
        validators=[Length(max=limit)],
        filters=[text_input],
        description=description,
    )


def _lines(label: str, limit: int, description: str = "") -> TextAreaField:
    """An optional multi-line identity field."""
    return TextAreaField(
        label,
        validators=[Length(max=limit)],
        filters=[text_input],
        description=description,
    )


class IdentityFields:
    """The organisation's identity, each field empty for its default."""

    organisation = _text(_l("Organisation"), 200)
    tagline = _text(_l("Tagline"), 300)
    newsletter_name = _text(_l("Newsletter name"), 200)
    logo = FileField(
        _l("Logo"),
        description=_l(
            "PNG, JPEG or WebP. Shown in the email and page headers with the "
            "organisation's name as its text alternative."
        ),
    )
    # A logo uploaded with a refused form, kept for the next save.
    pending_logo = HiddenField()
    remove_logo = BooleanField(_l("Remove the logo"))
    brand_colour = StringField(
        _l("Brand colour"),
        validators=[brand_colour],
        filters=[text_input],
        description=_l(
            "# and six hexadecimal digits. White text on it needs a contrast of at "
            "least 4.5:1."
        ),
    )
    postal_address = _lines(_l("Postal address"), 500)
    editorial_contact = _lines(
        _l("Editorial contact"),
        500,
        _l("Name, email address and phone number; addresses and numbers become links."),
    )
    footer_text = _lines(_l("Footer text"), 500)
    sender_name = _text(
        _l("Sender name"), 100, _l("The name shown beside the sender's address.")
    )
    reply_to = EmailField(
        _l("Reply-to address"),
        validators=[
            Optional(),
            Length(max=320),
            Email(_l("Enter a valid email address."), check_deliverability=False),
        ],
        filters=[text_input],
        description=_l("Where replies to the newsletter go."),
    )
    feed_title = _text(_l("Feed title"), 200)
    feed_description = _text(_l("Feed description"), 500)


REQUIRE_APPROVAL_CHOICES = {"on": True, "off": False, "automatic": None}


class SettingsForm(IdentityFields, FlaskForm):
    """The organisation's settings: approval and the identity."""

    require_approval = RadioField(
        _l("Approval before sending"),
        choices=[
            SelectChoice("on", _l("On: a second person approves every issue")),
            SelectChoice("off", _l("Off: publishers send without a second approval")),
            SelectChoice("automatic", _l("Automatic: on with two or more publishers")),
        ],
        default="automatic",
    )
