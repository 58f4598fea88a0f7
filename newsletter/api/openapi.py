"""The API's OpenAPI 3.1 description, written by hand and served as JSON.

tests/test_api_openapi.py checks it against the specification, against the app's
routes, and real answers against its schemas: change them together.
"""

from __future__ import annotations

from typing import Any

from newsletter import consent_text


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _error(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    answer = _json(_ref("Error"), description)
    if headers:
        answer["headers"] = headers
    return answer


RETRY_AFTER = {
    "description": "Seconds until the limit lifts.",
    "schema": {"type": "integer", "minimum": 1},
}
CACHED = {
    "ETag": {"schema": {"type": "string"}},
    "Last-Modified": {"schema": {"type": "string"}},
    "Cache-Control": {"schema": {"type": "string"}},
}
NOT_MODIFIED = {"description": "Unchanged since the ETag or date the client sent."}
NOT_FOUND = _error("No such page or issue.")

_STRING = {"type": "string"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_URL = {"type": "string", "format": "uri"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": _STRING,
            "fields": {"type": "object", "additionalProperties": _STRING},
        },
        "additionalProperties": False,
    },
    "SignUp": {
        "type": "object",
        "required": ["email"],
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "name": {"type": "string", "maxLength": 120},
            "themes": {
                "type": "array",
                "items": _STRING,
                "minItems": 1,
                "description": "Theme slugs (GET /api/v1/themes, active ones). "
                "Left out: every active theme.",
            },
            "language": {"type": "string", "enum": ["sv", "en"], "default": "sv"},
            "consent_text_version": {
                "type": "string",
                "description": "The version of the consent text the visitor was "
                "shown (GET /api/v1/consent-text); an outdated one is refused.",
                "examples": [consent_text.VERSION],
            },
        },
        "additionalProperties": False,
    },
    "Accepted": {
        "type": "object",
        "required": ["status", "message"],
        "properties": {"status": {"const": "accepted"}, "message": _STRING},
        "additionalProperties": False,
    },
    "ConsentText": {
        "type": "object",
        "required": ["version", "language", "text"],
        "properties": {
            "version": _STRING,
            "language": {"type": "string", "enum": ["sv", "en"]},
            "text": _STRING,
        },
        "additionalProperties": False,
    },
    "Theme": {
        "type": "object",
        "required": ["slug", "name", "description", "active", "url", "feed"],
        "properties": {
            "slug": _STRING,
            "name": _STRING,
            "description": _STRING,
            "active": {"type": "boolean"},
            "url": _URL,
            "feed": _URL,
        },
        "additionalProperties": False,
    },
    "ThemeList": {
        "type": "object",
        "required": ["themes"],
        "properties": {"themes": {"type": "array", "items": _ref("Theme")}},
        "additionalProperties": False,
    },
    "IssueSummary": {
        "type": "object",
        "required": ["slug", "title", "preheader", "published_at", "permalink", "url"],
        "properties": {
            "slug": _STRING,
            "title": _STRING,
            "preheader": _STRING,
            "published_at": _NULLABLE_TIME,
            "permalink": _URL,
            "url": _URL,
        },
    },
    "IssuePage": {
        "type": "object",
        "required": ["issues", "page", "pages", "links"],
        "properties": {
            "issues": {"type": "array", "items": _ref("IssueSummary")},
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "links": {
                "type": "object",
                "required": ["self", "first", "last"],
                "properties": {
                    name: _URL for name in ("self", "first", "last", "prev", "next")
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
    "Contact": {
        "type": ["object", "null"],
        "required": ["name", "phone", "email"],
        "properties": {"name": _STRING, "phone": _STRING, "email": _STRING},
        "additionalProperties": False,
    },
    "Item": {
        "type": "object",
        "required": ["id", "title", "html", "contact", "links", "image", "permalink"],
        "properties": {
            "id": {"type": "integer"},
            "title": _STRING,
            "html": {"type": "string", "description": "Sanitised HTML."},
            "contact": _ref("Contact"),
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["label", "url"],
                    "properties": {"label": _STRING, "url": _STRING},
                    "additionalProperties": False,
                },
            },
            "image": {"oneOf": [{"type": "null"}, _ref("Image")]},
            "permalink": _URL,
        },
        "additionalProperties": False,
    },
    "Image": {
        "type": "object",
        "description": "The item's image; alt is empty for a decorative image.",
        "required": ["url", "srcset", "width", "height", "alt", "decorative"],
        "properties": {
            "url": _URL,
            "srcset": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["url", "width"],
                    "properties": {"url": _URL, "width": {"type": "integer"}},
                    "additionalProperties": False,
                },
            },
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "alt": _STRING,
            "decorative": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "Correction": {
        "type": "object",
        "required": ["note", "at", "item_id"],
        "properties": {
            "note": _STRING,
            "at": _NULLABLE_TIME,
            "item_id": {"type": ["integer", "null"]},
        },
        "additionalProperties": False,
    },
    "Issue": {
        "allOf": [_ref("IssueSummary")],
        "type": "object",
        "required": ["intro_html", "themes", "corrections"],
        "properties": {
            "intro_html": _STRING,
            "themes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["slug", "name", "contact", "items"],
                    "properties": {
                        "slug": _STRING,
                        "name": _STRING,
                        "contact": _ref("Contact"),
                        "items": {"type": "array", "items": _ref("Item")},
                    },
                    "additionalProperties": False,
                },
            },
            "corrections": {"type": "array", "items": _ref("Correction")},
        },
    },
    "Stats": {
        "type": "object",
        "required": ["confirmed_subscribers", "themes", "generated_at"],
        "properties": {
            "confirmed_subscribers": {"type": "integer", "minimum": 0},
            "themes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["slug", "name", "confirmed_subscribers"],
                    "properties": {
                        "slug": _STRING,
                        "name": _STRING,
                        "confirmed_subscribers": {"type": "integer", "minimum": 0},
                    },
                    "additionalProperties": False,
                },
            },
            "generated_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
}


