"""Link checks: every web address an issue links to, checked before anyone reads it.

Checking is network work and never happens in a web request: the worker's link-check
duty and `flask links check` pick the addresses that are due (unchecked, or checked
over an hour ago), check them outside any transaction through the guarded fetcher,
and record the outcome, one row per address (LinkCheck).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from newsletter.content import render_markdown
from newsletter.database import get_row
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, Item, LinkCheck, LinkOutcome
from newsletter.services import audit, issues
from newsletter.services.fetcher import FetchError, Reason, Refused, fetch

CHECK_INTERVAL = timedelta(hours=1)
MAX_REDIRECTS = 5
GET_BYTES = 64 * 1024  # a GET check reads no more of the page than this
THREADS = 8
# A worker round checks at most this many addresses, so sending is never held up
# for long; the rest are due in the next round.
ROUND_LIMIT = 40
UNCHECKED_STATES = (IssueStatus.DRAFT, IssueStatus.SCHEDULED)


@dataclass(frozen=True)
class Result:
    """The outcome of checking one address."""

    url: str
    outcome: LinkOutcome
    http_status: int | None
    final_url: str
    reason: Reason | None  # why it is broken


@dataclass(frozen=True)
class LinkState:
    """One link of an issue and what its latest check found (None: not yet)."""

    url: str
    check: LinkCheck | None


class _Hrefs(HTMLParser):
    """The href of every link in sanitised HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note a link's address."""
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.found.append(href)


def _is_web(url: str) -> bool:
    """Whether an address is an http(s) one (mailto and tel are not checked)."""
    return url.split(":", 1)[0].lower() in ("http", "https")


def item_urls(item: Item) -> list[str]:
    """Return the web addresses of an item: its links, then links in its text."""
    parser = _Hrefs()
    parser.feed(str(render_markdown(item.body)))
    found = [link.url for link in item.links] + parser.found
    return [url for url in dict.fromkeys(found) if _is_web(url)]


def issue_urls(issue: Issue) -> list[str]:
    """Return every web address an issue links to, once each, in reading order."""
    items = sorted(issue.items, key=lambda item: (item.theme_id, item.position))
    return list(dict.fromkeys(url for item in items for url in item_urls(item)))


def _issues_in(states: Iterable[IssueStatus]) -> Sequence[Issue]:
    """Return the issues in these states with their items and links loaded."""
    return db.session.scalars(
        select(Issue)
        .where(Issue.status.in_(list(states)))
        .options(selectinload(Issue.items).selectinload(Item.links))
    ).all()


def urls_of_issues(states: Iterable[IssueStatus]) -> list[str]:
    """Return the web addresses of every issue in these states."""
    found = (url for issue in _issues_in(states) for url in issue_urls(issue))
    return list(dict.fromkeys(found))


def due(urls: Sequence[str], now: datetime) -> list[str]:
    """Return the addresses never checked or last checked over an hour ago."""
    recent = set(
        db.session.scalars(
            select(LinkCheck.url).where(
                LinkCheck.url.in_(urls), LinkCheck.checked_at > now - CHECK_INTERVAL
            )
        )
    )
    return [url for url in urls if url not in recent]


def pending(now: datetime, limit: int = ROUND_LIMIT) -> list[str]:
    """Return the due addresses of draft and scheduled issues, at most limit."""
    return due(urls_of_issues(UNCHECKED_STATES), now)[:limit]


def _from_answer(url: str, status: int, final_url: str) -> Result:
    """Classify a server's final answer."""
    if status >= 400:
        reason = Reason("status", {"num": status})
        return Result(url, LinkOutcome.BROKEN, status, final_url, reason)
    if final_url != url:
        return Result(url, LinkOutcome.REDIRECTED, status, final_url, None)
    return Result(url, LinkOutcome.WORKING, status, final_url, None)


