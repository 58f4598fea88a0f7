"""Services raise domain errors; the blueprints answer them with pages in Swedish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Blueprint, Flask
from werkzeug.exceptions import HTTPException

from newsletter.errors import Conflict, DomainError, InvalidState, NotFound
from newsletter.models import Role
from newsletter.models.types import utcnow
from newsletter.services import editors, issues, sending, themes
from newsletter.services.issues import ItemData, LinkData
from newsletter.web import answer_domain_errors

MISSING = 424242

SERVICE_CALLS: dict[str, Callable[[], Any]] = {
    "update_issue": lambda: issues.update_issue(
        MISSING, 1, title="T", intro="", preheader="", slug="", editor="Test"
    ),
    "add_item": lambda: issues.add_item(MISSING, ItemData("T", theme_id=1), "Test"),
    "update_item": lambda: issues.update_item(
        MISSING, 1, ItemData("T", theme_id=1), "Test"
    ),
    "add_links": lambda: issues.add_links(
        MISSING, [LinkData("L", "https://example.se/")], "Test"
    ),
    "delete_item": lambda: issues.delete_item(MISSING, "Test"),
    "move_item": lambda: issues.move_item(MISSING, 1, "Test"),
    "duplicate_issue": lambda: issues.duplicate_issue(MISSING, "Kopia", "Test"),
    "delete_draft": lambda: issues.delete_draft(MISSING),
    "rename_theme": lambda: themes.rename_theme(MISSING, "Namn", ""),
    "set_theme_active": lambda: themes.set_theme_active(MISSING, False),
    "update_editor": lambda: editors.update_editor(
        MISSING, role=Role.EDITOR, active=True
    ),
    "end_sessions": lambda: editors.end_sessions(MISSING),
    "set_password": lambda: editors.set_password(MISSING, "ett långt lösenord"),
    "start_sending": lambda: sending.start_sending(MISSING, utcnow()),
    "retry_failed": lambda: sending.retry_failed(MISSING, utcnow()),
    "queue_test_send": lambda: sending.queue_test_send(MISSING, ["a@example.se"], "sv"),
}


@pytest.mark.parametrize("call", SERVICE_CALLS.values(), ids=SERVICE_CALLS.keys())
def test_a_service_asked_for_a_missing_row_raises_not_found_not_an_http_error(
    app: Flask, call: Callable[[], Any]
) -> None:
    """No service knows about HTTP: the worker and the CLI call them too."""
    with app.app_context():
        with pytest.raises(NotFound, match=f"{MISSING} does not exist") as raised:
            call()
        assert not isinstance(raised.value, HTTPException)


def test_an_item_added_to_a_missing_theme_is_not_found(app: Flask) -> None:
    """The theme is a row too: naming one that does not exist is NotFound."""
    from tests.factories import make_issue

    with app.app_context():
        issue_id = make_issue().id
        with pytest.raises(NotFound, match=f"theme {MISSING} does not exist"):
            issues.add_item(issue_id, ItemData("T", theme_id=MISSING), "Test")


def test_the_editor_answers_a_missing_row_with_a_swedish_404_page(
    app: Flask, editor: Any
) -> None:
    """A service's NotFound becomes the site's own 404 page."""
    response = editor.post(f"/editor/items/{MISSING}/delete")
    assert response.status_code == 404
    assert "Sidan kunde inte hittas." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (NotFound("issue 1 does not exist"), 404, "Sidan kunde inte hittas."),
        (
            Conflict("slug taken"),
            409,
            "Något har ändrats under tiden. Ladda om sidan och försök igen.",
        ),
        (
            InvalidState("the issue is sent"),
            409,
            "Något har ändrats under tiden. Ladda om sidan och försök igen.",
        ),
    ],
)
def test_each_kind_of_domain_error_has_its_own_status_and_page(
    make_app: Callable[..., Flask], error: DomainError, status: int, message: str
) -> None:
    """The mapping every blueprint registers: not found 404, the others 409."""
    app = make_app()
    probe = Blueprint("probe", __name__)
    answer_domain_errors(probe)

    @probe.get("/probe")
    def refuse() -> str:
        """Raise the error under test as a service would."""
        raise error

    app.register_blueprint(probe)
    response = app.test_client().get("/probe")
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert str(error) not in response.get_data(as_text=True)
