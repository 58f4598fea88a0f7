"""Composing issues: issues, items in theme sections, links, ordering, duplication."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from slugify import slugify
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from newsletter.database import get_row
from newsletter.errors import Conflict, InvalidState
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, Item, Link, SectionContact, Theme
from newsletter.models.types import utcnow
from newsletter.services import history


class EditConflict(Conflict):
    """Somebody saved the same record since the editor opened it."""

    def __init__(self, current: Issue | Item) -> None:
        super().__init__("edit conflict")
        self.current = current


class NotEditable(InvalidState):
    """The issue has started sending; its content is frozen."""


class NotADraft(InvalidState):
    """Only a draft can be deleted."""


@dataclass(frozen=True)
class LinkData:
    """A resource link as entered in a form."""

    label: str
    url: str


@dataclass(frozen=True)
class ItemImage:
    """An item's image: the stored name ("" for none), its alt text, whether it is
    decorative (then it has no alt text), and its pixel size."""

    name: str = ""
    alt: str = ""
    decorative: bool = False
    width: int | None = None
    height: int | None = None


NO_IMAGE = ItemImage()


@dataclass
class ItemData:
    """The editable fields of an item; image None leaves the image as it is."""

    title: str
    body: str = ""
    theme_id: int = 0
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    links: Sequence[LinkData] = field(default_factory=list)
    image: ItemImage | None = None


@dataclass(frozen=True)
class ContactDetails:
    """A contact person as an item or a section carries it."""

    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Section:
    """One theme's items in an issue, in order."""

    theme: Theme
    items: list[Item]
    contact: SectionContact | None = None


def slug_for(title: str) -> str:
    """Derive a URL slug from a title: "Nyhetsbrev februari 2026" -> nyhetsbrev-..."""
    return slugify(title, max_length=100, word_boundary=True) or "nummer"


def unique_slug(wanted: str, exclude_id: int | None = None) -> str:
    """Return wanted, or wanted-2, -3 ... if another issue already uses it."""
    base = slugify(wanted, max_length=100, word_boundary=True) or "nummer"
    query = select(Issue.slug).where(Issue.slug.like(f"{base}%"))
    if exclude_id is not None:
        query = query.where(Issue.id != exclude_id)
    taken = set(db.session.scalars(query))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def slug_taken(slug: str, exclude_id: int | None = None) -> bool:
    """Return whether another issue already uses this slug."""
    query = select(Issue.id).where(Issue.slug == slug)
    if exclude_id is not None:
        query = query.where(Issue.id != exclude_id)
    return db.session.scalar(query) is not None


class SlugTaken(Conflict):
    """Another issue uses the slug the editor asked for."""


def create_issue(
    title: str, intro: str, preheader: str, slug: str, editor: str
) -> Issue:
    """Create a draft issue; an empty slug is derived from the title.

    Two editors creating issues with the same title at once both succeed: the
    insert runs in a savepoint and a derived slug that was just taken gets the
    next number. A slug the editor typed is never changed: SlugTaken is raised.
    """
    for _attempt in range(5):
        issue = Issue(
            title=title,
            intro=intro,
            preheader=preheader,
            slug=slug if slug else unique_slug(title),
            updated_by=editor,
        )
        try:
            with db.session.begin_nested():
                db.session.add(issue)
        except IntegrityError:
            if slug:
                raise SlugTaken(slug) from None
            continue
        history.changed(
            issue,
            "issue.created",
            "issue",
            issue.id,
            issue.title,
            {},
            history.issue_fields(issue),
        )
        return issue
    raise SlugTaken(title)


def _check_version(record: Issue | Item, expected_version: int) -> None:
    """Refuse a save based on an older version than the stored one."""
    if record.version != expected_version:
        raise EditConflict(record)


def _check_editable(issue: Issue) -> None:
    """Refuse changes to an issue that is sending or done."""
    if not issue.is_editable:
        raise NotEditable(issue.status)


