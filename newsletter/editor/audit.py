"""The audit trail for administrators: filter, page through, export as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from flask import (
    Blueprint,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from newsletter.extensions import db
from newsletter.models import (
    AuditEvent,
    Contact,
    ContributionLink,
    Editor,
    Issue,
    Item,
    Proposal,
    Subscriber,
    Theme,
)
from newsletter.services import audit
from newsletter.services.audit import PAGE_SIZE, AuditFilter
from newsletter.services.plan import STOCKHOLM
from newsletter.services.subscribers import inert

bp = Blueprint("audit", __name__)

# Where an entry's object is shown, while it still exists: model, endpoint, argument.
OBJECT_PAGES: dict[str, tuple[type, str, str]] = {
    "issue": (Issue, "editor.issues.edit", "issue_id"),
    "item": (Item, "editor.issues.item", "item_id"),
    "contact": (Contact, "editor.contacts.contact", "contact_id"),
    "contribution_link": (ContributionLink, "editor.contributors.link", "link_id"),
    "proposal": (Proposal, "editor.inbox.proposal", "proposal_id"),
    "subscriber": (Subscriber, "editor.subscribers.subscriber", "subscriber_id"),
    "theme": (Theme, "editor.admin.theme", "theme_id"),
    "editor": (Editor, "editor.admin.editor_account", "editor_id"),
}

ACTOR_KINDS = {
    "editor": _l("Editor"),
    "command": _l("Command line"),
    "worker": _l("Worker"),
    "partner": _l("Partner"),
    "public": _l("Public"),
}

# Readable names of the actions; an action not named here shows its code.
ACTIONS = {
    "api_key.created": _l("API key created"),
    "api_key.revoked": _l("API key revoked"),
    "comment.added": _l("Comment added"),
    "comment.resolved": _l("Comment resolved"),
    "contact.changed": _l("Contact changed"),
    "contact.created": _l("Contact created"),
    "contact.deleted": _l("Contact deleted"),
    "contact.merged": _l("Contacts merged"),
    "contribution.reminded": _l("Contribution reminder queued"),
    "contribution_link.created": _l("Contribution link created"),
    "contribution_link.renewed": _l("Contribution link renewed"),
    "contribution_link.revoked": _l("Contribution link revoked"),
    "editor.changed": _l("Account changed"),
    "editor.created": _l("Account created"),
    "editor.deactivated": _l("Account deactivated"),
    "editor.logged_in": _l("Logged in"),
    "editor.logged_out": _l("Logged out"),
    "editor.password_changed": _l("Password changed"),
    "editor.unlocked": _l("Login lockout lifted"),
    "identity.changed": _l("Organisation identity changed"),
    "import.discarded": _l("Import file removed"),
    "import.uploaded": _l("Import file uploaded"),
    "issue.approval_withdrawn": _l("Approval withdrawn"),
    "issue.approved": _l("Issue approved"),
    "issue.cancelled": _l("Sending cancelled"),
    "issue.changed": _l("Issue changed"),
    "issue.created": _l("Issue created"),
    "issue.deleted": _l("Issue deleted"),
    "issue.failed_requeued": _l("Failed deliveries queued again"),
    "issue.paused": _l("Sending paused"),
    "issue.pdf_built": _l("PDF edition built"),
    "issue.planned": _l("Issue planned"),
    "issue.resumed": _l("Sending resumed"),
    "issue.review_requested": _l("Review requested"),
    "issue.scheduled": _l("Sending scheduled"),
    "issue.sending_started": _l("Sending started"),
    "issue.sent": _l("Issue sent"),
    "issue.test_sent": _l("Test copy queued"),
    "issue.unscheduled": _l("Schedule removed"),
    "issue.unscheduled_unapproved": _l("Schedule removed: not approved"),
    "item.added": _l("Item added"),
    "item.changed": _l("Item changed"),
    "item.corrected": _l("Item corrected after sending"),
    "item.deleted": _l("Item deleted"),
    "item.image_erased": _l("Image erased"),
    "item.link_adopted": _l("Link address updated"),
    "item.moved": _l("Item moved"),
    "media.purged": _l("Unused images and files removed"),
    "proposal.accepted": _l("Proposal accepted"),
    "proposal.changed": _l("Proposal changed"),
    "proposal.created": _l("Proposal received"),
    "proposal.declined": _l("Proposal declined"),
    "proposal.returned": _l("Proposal returned"),
    "proposal.submitted": _l("Proposal submitted"),
    "search.rebuilt": _l("Search index rebuilt"),
    "section_contact.changed": _l("Section contact changed"),
    "setting.changed": _l("Setting changed"),
    "subscriber.bounce_hard": _l("Hard bounce"),
    "subscriber.bounce_soft": _l("Soft bounce"),
    "subscriber.complaint": _l("Spam complaint"),
    "subscriber.confirmed": _l("Subscription confirmed"),
    "subscriber.erased": _l("Subscriber erased"),
    "subscriber.link_requested": _l("New link requested"),
    "subscriber.page_link_requested": _l("Link to own page requested"),
    "subscriber.preferences_changed": _l("Preferences changed"),
    "subscriber.requested": _l("Subscription requested"),
    "subscriber.unsubscribed": _l("Unsubscribed"),
    "subscribers.imported": _l("Subscribers imported"),
    "theme.activated": _l("Theme activated"),
    "theme.changed": _l("Theme changed"),
    "theme.created": _l("Theme created"),
    "theme.deactivated": _l("Theme deactivated"),
    "theme.moved": _l("Theme moved"),
}

# Readable names of the kinds of object; a kind not named here shows its code.
OBJECT_TYPES = {
    "api_key": _l("API key"),
    "comment": _l("Comment"),
    "contact": _l("Contact"),
    "contribution_link": _l("Contribution link"),
    "editor": _l("Account"),
    "import": _l("Subscriber import"),
    "issue": _l("Issue"),
    "item": _l("Item"),
    "media": _l("Images and files"),
    "proposal": _l("Proposal"),
    "search": _l("Search index"),
    "setting": _l("Setting"),
    "subscriber": _l("Subscriber"),
    "theme": _l("Theme"),
}

# The settings an entry of type "setting" names by their key.
SETTINGS = {
    "IDENTITY": _l("Organisation identity"),
    "REQUIRE_APPROVAL": _l("Approval before sending"),
}

# Readable names of the fields entries record; "kind.field" where a name means
# something else for one kind of object. A field not named here shows its code.
FIELDS = {
    "active": _l("Active"),
    "added": _l("Added"),
    "approved_by": _l("Approved by"),
    "attested": _l("Consent attested"),
    "body": _l("Text"),
    "brand_colour": _l("Brand colour"),
    "by": _l("By"),
    "bytes": _l("Bytes"),
    "changed": _l("Changed part"),
    "changed_by": _l("Changed by"),
    "changed_title": _l("Title of the changed part"),
    "contact.title": _l("Job title"),
    "contact_email": _l("Contact email"),
    "contact_name": _l("Contact name"),
    "contact_organisation": _l("Contact's organisation"),
    "contact_phone": _l("Contact phone"),
    "contact_title": _l("Contact's job title"),
    "contribution_deadline": _l("Last day for proposals"),
    "description": _l("Description"),
    "detail": _l("Detail"),
    "documents": _l("Documents"),
    "editor_message": _l("Message to the proposer"),
    "editorial_contact": _l("Editorial contact"),
    "email": _l("Email"),
    "expires_at": _l("Valid until"),
    "feed_description": _l("Feed description"),
    "feed_title": _l("Feed title"),
    "files": _l("Files"),
    "footer_text": _l("Footer text"),
    "image": _l("Image"),
    "image_alt": _l("Alt text"),
    "image_decorative": _l("Decorative image"),
    "image_height": _l("Image height"),
    "image_width": _l("Image width"),
    "intro": _l("Introduction"),
    "issue": _l("Issue"),
    "issue_id": _l("Issue id"),
    "item_id": _l("Item id"),
    "late": _l("Late"),
    "links": _l("Links"),
    "logo": _l("Logo"),
    "logo_height": _l("Logo height"),
    "logo_width": _l("Logo width"),
    "merged": _l("Merged duplicate"),
    "message": _l("Message"),
    "name": _l("Name"),
    "newsletter_name": _l("Newsletter name"),
    "note": _l("Note"),
    "organisation": _l("Organisation"),
    "phone": _l("Phone"),
    "position": _l("Place in the order"),
    "postal_address": _l("Postal address"),
    "preheader": _l("Preheader"),
    "prefix": _l("Start of the key"),
    "proposer_email": _l("Proposer's email"),
    "publish_on": _l("Publication date"),
    "published_at": _l("Published"),
    "reason": _l("Reason"),
    "reminded_of_issue": _l("Reminder for issue"),
    "reply_to": _l("Reply-to address"),
    "report": _l("Report"),
    "REQUIRE_APPROVAL": _l("Approval before sending"),
    "requeued": _l("Queued again"),
    "resolved_by": _l("Resolved by"),
    "reviewers": _l("Reviewers"),
    "revisions": _l("Versions"),
    "revoked_at": _l("Revoked"),
    "role": _l("Role"),
    "scheduled_at": _l("Scheduled"),
    "sender_name": _l("Sender name"),
    "size": _l("Size"),
    "slug": _l("Address (slug)"),
    "stamp": _l("Version"),
    "state": _l("Status"),
    "status": _l("Status"),
    "step": _l("Steps moved"),
    "tagline": _l("Tagline"),
    "theme_id": _l("Theme"),
    "title": _l("Title"),
    "to": _l("Sent to"),
    "updated_at": _l("Last changed"),
    "url": _l("Web address"),
}


def object_type_label(object_type: str) -> str:
    """The readable name of a kind of object, or its code."""
    return str(OBJECT_TYPES.get(object_type, object_type))


def object_title(object_type: str, title: str) -> str:
    """An entry's object title, a setting named instead of its key."""
    if object_type == "setting" and title in SETTINGS:
        return str(SETTINGS[title])
    return title


