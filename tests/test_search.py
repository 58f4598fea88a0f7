"""The archive search finds published items and issues by Swedish word forms, on
both engines; drafts never; corrections and cancellations show at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from newsletter.extensions import db
from newsletter.models import AuditEvent, Item, Role
from newsletter.services import corrections, search, sending
from newsletter.services.issues import ItemData
from tests.factories import make_issue, make_item, theme

PUBLISHED = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
HIT_LINK = re.compile(r'<li class="search-hit">\s*<h2 lang="sv"><a href="([^"]+)">')


def publish(issue_id: int, at: datetime = PUBLISHED) -> None:
    """Start sending an issue, as the editor's button does."""
    sending.start_sending(issue_id, at)
    db.session.commit()


def published_issue(
    issue_title: str = "Nyhetsbrev mars 2025", at: datetime = PUBLISHED, **item: str
) -> tuple[int, int]:
    """A published issue with one item (about the elderly unless told); returns
    the issue's and the item's ids."""
    issue = make_issue(issue_title)
    made = make_item(
        issue,
        item.pop("theme_slug", "aldre"),
        item.pop("title", "Träffpunkter för äldre i länet"),
        body=item.pop("body", "Nya mötesplatser öppnar i tre kommuner."),
        **item,
    )
    publish(issue.id, at)
    return issue.id, made.id


def hrefs(client, query: str, **filters: str) -> list[str]:
    """The result links a search page shows."""
    response = client.get("/search", query_string={"q": query, **filters})
    assert response.status_code == 200
    return HIT_LINK.findall(response.get_data(as_text=True))


def test_an_inflected_word_finds_the_base_form(app, client):
    with app.app_context():
        _issue, item_id = published_issue()
    expected = f"/archive/nyhetsbrev-mars-2025#item-{item_id}"
    assert hrefs(client, "äldres") == [expected]
    assert hrefs(client, "mötesplatsen") == [expected]
    assert hrefs(client, "ÄLDRE") == [expected]
    assert hrefs(client, "simhall") == []


def test_drafts_are_never_found(app, client):
    with app.app_context():
        draft = make_issue("Nyhetsbrev utkast")
        make_item(draft, "aldre", "Hemlig planering för äldre")
    assert hrefs(client, "hemlig") == []
    assert hrefs(client, "utkast") == []


def test_publishing_indexes_and_cancelling_removes_an_issue(app, client):
    with app.app_context():
        issue = make_issue("Nyhetsbrev april", intro="Våren i regionen.")
        make_item(issue, "barn-och-unga", "Läxhjälp på biblioteken")
        issue_id = issue.id
    assert hrefs(client, "läxhjälpen") == []
    with app.app_context():
        publish(issue_id)
    assert len(hrefs(client, "läxhjälpen")) == 1
    assert hrefs(client, "våren") == ["/archive/nyhetsbrev-april"]
    with app.app_context():
        sending.cancel(issue_id, PUBLISHED)
        db.session.commit()
    assert hrefs(client, "läxhjälpen") == []
    assert hrefs(client, "våren") == []


def test_a_correction_is_found_and_the_old_text_no_more(app, client):
    with app.app_context():
        _issue, item_id = published_issue(body="Webbinariet hålls i Umeå.")
        item = db.session.get(Item, item_id)
        item.issue.status = "sent"  # every delivery went out
        data = ItemData(
            title=item.title,
            theme_id=item.theme_id,
            body="Webbinariet hålls i Luleå.",
            links=[],
        )
        corrections.correct_item(
            item_id, item.version, data, "Fel ort.", PUBLISHED, role=Role.ADMIN
        )
        db.session.commit()
    assert len(hrefs(client, "luleå")) == 1
    assert hrefs(client, "umeå") == []


def test_contacts_links_and_introductions_are_found(app, client):
    with app.app_context():
        issue = make_issue("Nyhetsbrev maj", intro="Sommarens aktiviteter.")
        made = make_item(
            issue,
            "psykisk-halsa",
            "Samtalsstöd",
            links=[("Anmälan", "https://example.se/anmalan")],
            contact_name="Birgitta Holm",
            contact_email="birgitta.holm@example.se",
            contact_phone="0480-450 00",
        )
        publish(issue.id)
        item_href = f"/archive/nyhetsbrev-maj#item-{made.id}"
    assert hrefs(client, "Holm") == [item_href]
    assert hrefs(client, "birgitta.holm@example.se") == [item_href]
    assert hrefs(client, "anmälans") == [item_href]
    assert hrefs(client, "sommarens") == ["/archive/nyhetsbrev-maj"]


def test_markup_in_a_title_is_shown_as_text_with_the_match_marked(app, client):
    with app.app_context():
        issue = make_issue("Nyhetsbrev juni")
        made = make_item(issue, "aldre", "Äldre")
        # Stored before titles were checked for markup.
        db.session.get(Item, made.id).title = "<script>alert(1)</script> Äldre"
        db.session.commit()
        publish(issue.id)
    page = client.get("/search?q=äldre").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Äldre</mark>" in page


