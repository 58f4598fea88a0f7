"""Editor forms: field limits and messages live here, next to the views."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
)

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from newsletter.content import is_allowed_url, markup_in, text_input, with_scheme
from newsletter.form_fields import (
    EmailField,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
)
from newsletter.labels import role_label
from newsletter.models import Role
from newsletter.request_limits import size_label
from newsletter.services import plan
from newsletter.services.editors import MIN_PASSWORD_LENGTH
from newsletter.services.subscribers import InvalidAddress, normalise_address

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
PHONE_PATTERN = r"^[0-9 +()\-–]*$"
EXTRA_LINK_ROWS = 2
MAX_TEST_ADDRESSES = 10
MAX_LINKS = 50
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def phone_field() -> StringField:
    """A contact's phone number, optional: digits, spaces, +, - and ()."""
    return StringField(
        _l("Phone"),
        validators=[
            Length(max=40),
            Regexp(PHONE_PATTERN, message=_l("Use digits, spaces, +, - and ().")),
        ],
        filters=[text_input],
    )


def optional_email_field(label: str) -> EmailField:
    """A contact's email address, optional, checked for its form only."""
    return EmailField(
        label,
        validators=[
            Optional(),
            Length(max=320),
            Email(_l("Enter a valid email address."), check_deliverability=False),
        ],
        filters=[text_input],
    )


def no_markup(form: Form, field: StringField) -> None:
    """Refuse markup, closed or not, in a title, name or label: these are plain text
    in pages, email and feeds, where a reader may take them for HTML."""
    markup = markup_in(field.data or "")
    if markup:
        raise ValidationError(
            # Not lazy: the message repeats what the editor typed.
            gettext(
                "Write plain text without HTML: remove %(tag)s, or put a space "
                "after <.",
                tag=markup,
            )
        )


ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[A-Za-z]\?")


def no_encoded_word(form: FlaskForm, field: StringField) -> None:
    """Refuse "=?charset?q?" in a title that becomes a subject line: mail programs
    would decode it as header syntax, not show it as typed."""
    if ENCODED_WORD.search(field.data or ""):
        raise ValidationError(
            gettext("Titles cannot contain the character sequence =?…?=.")
        )


class LoginForm(FlaskForm):
    """Log in with address and password."""

    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=320)],
        filters=[text_input],
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=200)],
    )
    remember = BooleanField(_l("Keep me logged in on this computer"))


class IssueForm(FlaskForm):
    """An issue's header: title, slug, intro and preheader."""

    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(_l("Give the issue a title.")),
            Length(max=200),
            no_markup,
            no_encoded_word,
        ],
        filters=[text_input],
        description=_l('For example "Nyhetsbrev februari 2026".'),
    )
    slug = StringField(
        _l("Address (slug)"),
        validators=[
            Optional(),
            Length(max=100),
            Regexp(
                SLUG_PATTERN,
                message=_l("Use lower-case letters a–z, digits and hyphens only."),
            ),
        ],
        filters=[text_input, str.lower],
        description=_l("Part of the web address. Leave empty to derive it."),
    )
    preheader = StringField(
        _l("Preheader"),
        validators=[Length(max=200)],
        filters=[text_input],
        description=_l("A short line that email programs show after the subject."),
    )
    intro = TextAreaField(
        _l("Introduction"),
        validators=[Length(max=5000)],
        filters=[text_input],
        description=_l(
            "Shown above the sections. Pasted text keeps its paragraphs, lists, "
            "bold type and links."
        ),
    )
    publish_on = DateField(
        _l("Publication date"),
        validators=[Optional()],
        description=_l("The day the issue is planned to come out."),
    )
    contribution_deadline = DateField(
        _l("Last day for proposals"),
        validators=[Optional()],
        description=_l(
            "Partners may propose items until the end of this day; those with a "
            "contribution link are reminded a few days before."
        ),
    )
    version = HiddenField()

    def validate_contribution_deadline(self, field: DateField) -> None:
        """Require a publication date on or after the deadline."""
        if field.data is None:
            return
        if self.publish_on.data is None:
            raise ValidationError(_l("Set the publication date too."))
        if field.data > self.publish_on.data:
            raise ValidationError(
                _l("The deadline must be on or before the publication date.")
            )


