"""The editor area is one blueprint per module, and its URLs never change."""

from __future__ import annotations

import ast
from pathlib import Path

from flask import Flask

import newsletter.editor

# Every rule with its methods as the URL map held it before the editor was split into
# one blueprint per module: the URLs are a public interface (bookmarks, emails).
RULES_BEFORE_THE_SPLIT = [
    "/ GET HEAD OPTIONS",
    "/api/v1/consent-text GET HEAD OPTIONS",
    "/api/v1/issues GET HEAD OPTIONS",
    "/api/v1/issues/<slug> GET HEAD OPTIONS",
    "/api/v1/openapi.json GET HEAD OPTIONS",
    "/api/v1/stats GET HEAD OPTIONS",
    "/api/v1/subscriptions OPTIONS POST",
    "/api/v1/themes GET HEAD OPTIONS",
    "/archive/<slug> GET HEAD OPTIONS",
    "/archive/<slug>.pdf GET HEAD OPTIONS",
    "/brand.css GET HEAD OPTIONS",
    "/confirm/<token> GET HEAD OPTIONS POST",
    "/confirm/resend OPTIONS POST",
    "/contribute/<token> GET HEAD OPTIONS POST",
    "/contribute/proposal/<token> GET HEAD OPTIONS POST",
    "/editor/ GET HEAD OPTIONS",
    "/editor/account GET HEAD OPTIONS POST",
    "/editor/api-keys GET HEAD OPTIONS POST",
    "/editor/api-keys/<int:key_id>/revoke OPTIONS POST",
    "/editor/audit GET HEAD OPTIONS",
    "/editor/audit.csv GET HEAD OPTIONS",
    "/editor/comments/<int:comment_id>/resolve OPTIONS POST",
    "/editor/contacts GET HEAD OPTIONS",
    "/editor/contacts/<int:contact_id> GET HEAD OPTIONS POST",
    "/editor/contacts/<int:contact_id>/delete OPTIONS POST",
    "/editor/contacts/merge OPTIONS POST",
    "/editor/contacts/new GET HEAD OPTIONS POST",
    "/editor/contributors GET HEAD OPTIONS POST",
    "/editor/contributors/<int:link_id> GET HEAD OPTIONS",
    "/editor/contributors/<int:link_id>/renew OPTIONS POST",
    "/editor/contributors/<int:link_id>/revoke OPTIONS POST",
    "/editor/editors GET HEAD OPTIONS POST",
    "/editor/editors/<int:editor_id> GET HEAD OPTIONS POST",
    "/editor/editors/<int:editor_id>/password OPTIONS POST",
    "/editor/inbox GET HEAD OPTIONS",
    "/editor/inbox/<int:proposal_id> GET HEAD OPTIONS",
    "/editor/inbox/<int:proposal_id>/accept OPTIONS POST",
    "/editor/inbox/<int:proposal_id>/decline OPTIONS POST",
    "/editor/inbox/<int:proposal_id>/return OPTIONS POST",
    "/editor/issues/<int:issue_id> GET HEAD OPTIONS POST",
    "/editor/issues/<int:issue_id>/approve OPTIONS POST",
    "/editor/issues/<int:issue_id>/cancel OPTIONS POST",
    "/editor/issues/<int:issue_id>/comments OPTIONS POST",
    "/editor/issues/<int:issue_id>/delete OPTIONS POST",
    "/editor/issues/<int:issue_id>/duplicate OPTIONS POST",
    "/editor/issues/<int:issue_id>/email GET HEAD OPTIONS",
    "/editor/issues/<int:issue_id>/email.html GET HEAD OPTIONS",
    "/editor/issues/<int:issue_id>/import-feed GET HEAD OPTIONS POST",
    "/editor/issues/<int:issue_id>/import-feed/add OPTIONS POST",
    "/editor/issues/<int:issue_id>/items/new GET HEAD OPTIONS POST",
    "/editor/issues/<int:issue_id>/links/adopt OPTIONS POST",
    "/editor/issues/<int:issue_id>/pause OPTIONS POST",
    "/editor/issues/<int:issue_id>/preview GET HEAD OPTIONS",
    "/editor/issues/<int:issue_id>/progress GET HEAD OPTIONS",
    "/editor/issues/<int:issue_id>/progress.json GET HEAD OPTIONS",
    "/editor/issues/<int:issue_id>/resume OPTIONS POST",
    "/editor/issues/<int:issue_id>/retry OPTIONS POST",
    "/editor/issues/<int:issue_id>/review OPTIONS POST",
    "/editor/issues/<int:issue_id>/revisions GET HEAD OPTIONS",
    "/editor/issues/<int:issue_id>/schedule OPTIONS POST",
    "/editor/issues/<int:issue_id>/sections/<int:theme_id>/contact OPTIONS POST",
    "/editor/issues/<int:issue_id>/send GET HEAD OPTIONS",
    "/editor/issues/<int:issue_id>/send OPTIONS POST",
    "/editor/issues/<int:issue_id>/test OPTIONS POST",
    "/editor/issues/<int:issue_id>/unschedule OPTIONS POST",
    "/editor/issues/new GET HEAD OPTIONS POST",
    "/editor/issues/plan OPTIONS POST",
    "/editor/items/<int:item_id> GET HEAD OPTIONS POST",
    "/editor/items/<int:item_id>/correct GET HEAD OPTIONS POST",
    "/editor/items/<int:item_id>/delete OPTIONS POST",
    "/editor/items/<int:item_id>/images/erase OPTIONS POST",
    "/editor/items/<int:item_id>/move OPTIONS POST",
    "/editor/items/<int:item_id>/revisions GET HEAD OPTIONS",
    "/editor/items/<int:item_id>/revisions/<int:number>/restore OPTIONS POST",
    "/editor/links GET HEAD OPTIONS",
    "/editor/login GET HEAD OPTIONS POST",
    "/editor/logout OPTIONS POST",
    "/editor/settings GET HEAD OPTIONS POST",
    "/editor/subscribers GET HEAD OPTIONS",
    "/editor/subscribers/<int:subscriber_id> GET HEAD OPTIONS",
    "/editor/subscribers/<int:subscriber_id>/erase OPTIONS POST",
    "/editor/subscribers/<int:subscriber_id>/unsubscribe OPTIONS POST",
    "/editor/subscribers/embed GET HEAD OPTIONS",
    "/editor/subscribers/export.csv GET HEAD OPTIONS",
    "/editor/subscribers/import GET HEAD OPTIONS POST",
    "/editor/subscribers/import/<int:draft_id> GET HEAD OPTIONS POST",
    "/editor/text-preview OPTIONS POST",
    "/editor/themes GET HEAD OPTIONS POST",
    "/editor/themes/<int:theme_id> GET HEAD OPTIONS POST",
    "/editor/themes/<int:theme_id>/active OPTIONS POST",
    "/editor/themes/<int:theme_id>/move OPTIONS POST",
    "/feed.atom GET HEAD OPTIONS",
    "/feed.json GET HEAD OPTIONS",
    "/feed.xml GET HEAD OPTIONS",
    "/healthz GET HEAD OPTIONS",
    "/language OPTIONS POST",
    "/media/<name> GET HEAD OPTIONS",
    "/preferences/<token> GET HEAD OPTIONS POST",
    "/preferences/<token>/data.json GET HEAD OPTIONS",
    "/preferences/<token>/erase OPTIONS POST",
    "/preferences/<token>/unsubscribe OPTIONS POST",
    "/search GET HEAD OPTIONS",
    "/static/<path:filename> GET HEAD OPTIONS",
    "/subscribe GET HEAD OPTIONS POST",
    "/subscribe/check-inbox GET HEAD OPTIONS",
    "/themes/<slug> GET HEAD OPTIONS",
    "/themes/<slug>/feed.json GET HEAD OPTIONS",
    "/themes/<slug>/feed.xml GET HEAD OPTIONS",
    "/unsubscribe/<token> GET HEAD OPTIONS POST",
]
EDITOR_MODULES = (
    "admin",
    "api_keys",
    "audit",
    "auth",
    "contacts",
    "contributors",
    "feeds",
    "history",
    "inbox",
    "issues",
    "links",
    "review",
    "sending",
    "settings",
    "subscribers",
    "writing",
)


