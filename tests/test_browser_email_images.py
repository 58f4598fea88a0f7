"""The pictures of an issue email load where an editor looks at it before and after
sending: the editor's email preview and the local mail catcher, both framed, on a
site served over plain http as in a local trial."""

from __future__ import annotations

import pytest

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models.types import utcnow
from newsletter.services import media, sending
from tests.browser import live_site
from tests.factories import make_editor, make_issue, make_item, make_subscriber
from tests.test_accessibility import log_in_on_the_page
from tests.test_media import photo

pytestmark = pytest.mark.browser

ALT = "Två barn bygger en koja av grenar i skogen."
LOADED = "img => img.complete && img.naturalWidth"


@pytest.fixture
def site(tmp_path):
    """A live http site with an administrator and a draft issue whose item has a
    photo; yield the app, its URL and the issue's id."""
    with live_site(tmp_path) as (app, url):
        assert url.startswith("http://")
        with app.app_context():
            make_editor(email="admin@example.se", name="Ada Admin", is_admin=True)
            stored = media.store_image(photo())
            item = make_item(make_issue("Med bild"), "aldre", "Koja", body="Text.")
            item.image, item.image_alt = stored.name, ALT
            item.image_width, item.image_height = stored.size_at(1200)
            db.session.commit()
            issue_id = item.issue_id
        yield app, url, issue_id


def framed_image(page, frame: str):
    """The item's picture inside a frame, once it has loaded or been refused."""
    image = page.frame_locator(frame).get_by_role("img", name=ALT)
    image.evaluate("img => img.decode().catch(() => null)")  # loaded or refused
    return image


def test_the_email_preview_shows_the_items_picture(site, page):
    _app, url, issue_id = site
    page.goto(url + "/editor/login")
    log_in_on_the_page(page)
    page.goto(f"{url}/editor/issues/{issue_id}/email")
    for frame in ("iframe.email-desktop", "iframe.email-phone"):
        assert framed_image(page, frame).evaluate(LOADED) > 0, frame


def test_the_mail_catcher_shows_the_items_picture(site, page):
    app, url, issue_id = site
    with app.app_context():
        make_subscriber("lasare@example.se")
        sending.start_sending(issue_id, utcnow())
        db.session.commit()
    Worker(app).run(once=True)
    page.goto(f"{url}/dev/mail/")
    page.get_by_role("link", name="Med bild").click()
    assert framed_image(page, "iframe.email-desktop").evaluate(LOADED) > 0