class MonthChoices(SelectMultipleField):
    """Months as a list of checkboxes; the chosen month numbers."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class YearPlanForm(FlaskForm):
    """Create a year's issues at once: a title pattern, months, day and deadline."""

    year = IntegerField(
        _l("Year"),
        validators=[
            InputRequired(_l("Give the year.")),
            NumberRange(2000, 2999, _l("Give a year such as 2027.")),
        ],
    )
    pattern = StringField(
        _l("Title pattern"),
        default=plan.DEFAULT_PATTERN,
        validators=[
            DataRequired(_l("Give a title pattern.")),
            Length(max=150),
            no_markup,
            no_encoded_word,
        ],
        filters=[text_input],
        description=_l(
            "{månad} becomes the month's name and {år} the year ({month} and {year} "
            "work too)."
        ),
    )
    months = MonthChoices(_l("Months"), coerce=int, default=list(plan.DEFAULT_MONTHS))
    publish_day = IntegerField(
        _l("Publication day of the month"),
        default=plan.DEFAULT_PUBLISH_DAY,
        validators=[
            InputRequired(_l("Give a day of the month.")),
            NumberRange(1, 31, _l("Give a day from 1 to 31.")),
        ],
        description=_l("In a shorter month, its last day."),
    )
    deadline_days = IntegerField(
        _l("Deadline for proposals, days before publication"),
        default=plan.DEFAULT_DEADLINE_DAYS,
        validators=[
            InputRequired(_l("Give a number of days.")),
            NumberRange(0, 120, _l("Give a number from 0 to 120.")),
        ],
    )

    def validate_pattern(self, field: StringField) -> None:
        """Refuse a placeholder that would not be filled in."""
        try:
            plan.check_pattern(field.data or "")
        except plan.BadPattern as error:
            if error.placeholder is None:
                raise ValidationError(
                    _l("Write each placeholder in braces, like {månad}.")
                ) from None
            raise ValidationError(
                # Not lazy: the message repeats what the editor typed.
                gettext(
                    "{%(name)s} is not a placeholder we know. Use {månad} and {år} "
                    "(or {month} and {year}).",
                    name=error.placeholder,
                )
            ) from None

    def validate_months(self, field: MonthChoices) -> None:
        """Require at least one month."""
        if not field.data:
            raise ValidationError(_l("Choose at least one month."))


class LinkForm(Form):
    """One resource link of an item; a row with neither field is ignored."""

    # Not "label": FormField.label would shadow it.
    text = StringField(
        _l("Label"), validators=[Length(max=200), no_markup], filters=[text_input]
    )
    url = StringField(
        _l("Web address"),
        validators=[Length(max=2000)],
        filters=[text_input, with_scheme],
    )

    def validate_url(self, field: StringField) -> None:
        """Require an http, https or mailto address when a label is given."""
        if not field.data and self.text.data:
            raise ValidationError(_l("Enter the address the label links to."))
        if field.data and not is_allowed_url(field.data):
            raise ValidationError(
                _l("Use a full address starting with https://, http:// or mailto:.")
            )

    def validate_text(self, field: StringField) -> None:
        """Require a label when an address is given."""
        if self.url.data and not field.data:
            raise ValidationError(_l("Enter the text readers see for the link."))