def test_every_url_and_method_is_the_same_as_before_the_blueprint_split(
    app: Flask,
) -> None:
    """Splitting the editor into blueprints changed endpoint names, never a URL."""
    rules = sorted(
        rule.rule + " " + " ".join(sorted(rule.methods or ()))
        for rule in app.url_map.iter_rules()
    )
    assert rules == RULES_BEFORE_THE_SPLIT


def test_each_editor_module_serves_its_pages_from_its_own_blueprint(
    app: Flask,
) -> None:
    """editor.<module>.<view>: the endpoint names the module that holds the view."""
    editor_rules = [
        rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/editor")
    ]
    assert len(editor_rules) > 40
    for rule in editor_rules:
        parent, module, view = rule.endpoint.split(".")
        assert parent == "editor" and module in EDITOR_MODULES, rule.endpoint
        function = app.view_functions[rule.endpoint]
        assert function.__module__ == f"newsletter.editor.{module}", rule.endpoint
        assert function.__name__ == view, rule.endpoint


def test_no_editor_module_adds_routes_in_a_loop_or_imports_at_the_bottom() -> None:
    """Routes are declared with decorators; imports stand before any definition."""
    package = Path(newsletter.editor.__file__).parent
    for path in sorted(package.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "add_url_rule" not in source, path.name
        body = ast.parse(source).body
        definitions = [
            node.lineno
            for node in body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
        ]
        imports = [
            node.lineno
            for node in body
            if isinstance(node, ast.Import | ast.ImportFrom)
        ]
        if definitions and imports:
            assert max(imports) < min(definitions), path.name
