"""The proposal form: an item to be, its contact person, links and a note."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, RadioField, SelectField
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from newsletter.content import text_input
from newsletter.editor.forms import (
    LinkForm,
    no_encoded_word,
    no_markup,
    optional_email_field,
    phone_field,
)
from newsletter.form_fields import HiddenField, StringField, TextAreaField
from newsletter.services.contributions import MAX_LINKS, LinkData, ProposalData
from newsletter.subscribe.forms import AddressField


class LinkRows(FieldList):
    """Link rows whose empty rows are added after the posted ones: WTForms renumbers
    posted rows with gaps (0, 2 become 0, 1) and would then read row 2 again."""

    def process(
        self,
        formdata: Any,
        data: Any = unset_value,
        extra_filters: Any = None,
    ) -> None:
        """Take the posted or given rows, then add empty ones up to min_entries."""
        wanted, self.min_entries = self.min_entries, 0
        try:
            super().process(formdata, data, extra_filters)
        finally:
            self.min_entries = wanted
        while len(self.entries) < self.min_entries:
            self._add_entry()  # type: ignore[attr-defined]  # not in the stubs


# Link rows shown open without JavaScript; the rest wait in a <details>.
OPEN_LINK_ROWS = 3


class ProposalLinkForm(LinkForm):
    """One link of a proposal: as an item's link, but web addresses only."""

    def validate_url(self, field: StringField) -> None:
        """Require an http or https address when a label is given."""
        super().validate_url(field)
        scheme = field.data.partition(":")[0].lower()
        if field.data and scheme not in ("http", "https"):
            raise ValidationError(
                _l("Use a full address starting with https:// or http://.")
            )


class ProposalForm(FlaskForm):
    """What a partner proposes; limits as an item's, plus a few of its own."""

    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(_l("Give the proposal a title.")),
            Length(max=200, message=_l("The title can be at most 200 characters.")),
            no_markup,
            no_encoded_word,
        ],
        filters=[text_input],
    )
    body = TextAreaField(
        _l("Text"),
        validators=[
            DataRequired(_l("Write the text of the item.")),
            Length(max=20000, message=_l("The text can be at most 20,000 characters.")),
        ],
        filters=[text_input],
        description=_l(
            "Pasted text keeps its paragraphs, lists, bold type and links. To type "
            "a list, begin each line with a dash (-) or a number (1.); addresses "
            "that begin with www. or https:// become links."
        ),
    )
    theme_id = RadioField(
        _l("Theme"), coerce=int, validators=[InputRequired(_l("Choose a theme."))]
    )
    # Offered from the directory, only the link's organisation's contacts.
    saved_contact = SelectField(_l("Saved contact"), coerce=int, default=0)
    contact_name = StringField(
        _l("Contact person"),
        validators=[Length(max=120), no_markup],
        filters=[text_input],
    )
    contact_title = StringField(
        _l("Job title"), validators=[Length(max=120), no_markup], filters=[text_input]
    )
    contact_organisation = StringField(
        _l("Organisation"),
        validators=[Length(max=200), no_markup],
        filters=[text_input],
    )
    contact_phone = phone_field()
    contact_email = optional_email_field(_l("Contact email"))
    links = LinkRows(FormField(ProposalLinkForm), min_entries=MAX_LINKS)
    note = TextAreaField(
        _l("Note to the editors (optional)"),
        validators=[
            Length(max=2000, message=_l("The note can be at most 2,000 characters."))
        ],
        filters=[text_input],
        description=_l("Only the editors see it; it is not published."),
    )
    proposer_email = AddressField(
        _l("Your email address"),
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=254),
        ],
        filters=[text_input],
        description=_l("We send a receipt and a link to follow the proposal here."),
    )
    # Hidden from people with CSS and from assistive technology; robots fill it in.
    website = StringField(_l("Leave this field empty"), filters=[text_input])
    version = HiddenField()

    def validate_links(self, field: FieldList) -> None:
        """Refuse more links than a proposal can carry, rather than dropping some."""
        if len(self.used_links()) > MAX_LINKS:
            raise ValidationError(
                _l("A proposal can have at most %(num)d links.", num=MAX_LINKS)
            )

    def used_links(self) -> list[LinkData]:
        """The filled link rows, in order; empty rows are ignored."""
        return [
            LinkData(row.text.data, row.url.data)
            for row in self.links
            if row.text.data or row.url.data
        ]

    def data_for_service(self) -> ProposalData:
        """The validated form as the service takes it."""
        return ProposalData(
            title=self.title.data,
            body=self.body.data,
            theme_id=int(self.theme_id.data),
            proposer_email=self.proposer_email.data,
            contact_name=self.contact_name.data,
            contact_title=self.contact_title.data,
            contact_organisation=self.contact_organisation.data,
            contact_phone=self.contact_phone.data,
            contact_email=self.contact_email.data,
            note=self.note.data,
            links=tuple(self.used_links()),
        )

    def open_link_rows(self) -> int:
        """How many link rows to show open: three, or every filled one."""
        filled = [
            i for i, row in enumerate(self.links) if row.text.data or row.url.data
        ]
        return max(OPEN_LINK_ROWS, filled[-1] + 1 if filled else 0)
