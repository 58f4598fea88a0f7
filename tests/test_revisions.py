"""Every save of an item or an issue header keeps a numbered revision, which
editors compare word by word and restore."""

from __future__ import annotations

from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import Item
from newsletter.models.review import Revision
from newsletter.services import issues, revisions
from tests.factories import make_issue, make_item
from tests.test_issues import item_form


def numbers(object_type: str, object_id: int) -> list[int]:
    return [r.number for r in revisions.for_object(object_type, object_id)]


def test_adding_and_saving_an_item_keeps_numbered_revisions(app, editor):
    with app.app_context():
        item = make_item(make_issue(), "aldre", "Första")
        item_id, aldre = item.id, item.theme_id
    editor.post(f"/editor/items/{item_id}", data=item_form(aldre, "Andra", version="1"))
    editor.post(
        f"/editor/items/{item_id}", data=item_form(aldre, "Tredje", version="2")
    )
    with app.app_context():
        rows = revisions.for_object("item", item_id)
        assert [r.number for r in rows] == [3, 2, 1]
        assert [r.fields["title"] for r in rows] == ["Tredje", "Andra", "Första"]
        assert rows[0].created_by == "editor@example.se"
    page = editor.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert "Versioner" in page and "Eva Editor" in page


def test_each_item_is_numbered_on_its_own(app):
    with app.app_context():
        issue = make_issue()
        first = make_item(issue, "aldre", "Ett")
        second = make_item(issue, "aldre", "Två")
        assert numbers("item", first.id) == [1]
        assert numbers("item", second.id) == [1]
        assert numbers("issue", issue.id) == [1]


def test_the_diff_marks_changed_words_and_escapes_markup(app, editor):
    with app.app_context():
        item = make_item(
            make_issue(), "aldre", "Möte om äldre", body="Vi ses i Umeå på tisdag."
        )
        item_id, aldre = item.id, item.theme_id
    editor.post(
        f"/editor/items/{item_id}",
        data=item_form(
            aldre,
            "Möte om äldre",
            body="Vi ses i Luleå på <script>x</script> tisdag.",
            version="1",
        ),
    )
    response = editor.get(f"/editor/items/{item_id}/revisions?a=1&b=2")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<del>Umeå</del>" in page and "<ins>Luleå</ins>" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert editor.get(f"/editor/items/{item_id}/revisions?a=1&b=9").status_code == 404


def test_restoring_a_version_saves_it_as_a_new_revision(app, editor):
    with app.app_context():
        item = make_item(make_issue(), "aldre", "Original", body="Första texten")
        item_id, aldre = item.id, item.theme_id
    editor.post(
        f"/editor/items/{item_id}", data=item_form(aldre, "Ändrad", version="1")
    )
    response = editor.post(
        f"/editor/items/{item_id}/revisions/1/restore", data={"version": "2"}
    )
    assert response.status_code == 302
    with app.app_context():
        restored = db.session.get(Item, item_id)
        assert (restored.title, restored.body) == ("Original", "Första texten")
        assert numbers("item", item_id) == [3, 2, 1]


def test_restoring_from_a_stale_page_is_a_conflict_and_writes_nothing(app, editor):
    with app.app_context():
        item = make_item(make_issue(), "aldre", "Original")
        item_id, aldre = item.id, item.theme_id
    editor.post(
        f"/editor/items/{item_id}", data=item_form(aldre, "Eva sparade", version="1")
    )
    response = editor.post(
        f"/editor/items/{item_id}/revisions/1/restore", data={"version": "1"}
    )
    assert response.status_code == 409
    assert "Någon annan sparade artikeln" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Eva sparade"
        count = db.session.scalar(select(func.count()).select_from(Revision))
        assert count == 3  # the issue's, and the item's two saves


def test_issue_header_saves_keep_revisions_with_a_diff(app, editor):
    with app.app_context():
        issue_id = make_issue("Nyhetsbrev mars", intro="Hej alla").id
    response = editor.post(
        f"/editor/issues/{issue_id}",
        data={
            "title": "Nyhetsbrev april",
            "intro": "Hej alla läsare",
            "preheader": "",
            "slug": "nyhetsbrev-mars",
            "version": "1",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        assert numbers("issue", issue_id) == [2, 1]
    issue_page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert f"/editor/issues/{issue_id}/revisions" in issue_page
    page = editor.get(f"/editor/issues/{issue_id}/revisions?a=1&b=2").get_data(
        as_text=True
    )
    assert "<del>mars</del>" in page and "<ins>april</ins>" in page
    assert "<ins> läsare</ins>" in page


def test_a_deleted_item_takes_its_history_along(sqlite_app):
    # SQLite hands a deleted row's id to the next row: the new item of another
    # issue must not list the deleted one's versions.
    with sqlite_app.app_context():
        secret = make_item(make_issue(title="Utkast A", slug="a"), "aldre", "Hemlig")
        secret_id = secret.id
        issues.delete_item(secret_id, "Eva")
        db.session.commit()
        other = make_item(make_issue(title="Utkast B", slug="b"), "aldre", "Öppen")
        assert other.id == secret_id  # the id came back
        assert numbers("item", other.id) == [1]
        assert revisions.for_object("item", other.id)[0].fields["title"] == "Öppen"
