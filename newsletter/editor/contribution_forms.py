"""Forms of the contributors and inbox pages: links for partners, decisions on
their proposals."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired, Length, Optional

from newsletter.content import text_input
from newsletter.editor.forms import ItemForm, no_markup
from newsletter.form_fields import HiddenField, StringField, TextAreaField
from newsletter.subscribe.forms import AddressField


class ContributionLinkForm(FlaskForm):
    """A new contribution link: the organisation and the person it is given to."""

    organisation = StringField(
        _l("Organisation"),
        validators=[
            DataRequired(_l("Enter the partner organisation.")),
            Length(max=200),
            no_markup,
        ],
        filters=[text_input],
        description=_l('For example "Kalmar kommun".'),
    )
    contact_email = AddressField(
        _l("Contact's email address"),
        validators=[
            DataRequired(_l("Enter the contact's email address.")),
            Length(max=320),
        ],
        filters=[text_input],
    )
    contact_name = StringField(
        _l("Contact's name (optional)"),
        validators=[Length(max=120), no_markup],
        filters=[text_input],
    )
    expires_on = DateField(
        _l("Valid until (optional)"),
        validators=[Optional()],
        description=_l("The last day the link takes proposals. Empty: until revoked."),
    )


class AcceptForm(ItemForm):
    """A proposal as the item it becomes: the item's fields and the target issue.

    The issue is checked by the service (an issue may start sending while the
    editor reads), so a vanished choice gets a clear message, not "Not a valid
    choice".
    """

    issue_id = SelectField(_l("Issue"), coerce=int, validate_choice=False)


class ReturnForm(FlaskForm):
    """Ask the proposer for changes: what to change is required."""

    message = TextAreaField(
        _l("What should the proposer change?"),
        validators=[
            DataRequired(_l("Write what the proposer should change.")),
            Length(max=5000),
        ],
        filters=[text_input],
        description=_l("Sent to the proposer with a link to their proposal."),
    )
    version = HiddenField()


class DeclineForm(FlaskForm):
    """Decline a proposal, optionally saying why."""

    message = TextAreaField(
        _l("Message to the proposer (optional)"),
        validators=[Length(max=5000)],
        filters=[text_input],
    )
    version = HiddenField()
