"""Forms of review: asking for review, approving, commenting, the settings page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, TextAreaField

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, Length

from newsletter.content import text_input
from newsletter.editor.forms import MonthChoices
from newsletter.services.review import MAX_COMMENT, MAX_MESSAGE


class ReviewRequestForm(FlaskForm):
    """Ask for review, naming reviewers who get an email."""

    reviewers = MonthChoices(
        _l("Reviewers to notify"),
        coerce=int,
        validate_choice=True,
        description=_l("They get an email with a link to the issue. Optional."),
    )
    message = TextAreaField(
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
    body = TextAreaField(
        _l("Comment"),
        validators=[
            DataRequired(_l("Write a comment.")),
            Length(max=MAX_COMMENT),
        ],
        filters=[text_input],
    )


REQUIRE_APPROVAL_CHOICES = {"on": True, "off": False, "automatic": None}


class SettingsForm(FlaskForm):
    """The organisation's settings."""

    require_approval = RadioField(
        _l("Approval before sending"),
        choices=[
            SelectChoice("on", _l("On: a second person approves every issue")),
            SelectChoice("off", _l("Off: publishers send without a second approval")),
            SelectChoice("automatic", _l("Automatic: on with two or more publishers")),
        ],
        default="automatic",
    )