def test_the_snippet_marks_every_form_of_the_word(app, client):
    with app.app_context():
        published_issue(body="De äldres röster hörs. Äldre personer bjuds in.")
    page = client.get("/search?q=äldre").get_data(as_text=True)
    assert "De <mark>äldres</mark> röster hörs. <mark>Äldre</mark> personer" in page


def test_results_are_filtered_by_theme_and_year(app, client):
    with app.app_context():
        published_issue("Mars 2024", datetime(2024, 3, 1, 8, tzinfo=UTC))
        published_issue(
            "Mars 2025",
            title="Stöd till äldre och unga",
            theme_slug="barn-och-unga",
        )
    assert len(hrefs(client, "äldre")) == 2
    assert [h.split("#")[0] for h in hrefs(client, "äldre", year="2024")] == [
        "/archive/mars-2024"
    ]
    assert [h.split("#")[0] for h in hrefs(client, "äldre", theme="barn-och-unga")] == [
        "/archive/mars-2025"
    ]
    page = client.get("/search?q=äldre&theme=aldre&year=2025").get_data(as_text=True)
    assert "Inget i arkivet matchade din sökning." in page
    assert "Sök i alla teman och år." in page


def test_unknown_filters_and_overlong_queries_get_a_message(app, client):
    response = client.get("/search?q=äldre&theme=finns-inte")
    assert response.status_code == 400
    assert "Välj ett tema i listan." in response.get_data(as_text=True)
    response = client.get("/search?q=äldre&year=1999")
    assert response.status_code == 400
    assert "Välj ett år i listan." in response.get_data(as_text=True)
    response = client.get("/search", query_string={"q": "ä" * 201})
    assert response.status_code == 400
    assert "Korta din sökning till högst 200 tecken." in response.get_data(as_text=True)
    assert client.get("/search?q=äldre&page=x").status_code == 404


def test_results_come_ten_to_a_page(app, client):
    with app.app_context():
        issue = make_issue("Nyhetsbrev juli")
        for n in range(12):
            make_item(issue, "aldre", f"Seniorträff nummer {n}")
        publish(issue.id)
    first = client.get("/search?q=seniorträff").get_data(as_text=True)
    assert "12 träffar" in first and "Sida 1 av 2" in first
    assert len(HIT_LINK.findall(first)) == 10
    assert len(hrefs(client, "seniorträff", page="2")) == 2
    assert client.get("/search?q=seniorträff&page=3").status_code == 404
    assert client.get("/search?q=seniorträff&page=0").status_code == 404


def test_an_empty_query_shows_the_form_only(app, client):
    page = client.get("/search").get_data(as_text=True)
    assert 'role="search"' in page and "Sök efter" in page
    assert "träff" not in page and "Inget i arkivet" not in page


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"äldre',
        "äldre*",
        "(äldre",
        "title:äldre",
        "^äldre",
        "NEAR(äldre unga)",
        "äldre AND OR NOT",
        "OR",
        "- -",
        "---äldre",
        "'; DROP TABLE item; --",
        "' OR '1'='1",
        "\\",
        "%_",
        "äldre " * 30,
    ],
)
def test_odd_queries_never_fail(app, client, query):
    with app.app_context():
        published_issue()
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Item.id))) == 1


def test_query_syntax_is_read_like_a_web_search(app, client):
    with app.app_context():
        published_issue("Ett", title="Äldre och fysisk aktivitet")
        published_issue("Två", title="Äldre och mat")
        published_issue("Tre", title="Unga och mat", theme_slug="barn-och-unga")

    def issues(query: str) -> list[str]:
        return sorted(h.split("#")[0] for h in hrefs(client, query))

    assert issues("äldre -mat") == ["/archive/ett"]
    assert issues("fysisk OR unga") == ["/archive/ett", "/archive/tre"]
    assert issues('"och mat"') == ["/archive/tre", "/archive/tva"]
    assert issues("-äldre") == []


def test_results_may_be_cached_briefly_and_set_no_cookie(app, client):
    response = client.get("/search?q=äldre")
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert "Set-Cookie" not in response.headers


def test_rebuild_command_indexes_published_issues_and_is_audited(app):
    with app.app_context():
        issue = make_issue("Nyhetsbrev augusti")
        make_item(issue, "aldre", "Träffpunkter för äldre")
        # Published by an earlier release, before there was an index.
        issue.status = "sent"
        issue.published_at = PUBLISHED
        db.session.commit()
        assert search.search("träffpunkten").total == 0
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "2 document(s)" in result.output
    with app.app_context():
        assert search.search("träffpunkten").total == 1
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.rebuilt")
        ).one()
        assert event.changes == {"documents": [None, 2]}