def _cached_get(summary: str, schema: str, **extra: Any) -> dict[str, Any]:
    ok = _json(_ref(schema), "The data.")
    ok["headers"] = CACHED
    return {
        "get": {
            "summary": summary,
            "security": [],
            "responses": {"200": ok, "304": NOT_MODIFIED, "404": NOT_FOUND},
            **extra,
        }
    }


PATHS: dict[str, Any] = {
    "/api/v1/subscriptions": {
        "post": {
            "summary": "Start a subscription (double opt-in)",
            "description": "The same answer for every address, subscribed or not. "
            "Browsers may call it only from the origins in "
            "NEWSLETTER_API_CORS_ORIGINS. The calling page must show the consent "
            "text (GET /api/v1/consent-text).",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("SignUp")}},
            },
            "responses": {
                "202": _json(_ref("Accepted"), "Accepted; an email may follow."),
                "400": _error("The body is not a JSON object."),
                "403": _error("A browser page of an origin that may not call."),
                "413": _error("The body is too large."),
                "415": _error("The body is not application/json."),
                "422": _error("Some fields are wrong; `fields` names them."),
                "429": _error("Too many sign-ups.", **{"Retry-After": RETRY_AFTER}),
            },
        }
    },
    "/api/v1/consent-text": {
        "get": {
            "summary": "The consent text a sign-up form must show",
            "security": [],
            "parameters": [
                {
                    "name": "language",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["sv", "en"]},
                }
            ],
            "responses": {
                "200": _json(_ref("ConsentText"), "The current consent text."),
                "404": NOT_FOUND,
            },
        }
    },
    "/api/v1/issues": _cached_get(
        "Published issues, newest first",
        "IssuePage",
        parameters=[
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}
        ],
    ),
    "/api/v1/issues/{slug}": _cached_get(
        "One published issue",
        "Issue",
        parameters=[
            {"name": "slug", "in": "path", "required": True, "schema": _STRING}
        ],
    ),
    "/api/v1/themes": _cached_get("The themes", "ThemeList"),
    "/api/v1/stats": {
        "get": {
            "summary": "Subscriber figures (no personal data)",
            "security": [{"apiKey": []}],
            "responses": {
                "200": _json(_ref("Stats"), "The figures."),
                "401": _error(
                    "No valid key.",
                    **{"WWW-Authenticate": {"schema": {"type": "string"}}},
                ),
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This description",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}

DESCRIPTION: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Newsletter API",
        "version": "1",
        "description": "Sign up from another site, read the public archive, and "
        "(with a key) subscriber figures. Errors are "
        '{"error": "...", "fields": {...}}.',
    },
    "servers": [{"url": "/"}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
    },
}
