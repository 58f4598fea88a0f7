"""Bodies over their limit get a clear 413 naming the limit, however they are sent."""

from __future__ import annotations

import http.client
import io
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import TestResponse, encode_multipart

from tests.browser import live_server
from tests.conftest import EditorClient, log_in
from tests.factories import make_editor


def post_chunked(
    url: str, path: str, body: bytes, content_type: str
) -> tuple[int, str]:
    """POST a body with Transfer-Encoding: chunked (no Content-Length)."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)

    def chunks() -> Iterator[bytes]:
        """The body in pieces: with an iterable, http.client sends it chunked."""
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    try:
        connection.request(
            "POST",
            path,
            body=chunks(),
            headers={"Content-Type": content_type},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_refused_not_cut(make_app):
    app = make_app(MAX_CONTENT_LENGTH=16 * 1024)
    body = b"email=anna%40example.se&name=" + b"x" * (64 * 1024)
    with live_server(app) as url:
        status, page = post_chunked(
            url, "/subscribe", body, "application/x-www-form-urlencoded"
        )
    assert status == 413
    assert "Det du skickade är för stort: högst 16 kB." in page


def test_a_streamed_body_of_exactly_the_limit_is_read_whole():
    from newsletter.request_limits import StreamedBody

    assert StreamedBody(io.BytesIO(b"x" * 100), 100).read() == b"x" * 100
    with pytest.raises(RequestEntityTooLarge):
        StreamedBody(io.BytesIO(b"x" * 101), 100).read()


def upload(editor: EditorClient, size: int) -> TestResponse:
    """Send the import form a CSV file of ``size`` bytes."""
    row = b"anna@example.se,Anna,\n"
    content = (b"email,name,themes\n" + row * (size // len(row) + 1))[:size]
    # Encoded here, in memory: the test client spools large bodies to a temporary
    # file that it never closes.
    boundary, body = encode_multipart(
        {"csrf_token": editor.token, "file": FileStorage(io.BytesIO(content), "a.csv")}
    )
    return editor.client.post(
        "/editor/subscribers/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_the_import_form_states_the_configured_file_limit(make_app):
    app = make_app(IMPORT_MAX_BYTES=5 * 1024 * 1024)
    with app.app_context():
        make_editor()
    editor = log_in(app.test_client(), "editor@example.se")
    page = editor.get("/editor/subscribers/import").get_data(as_text=True)
    assert "Högst 5 MB." in page


def test_a_file_within_the_stated_limit_is_taken_whatever_other_requests_may_carry(
    make_app,
):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024, IMPORT_MAX_BYTES=1024 * 1024)
    with app.app_context():
        make_editor()
    editor = log_in(app.test_client(), "editor@example.se")
    assert upload(editor, 1024 * 1024).status_code == 302


@pytest.mark.parametrize("size", [100 * 1024 + 1, 300 * 1024])
def test_a_file_over_the_import_limit_is_refused_with_the_limit_named(make_app, size):
    app = make_app(IMPORT_MAX_BYTES=100 * 1024)
    with app.app_context():
        make_editor()
    editor = log_in(app.test_client(), "editor@example.se")
    response = upload(editor, size)
    assert response.status_code in (413, 422)
    assert "Filen är större än 100 kB." in response.get_data(as_text=True)
