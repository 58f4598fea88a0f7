"""The inbox: partners' proposals, and the editors' decisions on them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from newsletter.database import get_row
from newsletter.editor.contacts import contact_choices
from newsletter.editor.contribution_forms import AcceptForm, DeclineForm, ReturnForm
from newsletter.editor.forms import EXTRA_LINK_ROWS
from newsletter.editor.issues import _contact_details, _use_saved_contact
from newsletter.editor.item_fields import item_data
from newsletter.errors import InvalidState, NotFound
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.models import Issue, Proposal, ProposalStatus, Theme
from newsletter.models.types import utcnow
from newsletter.services import contacts, proposals, themes
from newsletter.services.contacts import ContactData
from newsletter.services.issues import NotEditable
from newsletter.services.proposals import InboxFilter, StaleProposal

bp = Blueprint("inbox", __name__)


@bp.app_template_filter("proposal_event")
def proposal_event(action: str) -> str:
    """Return the translated name of something that happened to a proposal."""
    labels: dict[str, str] = {
        "proposal.submitted": _("Sent by the partner"),
        "proposal.created": _("Sent by the partner"),
        "proposal.changed": _("Changed by the partner"),
        "proposal.accepted": _("Accepted"),
        "proposal.returned": _("Returned for changes"),
        "proposal.declined": _("Declined"),
    }
    return labels.get(action, action)


def _inbox_filter() -> InboxFilter:
    """Read the inbox filter from the query string; unknown values are ignored."""
    try:
        status = ProposalStatus(request.args.get("status", ProposalStatus.NEW))
    except ValueError:
        status = ProposalStatus.NEW
    return InboxFilter(
        status=status,
        issue_id=request.args.get("issue", type=int),
        theme_id=request.args.get("theme", type=int),
        organisation=request.args.get("organisation", "").strip(),
    )


@bp.get("/inbox")
def proposal_list() -> str:
    """List proposals in one state, newest first, filtered by issue, theme and
    organisation."""
    wanted = _inbox_filter()
    issue_rows = proposals.issues_of_proposals()
    return render_template(
        "editor/inbox.html",
        page=proposals.list_proposals(wanted),
        wanted=wanted,
        states=list(ProposalStatus),
        issues={issue.id: issue for issue in issue_rows},
        themes={theme.id: theme for theme in themes.list_themes()},
        organisations=proposals.organisations(),
        limit=proposals.INBOX_LIMIT,
    )


def _accept_form(proposal: Proposal, posted: bool = False) -> AcceptForm:
    """Build the accept form: as posted, or prefilled from the proposal."""
    if not posted:
        target = proposals.default_issue(proposal, utcnow())
        form = AcceptForm(
            formdata=None,
            data={
                "title": proposal.title,
                "body": proposal.body,
                "theme_id": proposal.theme_id,
                "contact_name": proposal.contact_name,
                "contact_phone": proposal.contact_phone,
                "contact_email": proposal.contact_email,
                "links": [{"text": ln.label, "url": ln.url} for ln in proposal.links],
                "issue_id": target.id if target else 0,
                "version": str(proposal.version),
            },
        )
        for _spare in range(EXTRA_LINK_ROWS):
            form.links.append_entry()
    else:
        form = AcceptForm()
    choices = [SelectChoice(t.id, t.name) for t in themes.list_themes(active_only=True)]
    if proposal.theme_id not in {c.value for c in choices}:
        theme = get_row(Theme, proposal.theme_id)
        choices.append(SelectChoice(theme.id, theme.name))
    form.theme_id.choices = choices
    form.issue_id.choices = [
        SelectChoice(issue.id, issue.title) for issue in proposals.editable_issues()
    ]
    form.saved_contact.choices = [SelectChoice(0, _("None")), *contact_choices()]
    return form


def _decision_forms(proposal: Proposal) -> tuple[ReturnForm, DeclineForm]:
    """Build empty return and decline forms carrying the version shown."""
    version = {"version": str(proposal.version)}
    return (
        ReturnForm(formdata=None, prefix="return", data=version),
        DeclineForm(formdata=None, prefix="decline", data=version),
    )


def _proposal_page(
    proposal: Proposal,
    accept_form: AcceptForm,
    return_form: ReturnForm,
    decline_form: DeclineForm,
) -> tuple[str, int]:
    """Render a proposal with its history and the three decisions."""
    errors = accept_form.errors or return_form.errors or decline_form.errors
    name, phone, email = (
        accept_form.contact_name.data,
        accept_form.contact_phone.data,
        accept_form.contact_email.data,
    )
    return render_template(
        "editor/proposal.html",
        proposal=proposal,
        issue=db.session.get(Issue, proposal.issue_id or 0),
        theme=db.session.get(Theme, proposal.theme_id),
        history=proposals.history(proposal.id),
        item=proposals.accepted_item(proposal.id),
        form=accept_form,
        return_form=return_form,
        decline_form=decline_form,
        saved_contacts=_contact_details(),
        contact_is_new=bool(name) and contacts.find(name, phone, email) is None,
        ProposalStatus=ProposalStatus,
    ), (422 if errors else 200)


@bp.get("/inbox/<int:proposal_id>")
def proposal(proposal_id: int) -> tuple[str, int]:
    """Show everything the partner sent, and the ways to decide on it."""
    record = get_row(Proposal, proposal_id)
    return _proposal_page(record, _accept_form(record), *_decision_forms(record))


def _version(value: str) -> int:
    """Return the version a form was opened at, or 0 for a tampered value."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _refused(proposal_id: int, error: Exception) -> Response:
    """Explain that the proposal moved on since the page was opened; write nothing."""
    db.session.rollback()
    if isinstance(error, StaleProposal):
        message = _(
            "Another editor acted on this proposal, or the partner changed it, "
            "after you opened it. Nothing was saved: see what it looks like now."
        )
    else:
        message = _("This proposal has already been decided. Nothing was saved.")
    flash(message, "error")
    return redirect(url_for("editor.inbox.proposal", proposal_id=proposal_id))