def test_the_search_form_is_in_the_header_of_public_pages(app, client):
    page = client.get("/").get_data(as_text=True)
    assert '<form class="site-search" method="get" action="/search"' in page
    assert '<label for="site-search-q" class="visually-hidden">Sök i arkivet' in page


def test_the_theme_filter_lists_the_themes(app, client):
    with app.app_context():
        name = theme("aldre").name
    page = client.get("/search").get_data(as_text=True)
    assert f'<option value="aldre">{name}</option>' in page


def _statements(app) -> list[str]:
    """The SQL statements the app's engine runs from now on."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_repeated_search_is_answered_from_its_stored_page(make_app):
    app = make_app(ARCHIVE_STAMP_SECONDS=3600.0)
    with app.app_context():
        _issue, item_id = published_issue()
        published_issue("Nyhetsbrev april 2025", title="Simhall för barn")
    handled: list[str] = []
    app.before_request(lambda: handled.append("request"))
    client = app.test_client()
    elderly = client.get("/search?q=äldres").data
    swimming = client.get("/search?q=simhall").data
    handled.clear()
    seen = _statements(app)
    again = client.get("/search?q=%C3%A4ldres&")  # the same search, spelt otherwise
    assert again.status_code == 200 and again.data == elderly
    assert client.get("/search?q=simhall").data == swimming != elderly
    assert f"#item-{item_id}" in again.get_data(as_text=True)
    assert seen == [] and handled == []  # answered ahead of the app
    # Other parameters are other searches, and a refused one is never kept.
    assert client.get("/search?q=äldres&theme=barn-och-unga").data != elderly
    assert client.get("/search?q=äldres&year=1999").status_code == 400
    assert client.get("/search?q=äldres&year=1999").status_code == 400
    # A visitor with a cookie (a language choice) gets their own language.
    client.post("/language", data={"lang": "en", "next": "/"})
    english = client.get("/search?q=äldres").get_data(as_text=True)
    assert '<html lang="en">' in english


def test_a_repeated_parameter_in_another_order_is_another_search(make_app):
    # The page reads the first q (and the first page): q=simhall&q=äldre is a
    # search for "simhall", whatever was asked before with the words swapped.
    app = make_app(ARCHIVE_STAMP_SECONDS=3600.0)
    with app.app_context():
        published_issue()
        published_issue("Nyhetsbrev april 2025", title="Simhall för barn")
    client = app.test_client()
    for _ in range(2):  # rendered, then from the stored answers
        elderly = client.get("/search?q=äldre&q=simhall").get_data(as_text=True)
        swimming = client.get("/search?q=simhall&q=äldre").get_data(as_text=True)
        assert "Träffpunkter" in elderly and "för barn" not in elderly
        assert "för barn" in swimming and "Träffpunkter" not in swimming


def test_the_language_switch_of_a_search_returns_to_that_search_only(make_app):
    app = make_app(ARCHIVE_STAMP_SECONDS=3600.0)
    with app.app_context():
        published_issue()
    app.test_client().get("/search?q=äldre&page=1&ref=annons")
    page = app.test_client().get("/search?q=äldre").get_data(as_text=True)
    target = re.search(r'name="next" value="([^"]*)"', page).group(1)
    assert target == "/search?q=%C3%A4ldre"


def test_an_english_visitor_hears_the_swedish_results_as_swedish(make_app):
    app = make_app()
    with app.app_context():
        published_issue()
    client = app.test_client()
    client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get("/search?q=äldre").get_data(as_text=True)
    assert '<html lang="en">' in page and "1 result" in page
    assert re.search(r'<h2 lang="sv"><a [^>]*>Träffpunkter för <mark>', page)
    assert '<span lang="sv">Nyhetsbrev mars 2025</span>' in page
    assert '<span lang="sv">Äldre</span>' in page


def test_words_stemmed_in_many_threads_at_once_get_their_own_stems():
    # A threaded server (gunicorn --threads, the dev server) indexes and searches
    # in several threads: one word's stem must never be another's.
    import random
    import sys
    import threading

    from snowballstemmer import stemmer

    from newsletter.services.search import stem

    letters = "abcdefghijklmnopqrstuvwxyzåäö"
    draw = random.Random(15)
    words = {
        "".join(draw.choice(letters) for _ in range(draw.randint(4, 14)))
        for _ in range(20000)
    }
    alone = stemmer("swedish")
    expected = {word: alone.stemWord(word) for word in words}
    stem.cache_clear()
    wrong: list[str] = []

    def run(share: list[str]) -> None:
        for word in share:
            try:
                if stem(word) != expected[word]:
                    wrong.append(word)
            except Exception:  # noqa: BLE001 - a broken stemmer is a wrong stem
                wrong.append(word)

    shares = [sorted(words)[n::8] for n in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=run, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        stem.cache_clear()
    assert wrong == []
