"""The partner's pages: propose an item through a contribution link, then follow
and change the proposal through its private link. No account, no public trace:
what a proposer writes is shown only on pages reached with its private token."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from newsletter.config import settings
from newsletter.contribute.forms import ProposalForm
from newsletter.errors import InvalidState
from newsletter.extensions import db, limiter
from newsletter.i18n import show_in
from newsletter.models import Contact, Proposal, ProposalStatus, Theme
from newsletter.models.types import utcnow
from newsletter.services import contributions, plan, themes
from newsletter.services.contributor_links import (
    LinkClosed,
    open_link,
    proposal_by_token,
    proposal_token,
    proposal_url,
)
from newsletter.services.identity import identity
from newsletter.web import answer_domain_errors

bp = Blueprint("contribute", __name__, url_prefix="/contribute")
answer_domain_errors(bp)


def _per_link_limit() -> str:
    return settings().contribution_limit_per_link


def _per_address_limit() -> str:
    return settings().contribution_limit_per_address


def _link_key() -> str:
    """Count POSTs per token, whatever address they come from."""
    return "contribute " + str((request.view_args or {}).get("token", ""))[:200]


def _counted(response: Response) -> bool:
    """Count what was stored (a redirect) and refusals of robots (400): a partner
    correcting a form error or filling in a saved contact uses up nothing."""
    return response.status_code in (302, 400)


per_link = limiter.limit(
    _per_link_limit, key_func=_link_key, methods=["POST"], deduct_when=_counted
)
per_address = limiter.shared_limit(
    _per_address_limit,
    scope="contribute",
    key_func=get_remote_address,
    methods=["POST"],
    deduct_when=_counted,
)


@bp.after_request
def private_pages(response: Response) -> Response:
    """Tokens sit in these URLs: keep the pages out of caches and referrers."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _prepare(form: ProposalForm, contacts: list[Contact]) -> None:
    """Offer the active themes and the organisation's saved contacts."""
    form.theme_id.choices = [
        SelectChoice(t.id, t.name) for t in themes.list_themes(active_only=True)
    ]
    form.saved_contact.choices = [
        SelectChoice(0, _("None")),
        *(SelectChoice(c.id, _contact_label(c)) for c in contacts),
    ]


def _contact_label(contact: Contact) -> str:
    return ", ".join(part for part in (contact.name, contact.title) if part)


def _copy_saved_contact(form: ProposalForm, contacts: list[Contact]) -> bool:
    """Without JavaScript: copy a chosen saved contact into empty contact fields.

    Returns True when the visitor pressed "Use this contact" (show the form again,
    filled, and save nothing)."""
    chosen = next((c for c in contacts if c.id == form.saved_contact.data), None)
    fields = contributions.contact_details(chosen) if chosen else {}
    if fields and not any(form[name].data for name in fields):
        for name, value in fields.items():
            form[name].data = value
    return "use_contact" in request.form


def _saved_contacts_json(contacts: list[Contact]) -> dict[int, dict[str, str]]:
    """The organisation's contacts for the script that fills the fields at once."""
    return {
        c.id: {
            "name": c.name,
            "title": c.title,
            "organisation": c.organisation,
            "phone": c.phone,
            "email": c.email,
        }
        for c in contacts
    }


def _closed_page(error: LinkClosed) -> tuple[str, int]:
    """A revoked or expired link: say so, and whom at our office to ask."""
    shown = identity()
    return render_template(
        "contribute/closed.html",
        revoked=error.revoked,
        office=shown.organisation,
        office_email=shown.reply_to or parseaddr(settings().mail_from)[1],
    ), 410


def _form_page(
    template: str, form: ProposalForm, contacts: list[Contact], **context: Any
) -> str:
    """Render a page with the proposal form."""
    return render_template(
        template,
        form=form,
        saved_contacts=_saved_contacts_json(contacts),
        **context,
    )


