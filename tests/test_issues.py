"""Composing an issue: header, items in sections, links, order, copies, preview."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import AuditEvent, Issue, Item, Link
from newsletter.services import revisions
from tests.factories import make_issue, make_item, theme


def item_form(theme_id: int, title: str = "Ny artikel", **fields: str) -> dict:
    """Return item form data with empty link rows unless links are given."""
    data = {
        "theme_id": str(theme_id),
        "title": title,
        "body": "",
        "contact_name": "",
        "contact_phone": "",
        "contact_email": "",
        "links-0-text": "",
        "links-0-url": "",
        "version": "",
    }
    data.update(fields)
    return data


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_list_names_who_last_edited_an_issue_not_who_scheduled_it(
    app, editor, publisher
):
    """Scheduling is no edit: it leaves the content, its approval and its PDF."""
    with app.app_context():
        issue_id = make_issue("Nyhetsbrev mars", updated_by="Eva Editor").id
    response = publisher.post(
        f"/editor/issues/{issue_id}/schedule", data={"send_at": "2099-03-03T09:00"}
    )
    assert response.status_code == 302
    listing = publisher.get("/editor/").get_data(as_text=True)
    assert '<th scope="col">Senast redigerat</th>' in listing
    assert "Senast ändrat" not in listing
    row = listing[listing.index("Nyhetsbrev mars") :]
    row = row[: row.index("</tr>")]
    assert "Schemalagt" in row and "· Eva Editor" in row


def test_creating_an_issue_derives_the_slug_from_the_title(app, editor):
    response = editor.post(
        "/editor/issues/new",
        data={"title": "Nyhetsbrev februari 2026", "intro": "Hej!", "preheader": ""},
    )
    assert response.status_code == 302
    with app.app_context():
        issue = db.session.scalar(select(Issue))
        assert (issue.slug, issue.status) == ("nyhetsbrev-februari-2026", "draft")
    listing = editor.get("/editor/").get_data(as_text=True)
    assert "Nyhetsbrev februari 2026" in listing and "Utkast" in listing


def test_swedish_letters_in_titles_become_readable_slugs(app, editor):
    editor.post("/editor/issues/new", data={"title": "Äldre och hälsa – vår 2026"})
    with app.app_context():
        assert db.session.scalar(select(Issue.slug)) == "aldre-och-halsa-var-2026"


def test_the_slug_can_be_edited_but_must_be_unique_and_clean(app, editor):
    with app.app_context():
        make_issue("Första", slug="forsta")
        second = make_issue("Andra").id
    response = editor.post(
        f"/editor/issues/{second}",
        data={"title": "Andra", "slug": "forsta", "version": "1"},
    )
    assert response.status_code == 422
    assert "Ett annat nummer använder redan den adressen." in response.get_data(
        as_text=True
    )
    response = editor.post(
        f"/editor/issues/{second}",
        data={"title": "Andra", "slug": "Bad Slug!", "version": "1"},
    )
    assert response.status_code == 422
    assert "Använd bara små bokstäver" in response.get_data(as_text=True)
    response = editor.post(
        f"/editor/issues/{second}",
        data={"title": "Andra", "slug": "andra-numret", "version": "1"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Issue, second).slug == "andra-numret"


def test_invalid_issue_input_returns_the_form_with_messages_and_saves_nothing(
    app, editor
):
    response = editor.post(
        "/editor/issues/new", data={"title": "   ", "preheader": "x" * 201}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Ge numret en rubrik." in body
    assert 'aria-invalid="true"' in body
    assert '="None"' not in body
    assert "Formuläret innehåller fel." in body
    with app.app_context():
        assert count(Issue) == 0


def test_adding_an_item_with_contact_and_links(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("psykisk-halsa").id
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(
            section,
            title="Regional konferens om ungas psykiska hälsa",
            body="Den **12 mars**.",
            contact_name="Karin Ek",
            contact_phone="010-765 43 21",
            contact_email="karin.ek@example.se",
            **{
                "links-0-text": "Program",
                "links-0-url": "https://konferens.example.se/program",
                "links-1-text": "",
                "links-1-url": "",
                "links-2-text": "Anmälan",
                "links-2-url": "mailto:anmalan@example.se",
            },
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        item = db.session.scalar(select(Item))
        assert item.theme.slug == "psykisk-halsa"
        assert item.contact_email == "karin.ek@example.se"
        assert [(link.label, link.url) for link in item.links] == [
            ("Program", "https://konferens.example.se/program"),
            ("Anmälan", "mailto:anmalan@example.se"),
        ]


def test_a_link_typed_from_www_is_taken_with_https_as_the_text_help_says(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
    form = editor.get(f"/editor/issues/{issue_id}/items/new").get_data(as_text=True)
    assert "Adresser som börjar med www." in form
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(
            section,
            **{"links-0-text": "Anmälan", "links-0-url": "www.example.se/anmalan"},
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        assert [
            (link.label, link.url) for link in db.session.scalars(select(Link))
        ] == [("Anmälan", "https://www.example.se/anmalan")]


def test_saving_an_item_unchanged_from_a_browser_logs_no_change(app, editor):
    """Browsers end a text area's lines with CR LF; the text is the same."""
    with app.app_context():
        item = make_item(make_issue(), "aldre", "Träff", body="Ett.\n\nTvå.")
        item_id, section = item.id, item.theme_id
    response = editor.post(
        f"/editor/items/{item_id}",
        data=item_form(section, "Träff", body="Ett.\r\n\r\nTvå.", version="1"),
    )
    assert response.status_code == 302
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert "item.changed" not in actions
        assert [r.number for r in revisions.for_object("item", item_id)] == [1]
        assert db.session.get(Item, item_id).body == "Ett.\n\nTvå."