def _save(record: Issue | Item) -> None:
    """Flush a change; a save by somebody else in between is an EditConflict."""
    try:
        db.session.flush()
    except StaleDataError:
        raise EditConflict(record) from None


def editable_issue(issue_id: int) -> Issue:
    """Return an issue whose content may still change, or raise NotEditable."""
    issue = get_row(Issue, issue_id)
    _check_editable(issue)
    return issue


def update_issue(
    issue_id: int,
    expected_version: int,
    *,
    title: str,
    intro: str,
    preheader: str,
    slug: str,
    editor: str,
) -> Issue:
    """Save an issue's header fields unless somebody else saved them first.

    An empty slug is derived from the title; a typed slug that another issue uses
    raises SlugTaken, even when that issue took it a moment ago.
    """
    issue = editable_issue(issue_id)
    _check_version(issue, expected_version)
    if slug and slug_taken(slug, exclude_id=issue.id):
        raise SlugTaken(slug)
    before = history.issue_fields(issue)
    issue.title = title
    issue.intro = intro
    issue.preheader = preheader
    issue.slug = slug or unique_slug(title, exclude_id=issue.id)
    issue.updated_by = editor
    issue.updated_at = utcnow()
    try:
        _save(issue)
    except IntegrityError:
        raise SlugTaken(issue.slug) from None
    history.changed(
        issue,
        "issue.changed",
        "issue",
        issue.id,
        issue.title,
        before,
        history.issue_fields(issue),
    )
    return issue


def _touch_issue(issue_id: int, editor: str) -> None:
    """Record that the issue's content changed, without bumping its header version."""
    db.session.execute(
        update(Issue)
        .where(Issue.id == issue_id)
        .values(updated_at=utcnow(), updated_by=editor)
        .execution_options(synchronize_session=False)
    )


def _next_position(issue_id: int, theme_id: int) -> int:
    """Return the position after the last item of a section."""
    last = db.session.scalar(
        select(func.max(Item.position)).where(
            Item.issue_id == issue_id, Item.theme_id == theme_id
        )
    )
    return 0 if last is None else last + 1


def _links(links: Sequence[LinkData]) -> list[Link]:
    """Build link rows in the given order."""
    return [
        Link(label=link.label, url=link.url, position=position)
        for position, link in enumerate(links)
    ]


def _set_image(item: Item, image: ItemImage | None) -> None:
    """Give an item an image, or none; None leaves its image alone."""
    if image is None:
        return
    item.image = image.name
    item.image_alt = image.alt if image.name else ""
    item.image_decorative = image.decorative if image.name else False
    item.image_width = image.width if image.name else None
    item.image_height = image.height if image.name else None


def _item_image(item: Item) -> ItemImage:
    """The image of a stored item."""
    return ItemImage(
        item.image,
        item.image_alt,
        item.image_decorative,
        item.image_width,
        item.image_height,
    )


def _new_item(issue: Issue, data: ItemData, position: int, editor: str) -> Item:
    """Build a complete item, links included, ready to be added to the session."""
    item = Item(
        issue=issue,
        theme_id=data.theme_id,
        position=position,
        title=data.title,
        body=data.body,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        contact_email=data.contact_email,
        updated_by=editor,
        links=_links(data.links),
    )
    _set_image(item, data.image or NO_IMAGE)
    return item


def add_item(issue_id: int, data: ItemData, editor: str) -> Item:
    """Append a new item to the end of a theme section."""
    issue = editable_issue(issue_id)
    get_row(Theme, data.theme_id)
    position = _next_position(issue_id, data.theme_id)
    item = _new_item(issue, data, position, editor)
    db.session.add(item)
    db.session.flush()
    _touch_issue(issue_id, editor)
    history.changed(
        issue, "item.added", "item", item.id, item.title, {}, history.item_fields(item)
    )
    return item


