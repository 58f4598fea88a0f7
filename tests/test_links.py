"""Every link of an issue is checked before anyone reads it, by the workers."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from newsletter.config import settings_of
from newsletter.extensions import db
from newsletter.link_checker import check_and_record
from newsletter.mail.transport import MemoryTransport
from newsletter.mail.worker import Worker
from newsletter.models import (
    AuditEvent,
    IssueStatus,
    Item,
    LinkCheck,
    LinkOutcome,
    Role,
)
from newsletter.models.types import utcnow
from newsletter.services import links
from tests.conftest import log_in
from tests.factories import make_editor, make_issue, make_item
from tests.test_shared_limits import issue_queued_for


class LinkServer(ThreadingHTTPServer):
    """A web server answering each path its own way, counting what it was asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Answers)
        self.asked: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self.busy = 0
        self.most_at_once = 0


class Answers(BaseHTTPRequestHandler):
    server: LinkServer

    def do_HEAD(self) -> None:  # noqa: N802
        self.answer("HEAD")

    def do_GET(self) -> None:  # noqa: N802
        self.answer("GET")

    def answer(self, method: str) -> None:
        path = self.path.split("?")[0]
        self.server.asked[(method, path)] += 1
        if path == "/reset":
            linger = struct.pack("ii", 1, 0)  # close with a TCP reset
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()
            return
        if path == "/slow":
            time.sleep(2)
        if path == "/wait":
            self.count_at_once(0.3)
        status = {"/ok": 200, "/wait": 200, "/moved": 301, "/missing": 404}.get(
            path, 500
        )
        if path == "/no-head":
            status = 405 if method == "HEAD" else 200
        self.send_response(status)
        if path == "/moved":
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def count_at_once(self, seconds: float) -> None:
        with self.server.lock:
            self.server.busy += 1
            self.server.most_at_once = max(self.server.most_at_once, self.server.busy)
        time.sleep(seconds)
        with self.server.lock:
            self.server.busy -= 1

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    server = LinkServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def checking_app(make_app):
    return make_app(OUTBOUND_ALLOW_PRIVATE=True, LINK_CHECK_TIMEOUT=0.5)


@pytest.mark.parametrize(
    ("path", "outcome", "status", "reason"),
    [
        ("/ok", LinkOutcome.WORKING, 200, ""),
        ("/moved", LinkOutcome.REDIRECTED, 200, ""),
        ("/missing", LinkOutcome.BROKEN, 404, "404"),
        ("/error", LinkOutcome.BROKEN, 500, "500"),
        ("/slow", LinkOutcome.BROKEN, None, "0.5 sekunder"),
        ("/reset", LinkOutcome.BROKEN, None, "bröts"),
    ],
)
def test_each_kind_of_answer_gets_its_outcome(
    checking_app, server, path, outcome, status, reason
):
    with checking_app.app_context():
        (result,) = links.check_urls([server.url + path], 0.5, 2, True)
        said = str(result.reason or "")  # in the app's language, Swedish
    assert (result.outcome, result.http_status) == (outcome, status)
    assert reason in said
    if outcome is LinkOutcome.REDIRECTED:
        assert result.final_url == server.url + "/ok"


def test_a_refused_head_is_asked_again_with_get(checking_app, server):
    with checking_app.app_context():
        result = links.check_url(server.url + "/no-head", 1.0, True)
    assert result.outcome is LinkOutcome.WORKING
    assert server.asked[("GET", "/no-head")] == 1


def test_a_loopback_address_is_refused_without_the_allowance(app, server):
    with app.app_context():
        result = links.check_url(server.url + "/ok", 1.0, allow_private=False)
        said = str(result.reason)
    assert result.outcome is LinkOutcome.BROKEN
    assert "privat" in said
    assert not server.asked


def test_no_more_links_of_one_host_are_checked_at_once_than_allowed(
    checking_app, server
):
    urls = [f"{server.url}/wait?{n}" for n in range(6)]
    with checking_app.app_context():
        results = links.check_urls(urls, 5.0, 2, True)
    assert {r.outcome for r in results} == {LinkOutcome.WORKING}
    assert server.most_at_once == 2


def test_only_web_links_of_items_and_their_text_are_checked(app):
    with app.app_context():
        issue = make_issue()
        make_item(
            issue,
            links=[
                ("Program", "https://a.example.se/program"),
                ("Mejl", "mailto:x@y.se"),
            ],
            body="Läs [mer](https://b.example.se/mer) eller ring [oss](tel:0480123).",
            contact_email="maria.svensson@example.se",
        )
        found = links.issue_urls(issue)
    assert found == ["https://a.example.se/program", "https://b.example.se/mer"]


def test_an_address_checked_within_the_hour_is_not_checked_again(checking_app, server):
    with checking_app.app_context():
        issue = make_issue()
        make_item(issue, links=[("Ok", server.url + "/ok")])
        check_and_record(links.pending(utcnow()))
        assert links.pending(utcnow()) == []
        check_and_record(links.pending(utcnow()))
    assert server.asked[("HEAD", "/ok")] == 1