class ItemForm(FlaskForm):
    """An item: title, Markdown text, theme, contact person and resource links."""

    theme_id = SelectField(_l("Section"), coerce=int)
    # An item may have no title (a short notice is its text alone).
    title = StringField(
        _l("Title"),
        validators=[Length(max=200), no_markup],
        filters=[text_input],
        description=_l("May be left empty when the text says it all."),
    )
    body = TextAreaField(
        _l("Text"),
        validators=[Length(max=20000)],
        filters=[text_input],
        description=_l(
            "Pasted text keeps its paragraphs, lists, bold type and links. To type "
            "a list, begin each line with a dash (-) or a number (1.); addresses "
            "that begin with www. or https:// become links."
        ),
    )
    contact_name = StringField(
        _l("Contact person"),
        validators=[Length(max=120), no_markup],
        filters=[text_input],
    )
    contact_phone = phone_field()
    contact_email = optional_email_field(_l("Contact email"))
    # Offered from the contacts directory; "use" fills the fields above without
    # saving (the script does the same at once), "save" adds a new contact.
    saved_contact = SelectField(_l("Saved contact"), coerce=int, default=0)
    save_contact = BooleanField(_l("Save in the contact directory"))
    links = FieldList(FormField(LinkForm), min_entries=1)
    image = FileField(
        _l("Image file"),
        description=_l("PNG, JPEG or WebP. Shown 600 pixels wide in the email."),
        render_kw={"accept": "image/png,image/jpeg,image/webp"},
    )
    image_alt = StringField(
        _l("Alt text"),
        validators=[Length(max=300), no_markup],
        filters=[text_input],
        description=_l(
            "Read aloud to people who cannot see the image, and shown when the "
            "email program blocks images. Say in a sentence what the image shows "
            'that matters here, without "Image of".'
        ),
    )
    image_decorative = BooleanField(
        _l("Decorative image: it adds nothing the text does not already say")
    )
    remove_image = BooleanField(_l("Remove the image"))
    erase_image = BooleanField(
        _l("Erase the present image completely"),
        description=_l(
            "For a picture that must not be shown any more. It is also taken out "
            "of the item's earlier versions and its file is deleted at once, so "
            "its address shows nothing, in emails already sent too. It cannot be "
            "restored."
        ),
    )
    # An image uploaded with a form that was shown again (another field had an
    # error): its stored name, so that it is not lost.
    pending_image = HiddenField()
    # The image the item had when the form was opened: the one "erase" means.
    erase_target = HiddenField()
    version = HiddenField()
    # The image the item has now, set by the view ("" for a new item).
    current_image = ""

    def validate_body(self, field: TextAreaField) -> None:
        """Require a text when the title is empty: an item cannot be blank."""
        if not self.title.data and not field.data:
            raise ValidationError(_l("Give the item a title or a text."))

    def will_have_image(self) -> bool:
        """Whether the item has an image after this save."""
        upload = self.image.data
        if isinstance(upload, FileStorage) and upload.filename:
            return True
        if self.remove_image.data:
            return False
        return bool(self.pending_image.data or self.current_image)

    def validate_image_alt(self, field: StringField) -> None:
        """Require an alt text for an image unless it is marked decorative."""
        if self.will_have_image() and not self.image_decorative.data and not field.data:
            raise ValidationError(
                gettext(
                    "Write an alt text that says what the image shows, or mark the "
                    "image as decorative."
                )
            )

    def validate_links(self, field: FieldList) -> None:
        """Refuse more links than an item can carry, rather than dropping some."""
        used = [row for row in field if row.text.data or row.url.data]
        if len(used) > MAX_LINKS:
            raise ValidationError(
                _l("An item can have at most %(num)d links.", num=MAX_LINKS)
            )


class DuplicateForm(FlaskForm):
    """The title of the copy."""

    title = StringField(
        _l("Title of the new issue"),
        validators=[
            DataRequired(_l("Give the issue a title.")),
            Length(max=200),
            no_markup,
            no_encoded_word,
        ],
        filters=[text_input],
    )