@bp.route("/<token>", methods=["GET", "POST"])
@per_link
@per_address
def propose(token: str) -> Response | tuple[str, int]:
    """Show the proposal form; a valid POST stores the proposal and its receipt."""
    now = utcnow()
    try:
        link = open_link(token, now)
    except LinkClosed as error:
        return _closed_page(error)
    contacts = list(contributions.saved_contacts(link.organisation))
    form = ProposalForm()
    _prepare(form, contacts)
    issue = plan.next_planned_issue(now)
    status = 200
    if request.method == "POST":
        if form.website.data:
            return render_template("contribute/refused.html"), 400
        if not _copy_saved_contact(form, contacts) and form.validate():
            proposal = contributions.submit(
                link, form.data_for_service(), str(get_locale()), now
            )
            db.session.commit()
            return redirect(
                url_for(".proposal", token=proposal_token(proposal), received=1)
            )
        status = 422 if form.errors else 200
    return _form_page(
        "contribute/propose.html",
        form,
        contacts,
        link=link,
        issue=issue,
        late=plan.is_late(issue, now),
    ), status


def _proposal_form(proposal: Proposal) -> ProposalForm:
    """The form filled with a proposal's saved content."""
    data = contributions.data_of(proposal)
    return ProposalForm(
        formdata=None,
        data={
            **{name: getattr(data, name) for name in contributions.FIELDS},
            "links": [{"text": x.label, "url": x.url} for x in data.links],
            "version": str(proposal.version),
        },
    )


@bp.route("/proposal/<token>", methods=["GET", "POST"])
@per_link
@per_address
def proposal(token: str) -> Response | tuple[str, int]:
    """The proposer's page: the proposal, its state, and the form while it is open.

    It opens even when the contribution link has expired since: the proposal was
    taken while the link was open, and its proposer must still be able to answer an
    editor who returned it. A revoked link's proposals can be read, not changed.
    An unknown or tampered token is a 404."""
    proposal = proposal_by_token(token)
    show_in(proposal.language)
    theme = db.session.get(Theme, proposal.theme_id)
    contacts = (
        list(contributions.saved_contacts(proposal.link.organisation))
        if proposal.link.revoked_at is None
        else []
    )
    changeable = contributions.is_changeable(proposal)
    form = _proposal_form(proposal) if request.method != "POST" else ProposalForm()
    _prepare(form, contacts)
    status, conflict = 200, ""
    if request.method == "POST" and changeable:
        if form.website.data:
            return render_template("contribute/refused.html"), 400
        if not _copy_saved_contact(form, contacts) and form.validate():
            outcome = _save_change(proposal, form)
            if outcome is None:
                flash(_("Your changes are saved."), "success")
                return redirect(url_for(".proposal", token=token))
            conflict, status = outcome, 409
            form.version.data = str(proposal.version)  # sending again saves
            changeable = contributions.is_changeable(proposal)
        elif form.errors:
            status = 422
    return _form_page(
        "contribute/proposal.html",
        form,
        contacts,
        proposal=proposal,
        link=proposal.link,
        changeable=changeable,
        conflict=conflict,
        private_url=proposal_url(proposal),
        theme_name=theme.name if theme else "",
        ProposalStatus=ProposalStatus,
        received=request.args.get("received") == "1",
    ), status


def _save_change(proposal: Proposal, form: ProposalForm) -> str | None:
    """Save the form into the proposal; return why not (nothing is lost: the form
    keeps what was typed), or None once committed."""
    try:
        expected = int(form.version.data)
    except ValueError:
        expected = -1
    try:
        contributions.change(proposal, form.data_for_service(), expected, utcnow())
    except contributions.StaleProposal:
        db.session.rollback()
        return _(
            "The proposal was changed elsewhere after you opened this page, so "
            "your changes were not saved. They are still in the form below: "
            "check the saved version above and send the form again."
        )
    except InvalidState:
        db.session.rollback()
        return _("An editor has decided on the proposal; it can no longer be changed.")
    db.session.commit()
    return None