def test_the_worker_checks_the_links_of_a_draft(make_app, server):
    app = make_app(OUTBOUND_ALLOW_PRIVATE=True, LINK_CHECK_EVERY_SECONDS=60)
    with app.app_context():
        issue = make_issue()
        make_item(issue, links=[("Flyttad", server.url + "/moved")])
    Worker(app).tick()
    with app.app_context():
        check = db.session.get(LinkCheck, server.url + "/moved")
        assert check is not None and check.outcome is LinkOutcome.REDIRECTED
        assert check.final_url == server.url + "/ok"


def sent_issue_linking(*urls: str) -> None:
    """A published issue with one item linking to these addresses."""
    issue = make_issue()
    make_item(issue, links=[(f"Länk {n}", url) for n, url in enumerate(urls)])
    issue.status = IssueStatus.SENT
    issue.published_at = utcnow()
    db.session.commit()


def test_links_of_sent_issues_are_not_checked_by_the_worker(make_app, server):
    app = make_app(OUTBOUND_ALLOW_PRIVATE=True, LINK_CHECK_EVERY_SECONDS=60)
    with app.app_context():
        sent_issue_linking(server.url + "/ok")
    Worker(app).tick()
    assert not server.asked


def test_the_command_prints_each_link_of_an_issue(checking_app, server):
    with checking_app.app_context():
        issue = make_issue(slug="februari")
        make_item(
            issue, links=[("A", server.url + "/moved"), ("B", server.url + "/missing")]
        )
    result = checking_app.test_cli_runner().invoke(args=["links", "check", "februari"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["URL", "OUTCOME", "STATUS", "FINAL", "ADDRESS"]
    assert lines[1].split() == [
        server.url + "/moved",
        "redirected",
        "200",
        server.url + "/ok",
    ]
    assert lines[2].split()[:3] == [server.url + "/missing", "broken", "404"]


def test_the_archive_check_reports_only_what_broke_since_the_last_run(
    checking_app, server
):
    runner = checking_app.test_cli_runner()
    with checking_app.app_context():
        sent_issue_linking(server.url + "/ok", server.url + "/error")
    first = runner.invoke(args=["links", "check"])
    with checking_app.app_context():
        db.session.execute(
            LinkCheck.__table__.update().values(checked_at=utcnow().replace(year=2020))
        )
        db.session.commit()
    second = runner.invoke(args=["links", "check"])
    assert first.exit_code == second.exit_code == 0
    assert "1 broke since the last run" in first.output
    assert server.url + "/error" in first.output
    assert "0 broke since the last run" in second.output


def test_adopting_the_final_address_updates_item_links_and_text(checking_app, server):
    moved = server.url + "/moved"
    with checking_app.app_context():
        issue = make_issue()
        item = make_item(
            issue,
            links=[("Flyttad", moved)],
            body=f"Se [sidan]({moved}) och {moved}/x.",
        )
        check_and_record([moved])
        assert links.adopt_final_address(issue.id, moved, "Test") == 1
        db.session.commit()
        db.session.refresh(item)
        assert [link.url for link in item.links] == [server.url + "/ok"]
        assert item.body == f"Se [sidan]({server.url}/ok) och {moved}/x."
        assert db.session.scalars(select(LinkCheck.url)).all() == [moved]
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "item.link_adopted")
        ).one()
        assert (event.action, event.object_id, event.changes) == (
            "item.link_adopted",
            item.id,
            {"url": [moved, server.url + "/ok"]},
        )


@pytest.fixture
def linked_issue(checking_app, server):
    """A draft linking to a working, a moved, a missing and an unchecked address,
    the first three checked; return the issue's id."""
    with checking_app.app_context():
        # A publisher: the send page is theirs.
        make_editor(email="editor@example.se", role=Role.PUBLISHER)
        issue = make_issue()
        urls = [server.url + path for path in ("/ok", "/moved", "/missing")]
        make_item(
            issue,
            links=[("Länk", url) for url in urls],
            body="Se [sidan](https://inte-kontrollerad.example.se/sida).",
        )
        check_and_record(urls)
        return issue.id


def test_the_issue_page_shows_the_state_of_each_link(
    checking_app, server, linked_issue
):
    client = log_in(checking_app.test_client(), "editor@example.se")
    page = client.get(f"/editor/issues/{linked_issue}").get_data(as_text=True)
    links_part = page[page.index('id="links"') :]
    assert "fungerar" in links_part
    assert "omdirigeras till" in links_part and f'href="{server.url}/ok"' in links_part
    assert "Använd den nya adressen" in links_part
    assert "trasig" in links_part and "404" in links_part
    unchecked = links_part[links_part.index("https://inte-kontrollerad") :]
    assert "inte kontrollerad än" in unchecked[: unchecked.index("</li>")]