class ThemeForm(FlaskForm):
    """A theme's name and description."""

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Give the theme a name.")),
            Length(max=80),
            no_markup,
        ],
        filters=[text_input],
    )
    description = StringField(
        _l("Description"),
        validators=[Length(max=500), no_markup],
        filters=[text_input],
    )


class PasswordFields(FlaskForm):
    """A new password typed twice."""

    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Enter a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=_l("Use at least %(num)d characters.", num=MIN_PASSWORD_LENGTH),
            ),
            Length(max=200, message=_l("Use at most 200 characters.")),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", _l("The passwords do not match."))],
    )


class AccountPasswordForm(PasswordFields):
    """Changing one's own password needs the current one."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=200)],
    )


def role_choices() -> list[tuple[str, str]]:
    """Return the four roles with their names in the reader's language."""
    return [(role.value, role_label(role)) for role in Role]


class NewEditorForm(PasswordFields):
    """A new editor account."""

    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Enter a name.")), Length(max=120)],
        filters=[text_input],
    )
    email = EmailField(
        _l("Email address"),
        validators=[
            DataRequired(_l("Enter an email address.")),
            Length(max=320),
            Email(_l("Enter a valid email address."), check_deliverability=False),
        ],
        filters=[text_input],
    )
    role = SelectField(
        _l("Role"),
        choices=role_choices,
        default=Role.EDITOR.value,
        description=_l(
            "Administrator: accounts, themes and settings. Publisher: approves and"
            " sends. Editor: composes and asks for review. Reviewer: reads and"
            " comments."
        ),
    )


class EditorRoleForm(FlaskForm):
    """An editor's role and whether the account is active."""

    role = SelectField(
        _l("Role"),
        choices=role_choices,
        validators=[InputRequired(_l("Choose a role."))],
    )
    active = BooleanField(_l("Active"))


class TestSendForm(FlaskForm):
    """Addresses that get a test copy of the issue."""

    addresses = TextAreaField(
        _l("Send a test to"),
        validators=[
            DataRequired(_l("Enter at least one email address.")),
            Length(max=2000),
        ],
        filters=[text_input],
        description=_l("Up to 10 addresses, separated by commas or new lines."),
    )
    recipients: list[str]  # the normalised addresses, once valid

    def validate_addresses(self, field: TextAreaField) -> None:
        """Check every address and keep the normalised list in self.recipients."""
        raw = [a for a in re.split(r"[\s,;]+", field.data or "") if a]
        if len(raw) > MAX_TEST_ADDRESSES:
            raise ValidationError(
                _l("At most %(num)d addresses at a time.", num=MAX_TEST_ADDRESSES)
            )
        try:
            self.recipients = sorted({normalise_address(a) for a in raw})
        except InvalidAddress:
            bad = next(a for a in raw if not _valid(a))
            raise ValidationError(
                # Not lazy: a lazy string is marked safe HTML, and this one
                # carries what the editor typed.
                gettext("%(address)s is not a valid email address.", address=bad)
            ) from None


def _valid(address: str) -> bool:
    """Return whether an address passes validation."""
    try:
        normalise_address(address)
    except InvalidAddress:
        return False
    return True


class ScheduleForm(FlaskForm):
    """When to start sending, in Stockholm time."""

    send_at = DateTimeLocalField(
        _l("Send at (Swedish time)"),
        format="%Y-%m-%dT%H:%M",
        validators=[DataRequired(_l("Choose a date and time."))],
    )
    send_at_utc: datetime  # the chosen time in UTC, once valid

    def validate_send_at(self, field: DateTimeLocalField) -> None:
        """Interpret the time in Stockholm and require it to be in the future."""
        if field.data is None:  # DataRequired has already said so
            return
        local = field.data.replace(tzinfo=STOCKHOLM)
        try:
            self.send_at_utc = local.astimezone(UTC)
        except OverflowError:  # the first hour of year 1
            raise ValidationError(_l("Choose a time in the future.")) from None
        if self.send_at_utc <= datetime.now(UTC):
            raise ValidationError(_l("Choose a time in the future."))


