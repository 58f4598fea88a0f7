"""Another site's page signs a reader up through the API, in a real browser: from an
origin in API_CORS_ORIGINS it works, from any other the browser refuses."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import OutboundMessage
from tests.browser import live_site
from tests.test_browser_subscriber import open_latest_mail

pytestmark = pytest.mark.browser

# The region's page: its own form, its own script, our API.
PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Regionen</title></head>
<body>
<form id="signup">
  <label>E-post <input id="email" type="email"></label>
  <button type="submit">Prenumerera</button>
</form>
<output id="result"></output>
<script>
document.getElementById("signup").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = document.getElementById("result");
  try {
    const response = await fetch("API/api/v1/subscriptions", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({
        email: document.getElementById("email").value,
        themes: ["aldre"],
        language: "sv",
      }),
    });
    const body = await response.json();
    result.textContent = response.status + " " + (body.message || body.error);
  } catch (error) {
    result.textContent = "refused " + error.name;
  }
});
</script>
</body></html>
"""


@contextmanager
def other_site(api: str) -> Iterator[str]:
    """Serve the region's page on a loopback port of its own; yield its origin."""
    body = PAGE.replace("API/", api + "/").encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sign_up_from(page, origin: str, email: str) -> str:
    page.goto(origin + "/")
    page.fill("#email", email)
    page.click("button[type=submit]")
    page.wait_for_function("document.getElementById('result').textContent !== ''")
    return page.text_content("#result")


def queued(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(OutboundMessage.id)).where(
                OutboundMessage.to_address == email
            )
        )


def test_a_listed_site_signs_up_through_the_api_and_others_are_refused(tmp_path, page):
    # The pages need the API's address and the API their origin: the app starts
    # first, and lists the region's origin once its page has a port (checked as
    # at start).
    from newsletter.config import update_settings

    with live_site(tmp_path) as (app, url):
        with other_site(url) as region, other_site(url) as stranger:
            update_settings(app, API_CORS_ORIGINS=region)

            answer = sign_up_from(page, region, "besok@example.se")
            assert answer.startswith("202 "), answer
            Worker(app).run(once=True)
            text = open_latest_mail(page, url)
            assert re.search(r"http://127\.0\.0\.1:\d+/confirm/\S+", text)

            refused = sign_up_from(page, stranger, "annan@example.se")
            assert refused == "refused TypeError"
            assert queued(app, "annan@example.se") == 0
            assert queued(app, "besok@example.se") == 1