def update_item(
    item_id: int, expected_version: int, data: ItemData, editor: str
) -> Item:
    """Save an item unless somebody else saved it first; a new theme moves it."""
    item = get_row(Item, item_id)
    _check_editable(item.issue)
    _check_version(item, expected_version)
    before = history.item_fields(item)
    if data.theme_id != item.theme_id:
        get_row(Theme, data.theme_id)
        item.position = _next_position(item.issue_id, data.theme_id)
        item.theme_id = data.theme_id
    item.title = data.title
    item.body = data.body
    item.contact_name = data.contact_name
    item.contact_phone = data.contact_phone
    item.contact_email = data.contact_email
    item.updated_by = editor
    # Always touch the row so that a links-only change bumps the version too.
    item.updated_at = utcnow()
    item.links = _links(data.links)
    _set_image(item, data.image)
    _save(item)
    _touch_issue(item.issue_id, editor)
    history.changed(
        item.issue,
        "item.changed",
        "item",
        item.id,
        item.title,
        before,
        history.item_fields(item),
    )
    return item


def add_links(item_id: int, links: Sequence[LinkData], editor: str) -> Item:
    """Append links to an item as a save of it: an edit form opened before conflicts.

    A feed import adds links this way, so that its work cannot be silently
    overwritten by an older form.
    """
    item = get_row(Item, item_id)
    current = _item_data(item)
    data = replace(current, links=[*current.links, *links])
    return update_item(item.id, item.version, data, editor)


def delete_item(item_id: int, editor: str) -> Issue:
    """Delete an item and its links; return its issue."""
    item = get_row(Item, item_id)
    issue = item.issue
    _check_editable(issue)
    history.changed(
        issue,
        "item.deleted",
        "item",
        item.id,
        item.title,
        history.item_fields(item),
        {},
    )
    db.session.delete(item)
    db.session.flush()
    _touch_issue(issue.id, editor)
    return issue


def move_item(item_id: int, step: int, editor: str) -> Item:
    """Move an item one place up (-1) or down (+1) within its section."""
    item = get_row(Item, item_id)
    _check_editable(item.issue)
    siblings = list(
        db.session.scalars(
            select(Item)
            .where(Item.issue_id == item.issue_id, Item.theme_id == item.theme_id)
            .order_by(Item.position, Item.id)
        )
    )
    index = siblings.index(item)
    history.changed(
        item.issue, "item.moved", "item", item.id, item.title, {}, {"step": step}
    )
    target = index + step
    if 0 <= target < len(siblings):
        siblings[index], siblings[target] = siblings[target], siblings[index]
    # A bulk UPDATE leaves the items' versions alone: reordering is not an edit of
    # their content and must not make an open edit form conflict.
    for position, sibling in enumerate(siblings):
        if sibling.position != position:
            db.session.execute(
                update(Item)
                .where(Item.id == sibling.id)
                .values(position=position)
                .execution_options(synchronize_session=False)
            )
    _touch_issue(item.issue_id, editor)
    db.session.expire_all()
    return item


def duplicate_issue(issue_id: int, title: str, editor: str) -> Issue:
    """Copy an issue's header, items, links and images into a new draft (the
    copies share the stored image files, which never change)."""
    source = get_row(Issue, issue_id)
    copy = create_issue(
        title=title,
        intro=source.intro,
        preheader=source.preheader,
        slug="",
        editor=editor,
    )
    for item in source.items:
        duplicate = _new_item(copy, _item_data(item), item.position, editor)
        db.session.add(duplicate)
        db.session.flush()
        history.changed(
            copy,
            "item.added",
            "item",
            duplicate.id,
            duplicate.title,
            {},
            history.item_fields(duplicate),
        )
    for contact in source.section_contacts:
        copy.section_contacts.append(
            SectionContact(
                theme_id=contact.theme_id,
                contact_name=contact.contact_name,
                contact_phone=contact.contact_phone,
                contact_email=contact.contact_email,
            )
        )
    db.session.flush()
    return copy