class ImportUploadForm(FlaskForm):
    """A CSV file of subscribers, at most ``limit`` bytes."""

    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a file."))])

    def __init__(self, limit: int, **kwargs: object) -> None:
        """Bind the form and tell the editor how large the file may be."""
        super().__init__(**kwargs)
        self.file.description = gettext(
            "Columns email,name,themes; themes as slugs or names separated by |, "
            "empty for every theme. Comma or semicolon, UTF-8. At most %(size)s.",
            size=size_label(limit),
        )


class ImportConfirmForm(FlaskForm):
    """How to import: ask each address to confirm, or attest that they consented."""

    mode = RadioField(
        _l("How the addresses join"),
        choices=[
            SelectChoice("confirm", _l("Send each address a confirmation email")),
            SelectChoice(
                "attested", _l("Import as confirmed: the people have already consented")
            ),
        ],
        default="confirm",
    )
    attestation = TextAreaField(
        _l("Attestation"),
        validators=[Length(max=2000)],
        filters=[text_input],
        description=_l(
            "Required to import as confirmed: describe when and how these people "
            "consented. It is stored as their consent record."
        ),
    )

    def validate_attestation(self, field: TextAreaField) -> None:
        """Confirmed imports need a real attestation."""
        if self.mode.data == "attested" and len(field.data or "") < 20:
            raise ValidationError(_l("Describe the consent in at least 20 characters."))


class ContactForm(FlaskForm):
    """A contact in the directory: name, title, organisation, phone, email."""

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Give the contact a name.")),
            Length(max=120),
            no_markup,
        ],
        filters=[text_input],
    )
    title = StringField(
        _l("Job title"), validators=[Length(max=120), no_markup], filters=[text_input]
    )
    organisation = StringField(
        _l("Organisation"),
        validators=[Length(max=200), no_markup],
        filters=[text_input],
    )
    phone = phone_field()
    email = optional_email_field(_l("Email"))


class SectionContactForm(FlaskForm):
    """The contact of one section of an issue: typed, or copied from a saved one."""

    saved_contact = SelectField(_l("Saved contact"), coerce=int, default=0)
    contact_name = StringField(
        _l("Contact person"),
        validators=[Length(max=120), no_markup],
        filters=[text_input],
    )
    contact_phone = phone_field()
    contact_email = optional_email_field(_l("Contact email"))


class MergeContactsForm(FlaskForm):
    """Two contacts that are the same person: one is kept, one merged into it."""

    keep = SelectField(_l("Keep"), coerce=int)
    drop = SelectField(_l("Merge into it and remove"), coerce=int)

    def validate_drop(self, field: SelectField) -> None:
        """Refuse merging a contact into itself."""
        if field.data == self.keep.data:
            raise ValidationError(_l("Pick two different contacts."))


class ActionForm(FlaskForm):
    """A button that posts: carries only the CSRF token."""


class MoveForm(FlaskForm):
    """Move something one step up or down."""

    step = IntegerField(validators=[InputRequired()])

    def validate_step(self, field: IntegerField) -> None:
        """Accept only one step up or down."""
        if field.data not in (-1, 1):
            raise ValidationError("step must be -1 or 1")


class CorrectionForm(ItemForm):
    """A sent item's corrected fields and the public note; the section stays."""

    theme_id = None  # type: ignore[assignment]
    note = StringField(
        _l("Correction note"),
        validators=[
            DataRequired(_l("Say briefly what was corrected.")),
            Length(max=300),
            no_markup,
        ],
        filters=[text_input],
        description=_l(
            "Shown to readers in the archive and the feeds: "
            "“Corrected 3 March 2026: …”."
        ),
    )


class RestoreForm(FlaskForm):
    """Restore a revision, from the item's version the page was opened at."""

    version = HiddenField()