def test_invalid_item_input_is_explained_next_to_each_field(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(
            section,
            title="",
            contact_email="not-an-address",
            contact_phone="ring mig",
            **{"links-0-text": "Farlig", "links-0-url": "javascript:alert(1)"},
        ),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Ge artikeln en rubrik eller en text." in body
    assert "Fyll i en giltig e-postadress." in body
    assert "Använd siffror, mellanslag" in body
    assert "Skriv en fullständig adress som börjar med https://" in body
    assert "Rad 1, webbadress: Skriv en fullständig adress" in body  # which link
    with app.app_context():
        assert count(Item) == 0 and count(Link) == 0


def test_titles_are_plain_text_and_pasted_control_characters_become_line_breaks(
    app, editor
):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
    refused = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(section, title="Nyhet <b>viktig</b>", body="Text"),
    )
    assert refused.status_code == 422
    refusal = refused.get_data(as_text=True)
    assert "Skriv ren text utan HTML: ta bort &lt;b&gt;" in refusal
    accepted = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(section, title="Barn <12 år\x1b", body="Rad ett\x0bRad två\x0c"),
    )
    assert accepted.status_code == 302
    with app.app_context():
        item = db.session.scalar(select(Item))
        assert (item.title, item.body) == ("Barn <12 år", "Rad ett\nRad två")


UNCLOSED_TAG = "<img src=x onerror=alert(1)//"


@pytest.mark.parametrize(
    "fields",
    [
        {"title": f"Nyhet {UNCLOSED_TAG}"},
        {"contact_name": f"Karin {UNCLOSED_TAG}"},
        {"links-0-text": UNCLOSED_TAG, "links-0-url": "https://example.se/"},
        {"title": "Nyhet <!-- kommentar"},
        {"title": "Nyhet </b"},
        {"title": "Nyhet <?php"},
    ],
)
def test_title_like_item_fields_refuse_a_tag_even_when_it_is_not_closed(
    app, editor, fields
):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(section, **{"title": "Nyhet", **fields}),
    )
    assert response.status_code == 422
    assert "Skriv ren text utan HTML: ta bort &lt;" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Item) == 0 and count(Link) == 0


def test_an_issue_title_refuses_a_tag_even_when_it_is_not_closed(app, editor):
    response = editor.post("/editor/issues/new", data={"title": UNCLOSED_TAG})
    assert response.status_code == 422
    assert "Skriv ren text utan HTML" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Issue) == 0