def _item_data(item: Item) -> ItemData:
    """Return the editable fields of a stored item, links included."""
    return ItemData(
        title=item.title,
        body=item.body,
        theme_id=item.theme_id,
        contact_name=item.contact_name,
        contact_phone=item.contact_phone,
        contact_email=item.contact_email,
        links=[LinkData(link.label, link.url) for link in item.links],
        image=_item_image(item),
    )


def delete_draft(issue_id: int) -> None:
    """Delete a draft issue with its items; any other issue raises NotADraft."""
    issue = get_row(Issue, issue_id)
    if issue.status != IssueStatus.DRAFT:
        raise NotADraft(issue.status)
    history.changed(
        issue,
        "issue.deleted",
        "issue",
        issue.id,
        issue.title,
        history.issue_fields(issue),
        {},
    )
    db.session.delete(issue)
    db.session.flush()


def sections(issue: Issue) -> list[Section]:
    """Group an issue's items by theme, in theme order, leaving out empty themes."""
    by_theme: dict[int, list[Item]] = {}
    for item in sorted(issue.items, key=lambda i: (i.position, i.id)):
        by_theme.setdefault(item.theme_id, []).append(item)
    themes = db.session.scalars(
        select(Theme).where(Theme.id.in_(by_theme)).order_by(Theme.position, Theme.id)
    )
    contacts = _section_contacts(issue)
    return [
        Section(theme, by_theme[theme.id], contacts.get(theme.id)) for theme in themes
    ]


def _section_contacts(issue: Issue) -> dict[int, SectionContact]:
    """Return the issue's section contacts by theme id."""
    return {c.theme_id: c for c in issue.section_contacts if c.has_contact}


def set_section_contact(
    issue_id: int, theme_id: int, data: ContactDetails, editor: str
) -> SectionContact | None:
    """Set the contact of a theme's section in an issue; empty details remove it."""
    issue = editable_issue(issue_id)
    theme = get_row(Theme, theme_id)
    current = next((c for c in issue.section_contacts if c.theme_id == theme_id), None)
    before = _section_contact_fields(current)
    if not (data.name or data.phone or data.email):
        if current is not None:
            issue.section_contacts.remove(current)
        current = None
    else:
        if current is None:
            current = SectionContact(theme_id=theme_id)
            issue.section_contacts.append(current)
        current.contact_name = data.name
        current.contact_phone = data.phone
        current.contact_email = data.email
    db.session.flush()
    _touch_issue(issue.id, editor)
    history.changed(
        issue,
        "section_contact.changed",
        "issue",
        issue.id,
        f"{issue.title}: {theme.name}",
        before,
        _section_contact_fields(current),
    )
    return current


def _section_contact_fields(contact: SectionContact | None) -> dict[str, str]:
    """A section contact's details (all empty for none)."""
    return {
        "contact_name": contact.contact_name if contact else "",
        "contact_phone": contact.contact_phone if contact else "",
        "contact_email": contact.contact_email if contact else "",
    }


def editor_sections(issue: Issue) -> list[Section]:
    """Return a section for every active theme, empty ones included, in theme order,
    followed by the sections of inactive themes that still hold items."""
    with_items = {section.theme.id: section for section in sections(issue)}
    active = db.session.scalars(
        select(Theme).where(Theme.active.is_(True)).order_by(Theme.position, Theme.id)
    )
    contacts = _section_contacts(issue)
    shown = [
        with_items.pop(theme.id, Section(theme, [], contacts.get(theme.id)))
        for theme in active
    ]
    return shown + list(with_items.values())


def list_issues() -> Sequence[Issue]:
    """Return every issue, newest first."""
    return db.session.scalars(
        select(Issue).order_by(Issue.created_at.desc(), Issue.id.desc())
    ).all()