def _save_new_contact(form: AcceptForm, record: Proposal) -> None:
    """Add the accepted contact to the directory when asked and not there yet;
    the title and organisation the partner gave come along."""
    name, phone, email = (
        form.contact_name.data,
        form.contact_phone.data,
        form.contact_email.data,
    )
    if not form.save_contact.data or not name or contacts.find(name, phone, email):
        return
    same = name == record.contact_name
    contacts.create_contact(
        ContactData(
            name=name,
            title=record.contact_title if same else "",
            organisation=record.contact_organisation if same else "",
            phone=phone,
            email=email,
        )
    )
    flash(_("%(name)s is saved in the contact directory.", name=name), "success")


@bp.post("/inbox/<int:proposal_id>/accept")
def accept(proposal_id: int) -> Response | tuple[str, int]:
    """Place the proposal, as edited, at the end of a section of an issue."""
    record = get_row(Proposal, proposal_id)
    form = _accept_form(record, posted=True)
    if not _use_saved_contact(form) and form.validate_on_submit():
        try:
            item = proposals.accept(
                record.id,
                _version(form.version.data),
                form.issue_id.data or 0,
                item_data(form),
                current_user.name,
                utcnow(),
            )
            _save_new_contact(form, record)
            db.session.commit()
        except (NotEditable, NotFound):
            db.session.rollback()
            add_error(
                form.issue_id, _("That issue can no longer change: pick another.")
            )
        except (StaleProposal, InvalidState) as error:
            return _refused(proposal_id, error)
        else:
            flash(_("The proposal is accepted and added to the issue."), "success")
            return redirect(url_for("editor.issues.item", item_id=item.id))
    return _proposal_page(record, form, *_decision_forms(record))


def _answer(
    proposal_id: int,
    form: ReturnForm | DeclineForm,
    decide: Callable[[int, int, str, str, datetime], Proposal],
    done: str,
) -> Response | tuple[str, int]:
    """Return or decline a proposal through its form; shown again with errors."""
    record = get_row(Proposal, proposal_id)
    if form.validate_on_submit():
        try:
            decide(
                record.id,
                _version(form.version.data),
                form.message.data,
                current_user.name,
                utcnow(),
            )
            db.session.commit()
        except (StaleProposal, InvalidState) as error:
            return _refused(proposal_id, error)
        flash(done)
        return redirect(url_for("editor.inbox.proposal_list"))
    return_form, decline_form = _decision_forms(record)
    if isinstance(form, ReturnForm):
        return_form = form
    else:
        decline_form = form
    return _proposal_page(record, _accept_form(record), return_form, decline_form)


@bp.post("/inbox/<int:proposal_id>/return")
def return_proposal(proposal_id: int) -> Response | tuple[str, int]:
    """Ask the proposer for changes; they get the message and their link."""
    return _answer(
        proposal_id,
        ReturnForm(prefix="return"),
        proposals.return_proposal,
        _("The proposal is returned; the proposer is told what to change."),
    )


@bp.post("/inbox/<int:proposal_id>/decline")
def decline(proposal_id: int) -> Response | tuple[str, int]:
    """Decline the proposal; the proposer is told, with the message if any."""
    return _answer(
        proposal_id,
        DeclineForm(prefix="decline"),
        proposals.decline,
        _("The proposal is declined; the proposer is told."),
    )