def check_url(url: str, timeout: float, allow_private: bool) -> Result:
    """Check one address: HEAD, then GET when HEAD is refused (405, 501) or fails."""
    limits = {
        "allow_private": allow_private,
        "timeout": timeout,
        "max_bytes": GET_BYTES,
        "max_redirects": MAX_REDIRECTS,
    }
    try:
        try:
            answer = fetch(url, method="HEAD", **limits)  # type: ignore[arg-type]
            if answer.status in (405, 501):
                answer = fetch(url, method="GET", **limits)  # type: ignore[arg-type]
        except Refused:
            raise
        except FetchError:
            answer = fetch(url, method="GET", **limits)  # type: ignore[arg-type]
    except FetchError as exc:
        return Result(url, LinkOutcome.BROKEN, None, "", exc.reason)
    return _from_answer(url, answer.status, answer.url)


def _host(url: str) -> str:
    """The host an address names, for the per-host limit ("" when it names none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed address; the check itself reports it
        return ""


def check_urls(
    urls: Sequence[str], timeout: float, per_host: int, allow_private: bool
) -> list[Result]:
    """Check addresses concurrently, at most per_host of one host at a time."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    gates = {_host(url): threading.Semaphore(per_host) for url in urls}

    def one(url: str) -> Result:
        with app.app_context(), gates[_host(url)]:
            return check_url(url, timeout, allow_private)

    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(THREADS, len(urls))) as pool:
        return list(pool.map(one, urls))


def record(results: Sequence[Result], now: datetime) -> list[str]:
    """Store each outcome; return the addresses that broke with this check."""
    rows = {
        row.url: row
        for row in db.session.scalars(
            select(LinkCheck).where(LinkCheck.url.in_([r.url for r in results]))
        )
    }
    newly_broken = []
    for result in results:
        row = rows.get(result.url) or LinkCheck(url=result.url)
        if result.outcome is LinkOutcome.BROKEN and row.broken_since is None:
            row.broken_since = now
            newly_broken.append(result.url)
        elif result.outcome is not LinkOutcome.BROKEN:
            row.broken_since = None
        row.checked_at = now
        row.outcome = result.outcome
        row.http_status = result.http_status
        row.final_url = result.final_url[:2000]
        row.reason = result.reason.stored() if result.reason else ""
        db.session.add(row)
    db.session.flush()
    return newly_broken


def reason_text(stored: str) -> str:
    """Word a stored reason in the current language; a row checked before reasons
    were stored as codes keeps the words it was checked with."""
    reason = Reason.from_stored(stored) if stored else None
    return str(reason) if reason else stored


def states_of(urls: Sequence[str]) -> list[LinkState]:
    """Return each address with its latest check, in the given order."""
    checks = {
        row.url: row
        for row in db.session.scalars(select(LinkCheck).where(LinkCheck.url.in_(urls)))
    }
    return [LinkState(url, checks.get(url)) for url in urls]


def issue_link_states(issue_id: int) -> list[LinkState]:
    """Return the state of every web address of an issue."""
    return states_of(issue_urls(get_row(Issue, issue_id)))


def broken_links(issue_id: int) -> list[LinkState]:
    """Return the issue's links whose latest check found them broken."""
    return [
        state
        for state in issue_link_states(issue_id)
        if state.check is not None and state.check.outcome is LinkOutcome.BROKEN
    ]


def _replace_address(text: str, old: str, new: str) -> str:
    """Replace an address where it stands whole, not where it starts a longer one."""
    whole = re.compile(re.escape(old) + r"(?=[\s)\]>\"'.,;!?]*(?:\s|$|[)\]>]))")
    return whole.sub(lambda _match: new, text)


def adopt_final_address(issue_id: int, url: str, editor: str) -> int:
    """Replace a redirected address by its final one in every item of a draft,
    as a save of each item; return how many items changed."""
    issue = issues.editable_issue(issue_id)
    check = db.session.get(LinkCheck, url)
    if check is None or check.outcome is not LinkOutcome.REDIRECTED:
        return 0
    changed = 0
    for item in list(issue.items):
        if url not in item_urls(item):
            continue
        data = issues._item_data(item)  # noqa: SLF001 - the item's own save
        data.links = [
            replace(link, url=check.final_url if link.url == url else link.url)
            for link in data.links
        ]
        data.body = _replace_address(data.body, url, check.final_url)
        issues.update_item(item.id, item.version, data, editor)
        audit.record(
            "item.link_adopted",
            "item",
            item.id,
            item.title,
            {"url": [url, check.final_url]},
        )
        changed += 1
    return changed
