"""JSON answers for every error under /api: callers there are programs, not people."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, jsonify, request

PREFIX = "/api/"


def is_api_request() -> bool:
    """Whether this request is for the API (a route of it or not)."""
    return request.path.startswith(PREFIX) or request.path == PREFIX.rstrip("/")


def json_error(
    status: int,
    message: str,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Answer {"error": message, "fields": {...}} with status; never cached."""
    body: dict[str, object] = {"error": str(message)}
    if fields:
        body["fields"] = {name: str(text) for name, text in fields.items()}
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
