"""Request body limits: MAX_CONTENT_LENGTH for every request, a configured file limit
for the views that take a file, enforced on streamed (chunked) bodies too."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TypeVar, cast

from flask import Request, current_app, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from newsletter.config import Settings, settings

# Room for the other fields of a form and the multipart framing around its file.
FORM_ALLOWANCE = 64 * 1024

View = TypeVar("View", bound=Callable[..., object])
FileLimit = Callable[[Settings], int]
FileMessage = Callable[[int], str]


def takes_file(
    limit: FileLimit, message: FileMessage | None = None
) -> Callable[[View], View]:
    """Let a view take a file of up to limit(settings) bytes; message(limit) says
    what to do with a larger one (by default: split it, as for imports)."""

    def mark(view: View) -> View:
        """Record the limit and its message on the view."""
        view.file_limit = limit  # type: ignore[attr-defined]  # a mark on a function
        view.file_message = message  # type: ignore[attr-defined]
        return view

    return mark


def file_limit(endpoint: str | None) -> int | None:
    """The largest file a view takes, or None if it takes none."""
    view = current_app.view_functions.get(endpoint or "")
    limit: FileLimit | None = getattr(view, "file_limit", None)
    return limit(settings()) if limit else None


def size_label(size: int) -> str:
    """A number of bytes as people read it: "20 MB", "64 kB"."""
    if size >= 1024 * 1024:
        return f"{format_decimal(round(size / (1024 * 1024), 1))} MB"
    return f"{format_decimal(round(size / 1024, 1))} kB"


def file_too_large(limit: int) -> str:
    """The message for a file over its limit, naming the limit."""
    return _(
        "The file is larger than %(size)s. Split it into smaller files and import "
        "them one at a time.",
        size=size_label(limit),
    )


def image_too_large(limit: int) -> str:
    """The message for an image over its limit, naming the limit."""
    return _(
        "The image is larger than %(size)s. Save it smaller (for example 2000 "
        "pixels wide) and choose it again.",
        size=size_label(limit),
    )


def too_large() -> str:
    """The message for a request body over its limit, naming the limit."""
    limit = file_limit(request.endpoint)
    if limit is not None:
        view = current_app.view_functions.get(request.endpoint or "")
        message: FileMessage = getattr(view, "file_message", None) or file_too_large
        return message(limit)
    return _(
        "What you sent is too large: at most %(size)s.",
        size=size_label(settings().max_content_length),
    )


class StreamedBody(LimitedStream):
    """A body without Content-Length (chunked), read up to a maximum: more than the
    maximum is refused (413) instead of silently cut off there."""

    def __init__(self, stream: IO[bytes], maximum: int) -> None:
        """Wrap the server's input stream, which may hold at most maximum bytes."""
        super().__init__(stream, maximum, is_max=True)

    def readall(self) -> bytes:
        """Read the whole body; refuse it if anything is left past the maximum."""
        data = super().readall()
        # werkzeug stops at the maximum as if the body ended there.
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class LimitedRequest(Request):
    """Flask's request with a view's file limit, and limits that hold for streamed
    bodies as well as for bodies with a Content-Length."""

    @property
    def max_content_length(self) -> int | None:
        """The view's file limit plus room for the form, else MAX_CONTENT_LENGTH."""
        if self._max_content_length is None and current_app:
            limit = file_limit(self.endpoint)
            if limit is not None:
                return limit + FORM_ALLOWANCE
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        """Set this request's own limit, over any other."""
        self._max_content_length = value

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, never read past its Content-Length or past the limit."""
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True'.")
        limit = self.max_content_length
        streamed = self.content_length is None
        if streamed and limit is not None and "wsgi.input_terminated" in self.environ:
            # werkzeug hands out its LimitedStream as IO[bytes] the same way.
            return cast(IO[bytes], StreamedBody(self.environ["wsgi.input"], limit))
        return get_input_stream(self.environ, max_content_length=limit)
