"""Swedish by default, English on request, and no untranslated Swedish text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import PASSWORD, csrf_token_from

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "newsletter" / "translations" / "sv" / "LC_MESSAGES"


def test_pages_are_swedish_by_default(client):
    page = client.get("/editor/login").get_data(as_text=True)
    assert '<html lang="sv">' in page
    assert "<h1>Logga in</h1>" in page


def test_the_language_switch_turns_pages_english_and_back(client):
    token = csrf_token_from(client)
    response = client.post(
        "/language",
        data={"csrf_token": token, "lang": "en", "next": "/editor/login"},
    )
    assert response.headers["Location"] == "/editor/login"
    page = client.get("/editor/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Log in</h1>" in page
    client.post("/language", data={"csrf_token": token, "lang": "sv"})
    assert "<h1>Logga in</h1>" in client.get("/editor/login").get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example/",  # browsers drop the tab: //evil.example/
        "/\\evil.example",  # browsers read the backslash as a slash
        "/\n/evil.example",
        "https://evil.example/",
        "evil.example",
    ],
)
def test_the_language_switch_never_redirects_off_site(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.headers["Location"] == "/"


def test_the_language_switch_returns_to_the_page(client):
    response = client.post("/language", data={"lang": "en", "next": "/themes/aldre"})
    assert response.headers["Location"] == "/themes/aldre"


def test_login_never_continues_off_site(app, client):
    from tests.factories import make_editor

    with app.app_context():
        make_editor()
    token = csrf_token_from(client)
    response = client.post(
        "/editor/login?next=/%09/evil.example/",
        data={"csrf_token": token, "email": "editor@example.se", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/editor/"


def test_every_message_in_the_code_has_a_swedish_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable, "-m", "babel.messages.frontend", "extract",
            "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
            "--no-location", "-o", str(pot), ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as f:
        wanted = {
            m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id
        }
    with (CATALOG / "messages.po").open("rb") as f:
        translated = {
            (m.id if isinstance(m.id, str) else m.id[0])
            for m in read_po(f)
            if m.id and m.string and not m.fuzzy
        }
    assert sorted(wanted - translated) == []


def _entries(catalog) -> dict:
    """Map each message id to its translation, plurals as tuples."""
    return {
        m.id if isinstance(m.id, str) else tuple(m.id): (
            m.string if isinstance(m.string, str) else tuple(m.string)
        )
        for m in catalog
        if m.id and not m.fuzzy
    }


def test_the_compiled_catalog_matches_the_source_catalog():
    with (CATALOG / "messages.po").open("rb") as f:
        source = _entries(read_po(f))
    with (CATALOG / "messages.mo").open("rb") as f:
        compiled = _entries(read_mo(f))
    assert compiled == source, "run `make translations` to compile the catalog"


def test_times_read_the_same_way_in_both_languages(app):
    from datetime import UTC, datetime

    from flask_babel import force_locale

    from newsletter.web import _datetime

    moment = datetime(2026, 11, 25, 15, 4, 30, tzinfo=UTC)  # 16:04 in Stockholm
    with app.test_request_context():
        assert _datetime(moment) == "25 nov. 2026 16:04"
        assert _datetime(moment, "short") == "2026-11-25 16:04"
        with force_locale("en"):
            assert _datetime(moment) == "25 Nov 2026 16:04"