def field_label(object_type: str, field: str) -> str:
    """The readable name of a changed field, or its code."""
    found = FIELDS.get(f"{object_type}.{field}") or FIELDS.get(field)
    return str(found) if found is not None else field


CSV_HEADER = (
    "time",
    "actor_kind",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object_title",
    "changes",
)


def _day(name: str, errors: dict[str, str]) -> date | None:
    """A date from the query string (YYYY-MM-DD), or None; note a bad one."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Write the date as YYYY-MM-DD, for example 2026-03-03.")
        return None


def _start_of(day: date) -> datetime:
    """The first moment of a Stockholm day."""
    return datetime.combine(day, time(), STOCKHOLM)


def _filter() -> tuple[AuditFilter, dict[str, str]]:
    """Read the filter from the query string, with an error per bad field."""
    errors: dict[str, str] = {}
    since = _day("from", errors)
    until = _day("to", errors)
    raw_id = request.args.get("id", "").strip()
    object_id = None
    if raw_id:
        if raw_id.isdigit() and len(raw_id) < 10:
            object_id = int(raw_id)
        else:
            errors["id"] = _("The id is a whole number.")
    return AuditFilter(
        actor=request.args.get("actor", "").strip()[:320],
        object_type=request.args.get("type", "").strip()[:40],
        object_id=object_id,
        action=request.args.get("action", "").strip()[:80],
        since=_start_of(since) if since else None,
        until=_start_of(until + timedelta(days=1)) if until else None,
    ), errors


def _query_args() -> dict[str, str]:
    """The filter's fields as they came, for page links and the export link."""
    names = ("actor", "type", "id", "action", "from", "to")
    return {name: request.args[name] for name in names if request.args.get(name)}