def test_editing_an_item_replaces_its_links_and_can_move_it_to_another_section(
    app, editor
):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Redan i Äldre")
        item = make_item(issue, "psykisk-halsa", links=[("Gammal", "https://a.se")])
        item_id, aldre = item.id, theme("aldre").id
    page = editor.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert 'value="Gammal"' in page and 'value="https://a.se"' in page
    response = editor.post(
        f"/editor/items/{item_id}",
        data=item_form(
            aldre,
            title="Flyttad",
            version="1",
            **{"links-0-text": "Ny", "links-0-url": "https://b.se"},
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        moved = db.session.get(Item, item_id)
        assert (moved.title, moved.theme.slug, moved.position) == (
            "Flyttad",
            "aldre",
            1,
        )
        assert [link.url for link in moved.links] == ["https://b.se"]
        assert count(Link) == 1


def test_deleting_an_item_removes_it_and_its_links(app, editor):
    with app.app_context():
        item = make_item(make_issue(), links=[("A", "https://a.se")])
        item_id = item.id
    assert editor.post(f"/editor/items/{item_id}/delete").status_code == 302
    with app.app_context():
        assert count(Item) == 0 and count(Link) == 0


def test_the_way_out_of_a_list_is_disabled(app, editor):
    with app.app_context():
        issue = make_issue()
        first = make_item(issue, "aldre", "Första")
        last = make_item(issue, "aldre", "Sista")
        issue_id, first_title, last_title = issue.id, first.title, last.title
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert f'aria-label="Flytta upp {first_title}" disabled' in page
    assert f'aria-label="Flytta ned {last_title}" disabled' in page
    assert f'aria-label="Flytta ned {first_title}">' in page


def test_reordering_items_within_a_section(app, editor):
    with app.app_context():
        issue = make_issue()
        first = make_item(issue, "barn-och-unga", "Först").id
        second = make_item(issue, "barn-och-unga", "Sedan").id
        issue_id = issue.id
    editor.post(f"/editor/items/{second}/move", data={"step": "-1"})
    preview = editor.get(f"/editor/issues/{issue_id}/preview").get_data(as_text=True)
    assert preview.index("Sedan") < preview.index("Först")
    # Moving the first item further up changes nothing.
    editor.post(f"/editor/items/{second}/move", data={"step": "-1"})
    with app.app_context():
        assert db.session.get(Item, second).position == 0
        assert db.session.get(Item, first).position == 1
    assert (
        editor.post(f"/editor/items/{first}/move", data={"step": "5"}).status_code
        == 400
    )


def test_reordering_does_not_make_an_open_edit_form_conflict(app, editor):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Först")
        second = make_item(issue, "aldre", "Sedan")
        second_id, aldre = second.id, second.theme_id
    editor.post(f"/editor/items/{second_id}/move", data={"step": "-1"})
    response = editor.post(
        f"/editor/items/{second_id}", data=item_form(aldre, "Ändrad", version="1")
    )
    assert response.status_code == 302


def test_second_save_of_the_same_item_gets_a_conflict_with_the_other_version(
    app, editor
):
    with app.app_context():
        item = make_item(make_issue(), "aldre", "Original")
        item_id, aldre = item.id, item.theme_id
    first = editor.post(
        f"/editor/items/{item_id}", data=item_form(aldre, "Eva sparade", version="1")
    )
    assert first.status_code == 302
    second = editor.post(
        f"/editor/items/{item_id}", data=item_form(aldre, "Olle sparade", version="1")
    )
    body = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "Någon annan sparade artikeln medan du redigerade" in body
    assert "Eva sparade" in body  # the other version is shown
    assert 'value="Olle sparade"' in body  # our input is kept in the form
    assert 'name="version" type="hidden" value="2"' in body
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Eva sparade"
    # Saving again, now based on the version seen, keeps ours.
    third = editor.post(
        f"/editor/items/{item_id}", data=item_form(aldre, "Olle sparade", version="2")
    )
    assert third.status_code == 302
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Olle sparade"


def header_fields(page: str) -> dict[str, tuple[str, dict[str, str | None]]]:
    """Return the first title, slug, preheader and intro field of a page, no values."""
    parser = TagCollector()
    parser.feed(page)
    fields: dict[str, tuple[str, dict[str, str | None]]] = {}
    for tag, attrs in parser.tags:
        name = attrs.get("name")
        if name in {"title", "slug", "preheader", "intro"} and name not in fields:
            fields[name] = (tag, {k: v for k, v in attrs.items() if k != "value"})
    return fields


def test_the_new_issue_page_and_the_issue_page_show_the_same_header_form(app, editor):
    with app.app_context():
        issue_id = make_issue("Nyhetsbrev maj 2026").id
    new = header_fields(editor.get("/editor/issues/new").get_data(as_text=True))
    edit = header_fields(
        editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    )
    assert set(new) == {"title", "slug", "preheader", "intro"}
    assert new == edit


def test_second_save_of_the_same_issue_header_gets_a_conflict(app, editor):
    with app.app_context():
        issue_id = make_issue("Original").id
    data = {"title": "Eva", "slug": "", "version": "1"}
    assert editor.post(f"/editor/issues/{issue_id}", data=data).status_code == 302
    response = editor.post(f"/editor/issues/{issue_id}", data=data | {"title": "Olle"})
    assert response.status_code == 409
    assert "Någon annan sparade numret" in response.get_data(as_text=True)


def test_duplicating_an_issue_copies_items_and_links_into_a_new_draft(app, editor):
    with app.app_context():
        issue = make_issue("Nyhetsbrev september 2026")
        make_item(issue, "aldre", "Ensamhet", links=[("Anmäl", "https://a.se")])
        make_item(issue, "barn-och-unga", "Heder")
        issue.status = "sent"
        db.session.commit()
        issue_id = issue.id
    response = editor.post(
        f"/editor/issues/{issue_id}/duplicate",
        data={"copy-title": "Nyhetsbrev december 2026"},
    )
    assert response.status_code == 302
    with app.app_context():
        copy = db.session.scalar(select(Issue).where(Issue.id != issue_id))
        assert (copy.title, copy.status) == ("Nyhetsbrev december 2026", "draft")
        assert copy.slug == "nyhetsbrev-december-2026"
        assert sorted(i.title for i in copy.items) == ["Ensamhet", "Heder"]
        assert [link.url for i in copy.items for link in i.links] == ["https://a.se"]
        assert count(Item) == 4


def test_preview_shows_sections_in_theme_order_with_contacts_and_links(app, editor):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Om äldre")
        make_item(
            issue,
            "barn-och-unga",
            "Om barn",
            links=[("Utbildningen", "https://utbildning.example.se")],
            contact_name="Amira Hassan",
            contact_phone="010-123 45 67",
            contact_email="amira.hassan@example.se",
        )
        issue_id = issue.id
    page = editor.get(f"/editor/issues/{issue_id}/preview").get_data(as_text=True)
    headings = [
        page.index('<h2 id="h-barn-och-unga">Barn och unga</h2>'),
        page.index("Om barn"),
        page.index('<h2 id="h-aldre">Äldre</h2>'),
        page.index("Om äldre"),
    ]
    assert headings == sorted(headings)
    assert "Psykisk hälsa" not in page  # empty sections are left out
    assert '<a href="https://utbildning.example.se">Utbildningen</a>' in page
    assert 'href="mailto:amira.hassan@example.se"' in page
    assert 'href="tel:0101234567"' in page


def test_the_issue_page_shows_every_active_section_then_inactive_ones_with_items(
    app, editor
):
    """Empty active sections invite items; an inactive theme's items stay visible."""
    with app.app_context():
        issue = make_issue()
        make_item(issue, "barn-och-unga", "Om barn")
        make_item(issue, "psykisk-halsa", "Om psykisk hälsa")
        theme("barn-och-unga").active = False
        db.session.commit()
        issue_id = issue.id
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    order = [
        page.index('id="theme-psykisk-halsa"'),
        page.index("Om psykisk hälsa"),
        page.index('id="theme-aldre"'),
        page.index("Inga artiklar i det här temat."),
        page.index('id="theme-barn-och-unga"'),
        page.index("(inaktivt)"),
        page.index("Om barn"),
    ]
    assert order == sorted(order)
    assert "Lägg till artikel i Barn och unga" not in page


class TagCollector(HTMLParser):
    """Collect the tags and attributes a browser would build from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_markdown_with_script_and_javascript_links_is_neutralised(app, editor):
    with app.app_context():
        make_item(
            make_issue(),
            body=(
                "<script>alert('x')</script> [klick](javascript:alert(1)) "
                '<a href="javascript:alert(2)">a</a> <img src=x onerror=alert(3)> '
                "[ok](https://ok.example.se) **fet**"
            ),
        )
    page = editor.get("/editor/issues/1/preview").get_data(as_text=True)
    parser = TagCollector()
    parser.feed(page)
    scripts = [a.get("src") for tag, a in parser.tags if tag == "script"]
    assert scripts == []  # the public page loads no script at all
    assert not [tag for tag, _ in parser.tags if tag == "img"]
    assert not [a for _, a in parser.tags if any(k.startswith("on") for k in a)]
    hrefs = [a["href"] for tag, a in parser.tags if tag == "a"]
    assert not [h for h in hrefs if h.lower().lstrip().startswith("javascript")]
    assert "https://ok.example.se" in hrefs
    assert "&lt;script&gt;" in page  # shown as text, never run
    assert "<strong>fet</strong>" in page


def test_a_sent_issue_cannot_be_changed(app, editor):
    with app.app_context():
        issue = make_issue()
        item_id, issue_id = make_item(issue).id, issue.id
        issue.status = "sent"
        db.session.commit()
    response = editor.post(f"/editor/items/{item_id}/delete")
    assert response.status_code == 409
    response = editor.get(f"/editor/issues/{issue_id}/items/new")
    assert response.status_code == 409
    with app.app_context():
        assert count(Item) == 1


def test_only_drafts_can_be_deleted(app, editor):
    with app.app_context():
        draft = make_issue("Utkast").id
        sent = make_issue("Skickat", status="sent").id
    editor.post(f"/editor/issues/{draft}/delete")
    editor.post(f"/editor/issues/{sent}/delete")
    with app.app_context():
        assert db.session.scalars(select(Issue.title)).all() == ["Skickat"]


def test_times_are_shown_in_stockholm_time(app, editor):
    from datetime import UTC, datetime

    with app.app_context():
        make_issue(published_at=datetime(2026, 1, 15, 23, 30, tzinfo=UTC))
    page = editor.get("/editor/").get_data(as_text=True)
    assert "2026-01-16 00:30" in page


def test_relative_links_and_images_in_markdown_do_not_become_site_links(app, editor):
    with app.app_context():
        make_item(
            make_issue(),
            body="[a](/editor/) [b](//evil.example) ![karta](https://k.example.se/k.png)",
        )
    page = editor.get("/editor/issues/1/preview").get_data(as_text=True)
    assert 'href="/editor/"' not in page and 'href="//evil.example"' not in page
    assert (
        '<a href="https://k.example.se/k.png" rel="noopener noreferrer">karta</a>'
        in page
    )


def test_contact_details_are_joined_without_stray_separators(app, editor):
    with app.app_context():
        make_item(make_issue(), contact_phone="+46 (0)10-123 45 67")
    page = editor.get("/editor/issues/1/preview").get_data(as_text=True)
    assert (
        'Kontakt:</span> <a class="phone" href="tel:+46101234567">'
        "+46 (0)10-123 45 67</a></p>" in page
    )


def test_item_changes_show_as_the_issues_last_change(app, editor):
    with app.app_context():
        issue = make_issue()
        issue_id, section = issue.id, theme("aldre").id
    editor.post(f"/editor/issues/{issue_id}/items/new", data=item_form(section))
    with app.app_context():
        assert db.session.get(Issue, issue_id).updated_by == "Eva Editor"
    # ... without making the open header form conflict.
    response = editor.post(
        f"/editor/issues/{issue_id}", data={"title": "Ny rubrik", "version": "1"}
    )
    assert response.status_code == 302


def test_a_typed_slug_that_is_taken_is_refused_on_create(app, editor):
    with app.app_context():
        make_issue("Första", slug="forsta")
    response = editor.post(
        "/editor/issues/new", data={"title": "Annat", "slug": "forsta"}
    )
    assert response.status_code == 422
    assert "Ett annat nummer använder redan den adressen." in response.get_data(
        as_text=True
    )


def test_more_links_than_allowed_are_refused_not_dropped(app, editor):
    with app.app_context():
        issue_id, section = make_issue().id, theme("aldre").id
    links = {}
    for n in range(51):
        links[f"links-{n}-text"] = f"L{n}"
        links[f"links-{n}-url"] = f"https://example.se/{n}"
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new", data=item_form(section, **links)
    )
    assert response.status_code == 422
    assert "högst 50 länkar" in response.get_data(as_text=True)


def test_a_title_spelling_mail_header_syntax_is_refused(app, editor):
    response = editor.post(
        "/editor/issues/new",
        data={"title": "Nytt =?utf-8?q?=0D=0AReply-To:_x@evil.example?= nummer"},
    )
    assert response.status_code == 422
    assert "=?…?=" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Issue) == 0