def test_why_a_link_is_broken_is_said_in_the_editors_language(checking_app, server):
    missing = server.url + "/missing"
    refused = server.url.replace("127.0.0.1", "localhost") + "/ok"
    with checking_app.app_context():
        make_editor(email="editor@example.se")
        issue = make_issue()
        make_item(issue, links=[("Saknas", missing), ("Lokal", refused)])
        results = [
            links.check_url(missing, 0.5, allow_private=True),
            links.check_url(refused, 0.5, allow_private=False),
        ]
        links.record(results, utcnow())  # worded by no one: the worker's language
        db.session.commit()
        issue_id = issue.id
    client = log_in(checking_app.test_client(), "editor@example.se")
    page = client.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "servern svarade med status 404" in page
    assert "localhost pekar på en privat eller lokal adress" in page
    client.client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "the server answered with status 404" in page
    assert "localhost points to a private or local address" in page
    assert "servern svarade" not in page and "pekar på" not in page


def test_a_reason_checked_before_reasons_were_codes_is_shown_as_it_was(app):
    assert links.reason_text("servern svarade med status 404") == (
        "servern svarade med status 404"
    )
    assert links.reason_text('{"code": "unknown", "values": {}}') == (
        '{"code": "unknown", "values": {}}'
    )
    assert links.reason_text("") == ""


def test_use_the_new_address_replaces_the_redirected_link(
    checking_app, server, linked_issue
):
    client = log_in(checking_app.test_client(), "editor@example.se")
    url = f"/editor/issues/{linked_issue}/links/adopt"
    answer = client.post(url, data={"url": server.url + "/moved"})
    assert answer.status_code == 302
    with checking_app.app_context():
        (item,) = db.session.scalars(select(Item)).all()
        assert [link.url for link in item.links] == [
            server.url + "/ok",
            server.url + "/ok",
            server.url + "/missing",
        ]


def test_adopting_needs_the_form_token(checking_app, server, linked_issue):
    client = log_in(checking_app.test_client(), "editor@example.se")
    answer = client.client.post(
        f"/editor/issues/{linked_issue}/links/adopt",
        data={"url": server.url + "/moved"},
    )
    assert answer.status_code == 400


def test_the_send_page_warns_with_the_broken_links_and_still_sends(
    checking_app, server, linked_issue
):
    client = log_in(checking_app.test_client(), "editor@example.se")
    page = client.get(f"/editor/issues/{linked_issue}/send").get_data(as_text=True)
    warning = page[page.index('id="broken-links"') : page.index("Skicka nu")]
    assert "1 länk i numret är trasig" in warning
    assert server.url + "/missing" in warning and server.url + "/moved" not in warning
    assert 'type="submit" class="primary"' in page


def test_the_archive_report_lists_the_broken_links(checking_app, server):
    with checking_app.app_context():
        make_editor(email="editor@example.se")
        sent_issue_linking(server.url + "/ok", server.url + "/error")
        check_and_record([server.url + "/ok", server.url + "/error"])
    client = log_in(checking_app.test_client(), "editor@example.se")
    page = client.get("/editor/links").get_data(as_text=True)
    assert server.url + "/error" in page and "500" in page
    assert server.url + "/ok" not in page


def test_a_malformed_address_is_reported_broken_not_raised(checking_app):
    with checking_app.app_context():
        (result,) = links.check_urls(["http://[::1/sida"], 1.0, 2, True)
        said = str(result.reason)
    assert result.outcome is LinkOutcome.BROKEN
    assert "ingen giltig webbadress" in said


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("OUTBOUND_ALLOW_PRIVATE", True),
        ("FEED_IMPORT_ALLOW_PRIVATE", True),
        ("", False),
    ],
)
def test_either_name_of_the_test_allowance_lets_fetches_reach_loopback(
    make_app, key, allowed
):
    app = make_app(**({key: True} if key else {}))
    assert settings_of(app).allow_private_fetches is allowed


@pytest.mark.real_commits
def test_slow_links_never_hold_up_a_running_workers_mail(make_app, server):
    app = make_app(
        OUTBOUND_ALLOW_PRIVATE=True,
        LINK_CHECK_EVERY_SECONDS=60,
        WORKER_IDLE_SECONDS=0.1,
    )
    with app.app_context():  # six answers of 2 s each, two at a time: 6 s of checks
        issue = make_issue()
        make_item(
            issue, links=[(f"Seg {n}", f"{server.url}/slow?{n}") for n in range(6)]
        )
        db.session.commit()
    transport = MemoryTransport()
    worker = Worker(app, transport_factory=lambda: transport)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.asked and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.asked, "the worker never started checking links"
        queued_at = time.monotonic()
        issue_queued_for(app, 2)
        while len(transport.sent) < 2 and time.monotonic() < queued_at + 10:
            time.sleep(0.02)
        waited = time.monotonic() - queued_at
    finally:
        worker.stop()
        thread.join()
        # The link thread finishes its round on its own; it holds a connection
        # to this test's database until then.
        worker.link_thread.join()
    assert len(transport.sent) == 2
    assert waited < 1.5, f"mail waited {waited:.1f} s for the link checks"