def _object_links(rows: list[AuditEvent]) -> dict[tuple[str, int], str]:
    """The address of each named object that still exists."""
    links: dict[tuple[str, int], str] = {}
    for object_type, (model, endpoint, argument) in OBJECT_PAGES.items():
        ids = {
            row.object_id
            for row in rows
            if row.object_type == object_type and row.object_id is not None
        }
        if not ids:
            continue
        for found in db.session.scalars(
            select(model.id).where(model.id.in_(ids))  # type: ignore[attr-defined]
        ):
            links[(object_type, found)] = url_for(endpoint, **{argument: found})
    return links


@bp.get("/audit")
def audit_log() -> tuple[str, int]:
    """The audit trail, newest first, filtered and paginated."""
    wanted, errors = _filter()
    page = min(max(1, request.args.get("page", 1, type=int)), 10**6)
    rows, total = audit.search(wanted, page)
    return render_template(
        "editor/audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        args=_query_args(),
        errors=errors,
        links=_object_links(rows),
        object_types=sorted(
            ((kind, object_type_label(kind)) for kind in audit.object_types()),
            key=lambda choice: choice[1].casefold(),
        ),
        describe=audit.describe,
        object_type_label=object_type_label,
        object_title=object_title,
        field_label=field_label,
        actor_kinds=ACTOR_KINDS,
        actions=ACTIONS,
    ), (422 if errors else 200)


@bp.get("/audit.csv")
def export_audit() -> Response:
    """Download every entry the filter matches as CSV (UTF-8 with BOM, `;`)."""
    wanted, _errors = _filter()

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        yield "\ufeff"  # spreadsheet programs then read UTF-8 correctly
        writer.writerow(CSV_HEADER)
        for row in audit.all_matching(wanted):
            writer.writerow(
                [
                    row.at.astimezone(STOCKHOLM).isoformat(timespec="seconds"),
                    row.actor_kind,
                    inert(row.actor),
                    row.action,
                    row.object_type,
                    "" if row.object_id is None else row.object_id,
                    inert(row.object_title),
                    inert(
                        "; ".join(
                            f"{field}: {before} → {after}"
                            for field, before, after in audit.describe(
                                row.changes or {}, limit=2000
                            )
                        )
                    ),
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="handelselogg.csv"'},
    )
