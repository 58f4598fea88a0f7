"""Whatever people type into the public sign-up or an import file, no 5xx."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_token_from

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400
)  # any Unicode but lone surrogates, which no browser can send


@SETTINGS
@given(
    email=text,
    name=text,
    themes=st.lists(st.one_of(text, st.integers().map(str)), max_size=5),
    website=st.one_of(st.just(""), text),
)
def test_sign_up_input_never_gives_a_server_error(app, email, name, themes, website):
    client = app.test_client()
    token = csrf_token_from(client, "/subscribe")
    response = client.post(
        "/subscribe",
        data={
            "csrf_token": token,
            "email": email,
            "name": name,
            "themes": themes,
            "website": website,
        },
    )
    assert response.status_code < 500


@SETTINGS
@given(
    query=st.dictionaries(
        st.sampled_from(["email", "name", "themes"]), text, max_size=3
    )
)
def test_prefilled_sign_up_links_never_give_a_server_error(app, query):
    response = app.test_client().get("/subscribe", query_string=query)
    assert response.status_code < 500


rows = st.lists(st.tuples(text, text, text).map(lambda r: ";".join(r)), max_size=20)


@SETTINGS
@given(header=st.sampled_from(["email,name,themes", "email;name;themes", "", "x"]),
       body=rows)  # fmt: skip
def test_import_files_never_give_a_server_error(app, editor, header, body):
    content = "\n".join([header, *body]).encode("utf-8")
    response = editor.post(
        "/editor/subscribers/import",
        data={"file": (io.BytesIO(content), "fuzz.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code < 500
    if response.status_code == 302:
        assert editor.get(response.headers["Location"]).status_code < 500
