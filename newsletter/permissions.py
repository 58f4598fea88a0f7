"""Who may do what in the editor area: one written table, checked on every request.

Each editor endpoint names the roles it admits, per method where reading and
changing differ. An endpoint missing from the table admits administrators only
(default deny), so a new page is closed until someone writes down who may use it.
Hiding menu items and buttons is a courtesy; the check in the editor blueprint's
before_request is what counts.
"""

from __future__ import annotations

from collections.abc import Mapping

from newsletter.models.states import Role

Roles = frozenset[Role]

ALL: Roles = frozenset(Role)
# Those who compose: everyone but the read-only reviewer.
COMPOSERS: Roles = frozenset({Role.ADMIN, Role.PUBLISHER, Role.EDITOR})
# Those who approve, send, schedule, pause and cancel.
PUBLISHERS: Roles = frozenset({Role.ADMIN, Role.PUBLISHER})
ADMINS: Roles = frozenset({Role.ADMIN})

# Reading and changing differ: a reviewer may open the page, not save it.
READ_ALL_CHANGE_COMPOSERS: Mapping[str, Roles] = {"GET": ALL, "POST": COMPOSERS}

# endpoint -> roles for every method, or {method: roles}. "blueprint.*" covers every
# endpoint of a blueprint that no line of its own names.
TABLE: Mapping[str, Roles | Mapping[str, Roles]] = {
    # Your own account and the way out.
    "editor.auth.login": ALL,
    "editor.auth.logout": ALL,
    "editor.auth.account": ALL,
    # Issues and items: everyone reads, composers change.
    "editor.issues.index": ALL,
    "editor.issues.edit": READ_ALL_CHANGE_COMPOSERS,
    "editor.issues.item": READ_ALL_CHANGE_COMPOSERS,
    "editor.issues.preview": ALL,
    "editor.issues.new_issue": COMPOSERS,
    "editor.issues.new_item": COMPOSERS,
    "editor.issues.create_plan": COMPOSERS,
    "editor.issues.delete_issue": COMPOSERS,
    "editor.issues.duplicate_issue": COMPOSERS,
    "editor.issues.delete_item": COMPOSERS,
    "editor.issues.move_item": COMPOSERS,
    "editor.issues.section_contact": COMPOSERS,
    # The live preview of a text field changes nothing; it is for those who write.
    "editor.writing.text_preview": COMPOSERS,
    "editor.feeds.import_feed": COMPOSERS,
    "editor.feeds.add_feed_entries": COMPOSERS,
    # Links: the report is read-only; adopting an address changes an issue.
    "editor.links.archive_report": ALL,
    "editor.links.adopt_final_address": COMPOSERS,
    # Previews and the progress of a send are for everyone to read.
    "editor.sending.email_preview": ALL,
    "editor.sending.email_html": ALL,
    "editor.sending.progress": ALL,
    "editor.sending.progress_json": ALL,
    "editor.sending.test_send": COMPOSERS,
    # Sending, scheduling, pausing and cancelling are the publisher's.
    "editor.sending.confirm_send": PUBLISHERS,
    "editor.sending.send_now": PUBLISHERS,
    "editor.sending.schedule": PUBLISHERS,
    "editor.sending.unschedule_sending": PUBLISHERS,
    "editor.sending.pause_sending": PUBLISHERS,
    "editor.sending.resume_sending": PUBLISHERS,
    "editor.sending.retry_sending": PUBLISHERS,
    "editor.sending.cancel_sending": PUBLISHERS,
    # Item and header history: everyone reads it; composers restore; corrections
    # of sent issues are checked again in the service (publishers, or editors
    # when approval is not required).
    "editor.history.item_revisions": ALL,
    "editor.history.issue_revisions": ALL,
    "editor.history.restore": COMPOSERS,
    "editor.history.correct": COMPOSERS,
    "editor.history.erase_image": COMPOSERS,
    # Review: composers ask for it, everyone comments, composers resolve,
    # publishers approve.
    "editor.review.request": COMPOSERS,
    "editor.review.comment": ALL,
    "editor.review.resolve_comment": COMPOSERS,
    "editor.review.approve": PUBLISHERS,
    # Partners' proposals and links, and the contacts directory.
    "editor.inbox.proposal_list": COMPOSERS,
    "editor.inbox.proposal": COMPOSERS,
    "editor.inbox.accept": COMPOSERS,
    "editor.inbox.return_proposal": COMPOSERS,
    "editor.inbox.decline": COMPOSERS,
    "editor.contributors.link_list": COMPOSERS,
    "editor.contributors.link": COMPOSERS,
    "editor.contributors.renew": COMPOSERS,
    "editor.contributors.revoke": COMPOSERS,
    "editor.contacts.contact_list": COMPOSERS,
    "editor.contacts.contact": COMPOSERS,
    "editor.contacts.new_contact": COMPOSERS,
    "editor.contacts.delete_contact": COMPOSERS,
    "editor.contacts.merge": COMPOSERS,
    # Subscribers hold personal data: not for the reviewer.
    "editor.subscribers.subscriber_list": COMPOSERS,
    "editor.subscribers.subscriber": COMPOSERS,
    "editor.subscribers.unsubscribe_subscriber": COMPOSERS,
    "editor.subscribers.erase_subscriber": COMPOSERS,
    "editor.subscribers.export_subscribers": COMPOSERS,
    "editor.subscribers.import_upload": COMPOSERS,
    "editor.subscribers.import_preview": COMPOSERS,
    "editor.subscribers.embed": COMPOSERS,
    # Accounts, themes, settings and the audit trail.
    "editor.admin.*": ADMINS,
    "editor.settings.*": ADMINS,
    "editor.api_keys.*": ADMINS,
    "editor.audit.*": ADMINS,
}


def _entry(endpoint: str) -> Roles | Mapping[str, Roles] | None:
    """Return the table's line for an endpoint, its blueprint's, or None."""
    if endpoint in TABLE:
        return TABLE[endpoint]
    blueprint = endpoint.rpartition(".")[0]
    return TABLE.get(f"{blueprint}.*")


def is_listed(endpoint: str) -> bool:
    """Tell whether the table says who may use an endpoint."""
    return _entry(endpoint) is not None


def admitted(endpoint: str, method: str | None = None) -> Roles:
    """Return the roles an endpoint admits for a method (HEAD and OPTIONS as GET);
    without a method, the roles admitted for every method it lists. Endpoints the
    table does not list admit administrators only."""
    entry = _entry(endpoint)
    if entry is None:
        return ADMINS
    if isinstance(entry, frozenset):
        return entry
    if method is None:
        return frozenset.intersection(*entry.values())
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return entry.get(method, ADMINS)


def may(role: Role | str, endpoint: str, method: str | None = None) -> bool:
    """Tell whether a role may use an endpoint (with a method, or with all)."""
    return Role(role) in admitted(endpoint, method)
