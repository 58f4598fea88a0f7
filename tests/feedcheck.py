"""Feed validation: the checks a feed validator makes, without network access.

Atom documents are validated against RFC 4287's own RELAX NG grammar (appendix B,
``tests/schemas/atom.rnc``, converted with rnc2rng and checked by libxml2 through lxml)
plus its two Schematron rules and the RFC's prose requirements that a grammar cannot
express (unique ids, RFC 3339 dates, one alternate link per type and language).

RSS 2.0 has no normative grammar, so its rules are written out here from the RSS 2.0
specification and the RSS Advisory Board's Best Practices Profile: required and
unique channel and item elements, elements outside the RSS vocabulary, RFC 822 dates
with a four-digit year and a matching weekday, absolute links, permanent unique guids,
``atom:link rel="self"`` matching the address the feed was fetched from, description
before ``content:encoded``, and no HTML in titles.

Both check the embedded HTML the way the W3C validator does: relative URL references
and markup that readers strip (scripts, frames, event handlers, style attributes) are
reported. Every problem is a string; an empty list means the feed is valid.
"""

from __future__ import annotations

import functools
import re
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import rnc2rng
from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Namespaces feed readers understand in an RSS 2.0 channel, with their customary
# prefixes (the profile asks for these prefixes).
RSS_NAMESPACES = {
    ATOM: "atom",
    CONTENT: "content",
    "http://purl.org/dc/elements/1.1/": "dc",
}
CHANNEL_ELEMENTS = {
    "title",
    "link",
    "description",
    "language",
    "copyright",
    "managingEditor",
    "webMaster",
    "pubDate",
    "lastBuildDate",
    "category",
    "generator",
    "docs",
    "cloud",
    "ttl",
    "image",
    "rating",
    "textInput",
    "skipHours",
    "skipDays",
    "item",
}
ITEM_ELEMENTS = {
    "title",
    "link",
    "description",
    "author",
    "category",
    "comments",
    "enclosure",
    "guid",
    "pubDate",
    "source",
}
# Elements that may appear at most once in a channel or an item.
CHANNEL_SINGLE = CHANNEL_ELEMENTS - {"category", "item"}
ITEM_SINGLE = ITEM_ELEMENTS - {"category"}
RFC822 = re.compile(
    r"^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?"
    r"(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
    r"\d{2}:\d{2}(?::\d{2})? (?:[+-]\d{4}|GMT|UT)$"
)
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$"
)
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
# What feed readers strip or refuse in embedded HTML.
UNSAFE_TAGS = {
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "style",
    "link",
    "meta",
    "base",
    "form",
}
URL_ATTRIBUTES = {"href", "src", "cite", "action", "longdesc", "poster", "background"}
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>|&lt;/?[a-zA-Z]")


@functools.cache
def atom_schema() -> etree.RelaxNG:
    source = Path(__file__).with_name("schemas") / "atom.rnc"
    rng = rnc2rng.dumps(rnc2rng.load(str(source)))
    # rnc2rng declares the grammar's empty "local" namespace as xmlns:local="",
    # which XML 1.0 namespaces forbid; the prefix is never used in the output.
    rng = re.sub(r'\s+xmlns:local=""', "", rng)
    return etree.RelaxNG(etree.fromstring(rng.encode()))


def parse(document: bytes) -> tuple[etree._Element | None, list[str]]:
    if not document.startswith(b"<?xml") or b'encoding="utf-8"' not in document[:60]:
        return None, ['the XML declaration does not say encoding="utf-8"']
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return etree.fromstring(document, parser), []
    except etree.XMLSyntaxError as error:
        return None, [f"not well-formed XML: {error}"]


def is_absolute(url: str | None) -> bool:
    parts = urlsplit((url or "").strip())
    if parts.scheme in {"http", "https"}:
        return bool(parts.netloc)
    return parts.scheme in {"mailto", "tel"}


class _HTMLCheck(HTMLParser):
    def __init__(self, where: str) -> None:
        super().__init__(convert_charrefs=True)
        self.where = where
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in UNSAFE_TAGS:
            self.problems.append(f"{self.where} contains a <{tag}> element")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"{self.where}: <{tag} {name}> is stripped")
            elif name in URL_ATTRIBUTES and not is_absolute(value):
                self.problems.append(
                    f"{self.where} contains a relative URL reference: {value!r}"
                )

    handle_startendtag = handle_starttag


def html_problems(markup: str | None, where: str) -> list[str]:
    check = _HTMLCheck(where)
    check.feed(markup or "")
    check.close()
    return check.problems


def _text(element: etree._Element | None) -> str:
    return "" if element is None else (element.text or "").strip()


def rfc822_problems(value: str, where: str) -> list[str]:
    match = RFC822.match(value)
    if not match:
        return [f"{where} is not an RFC 822 date with a four-digit year: {value!r}"]
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return [f"{where} is not a real date: {value!r}"]
    if match.group(1) and parsed.strftime("%a") != match.group(1):
        return [f"{where} has the wrong day of the week: {value!r}"]
    return []


def rss_problems(document: bytes, self_url: str) -> list[str]:
    """Every error or warning for an RSS 2.0 feed fetched from ``self_url``."""
    root, problems = parse(document)
    if root is None:
        return problems
    if root.tag != "rss" or root.get("version") != "2.0":
        return [*problems, 'the root element is not <rss version="2.0">']
    for uri, prefix in root.nsmap.items():
        if uri is not None and prefix not in RSS_NAMESPACES:
            problems.append(f"unknown namespace declared: {prefix}={uri}")
        elif uri is not None and RSS_NAMESPACES[prefix] != uri:
            problems.append(f"namespace {prefix} should use the prefix {uri!r}")
    channels = root.findall("channel")
    if len(channels) != 1 or len(root) != 1:
        return [*problems, "<rss> must hold exactly one <channel> and nothing else"]
    channel = channels[0]
    problems += _children_problems(channel, "channel", CHANNEL_ELEMENTS, CHANNEL_SINGLE)
    for required in ("title", "link", "description"):
        if channel.find(required) is None:
            problems.append(f"channel is missing <{required}>")
    if channel.find("link") is not None and not is_absolute(
        _text(channel.find("link"))
    ):
        problems.append("channel <link> is not an absolute URL")
    language = channel.find("language")
    if language is None:
        problems.append("channel has no <language>")
    elif not LANGUAGE.match(_text(language)):
        problems.append(f"channel <language> is not a language code: {language.text!r}")
    for name in ("pubDate", "lastBuildDate"):
        if channel.find(name) is not None:
            problems += rfc822_problems(_text(channel.find(name)), f"channel <{name}>")
    ttl = channel.find("ttl")
    if ttl is not None and not _text(ttl).isdigit():
        problems.append("channel <ttl> is not a whole number of minutes")
    selves = [
        link for link in channel.findall(f"{{{ATOM}}}link") if link.get("rel") == "self"
    ]
    if len(selves) != 1:
        problems.append('channel needs exactly one <atom:link rel="self">')
    else:
        if selves[0].get("href") != self_url:
            problems.append(
                f"self reference {selves[0].get('href')!r} is not the feed's "
                f"address {self_url!r}"
            )
        if selves[0].get("type") != "application/rss+xml":
            problems.append(
                '<atom:link rel="self"> should say type application/rss+xml'
            )
    guids: set[str] = set()
    for number, item in enumerate(channel.findall("item"), start=1):
        problems += _item_problems(item, f"item {number}", guids)
    return problems


def _children_problems(parent, where, allowed, single) -> list[str]:
    problems = []
    seen: set[str] = set()
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.namespace is None:
            if qname.localname not in allowed:
                problems.append(f"{where} has an undefined element <{qname.localname}>")
            elif qname.localname in single and qname.localname in seen:
                problems.append(f"{where} repeats <{qname.localname}>")
            seen.add(qname.localname)
        elif qname.namespace not in RSS_NAMESPACES:
            problems.append(f"{where} uses an unknown namespace {qname.namespace}")
        elif qname.namespace == CONTENT and qname.localname != "encoded":
            problems.append(f"{where} has an undefined content:{qname.localname}")
    return problems


def _item_problems(item, where: str, guids: set[str]) -> list[str]:
    problems = _children_problems(item, where, ITEM_ELEMENTS, ITEM_SINGLE)
    title, description = item.find("title"), item.find("description")
    if title is None and description is None:
        problems.append(f"{where} has neither <title> nor <description>")
    if title is not None:
        if not _text(title):
            problems.append(f"{where} has an empty <title>")
        if HTML_TAG.search(title.text or ""):
            problems.append(f"{where} <title> contains HTML")
    link = item.find("link")
    if link is not None and not is_absolute(_text(link)):
        problems.append(f"{where} <link> is not an absolute URL")
    guid = item.find("guid")
    if guid is None:
        problems.append(f"{where} has no <guid>")
    else:
        value = _text(guid)
        if guid.get("isPermaLink", "true") == "true" and not is_absolute(value):
            problems.append(f"{where} <guid> is a permalink but not a full URL")
        if value in guids:
            problems.append(f"{where} repeats the guid {value!r}")
        guids.add(value)
    if item.find("pubDate") is None:
        problems.append(f"{where} has no <pubDate>")
    else:
        problems += rfc822_problems(_text(item.find("pubDate")), f"{where} <pubDate>")
    encoded = item.findall(f"{{{CONTENT}}}encoded")
    if len(encoded) > 1:
        problems.append(f"{where} repeats <content:encoded>")
    if encoded:
        if not _text(encoded[0]):
            problems.append(f"{where} has an empty <content:encoded>")
        if description is None:
            problems.append(f"{where} has <content:encoded> but no <description>")
        elif list(item).index(description) > list(item).index(encoded[0]):
            problems.append(f"{where} puts <description> after <content:encoded>")
        problems += html_problems(encoded[0].text, f"{where} <content:encoded>")
    if description is not None:
        problems += html_problems(description.text, f"{where} <description>")
    return problems


def atom_problems(document: bytes, self_url: str) -> list[str]:
    """Every error or warning for an Atom 1.0 feed fetched from ``self_url``."""
    root, problems = parse(document)
    if root is None:
        return problems
    schema = atom_schema()
    if not schema.validate(root):
        problems += [
            f"line {error.line}: {error.message}" for error in schema.error_log
        ]
    ns = {"atom": ATOM}
    # The grammar's Schematron rules.
    for entry in root.iterfind("atom:entry", ns):
        where = f"entry {_text(entry.find('atom:id', ns)) or '?'}"
        if not entry.xpath(
            "atom:link[@rel='alternate'] or atom:link[not(@rel)] or atom:content",
            namespaces=ns,
        ):
            problems.append(f"{where} has neither an alternate link nor content")
        if not entry.xpath(
            "atom:author or ../atom:author or atom:source/atom:author", namespaces=ns
        ):
            problems.append(f"{where} has no author and its feed has none")
    # RFC 4287's prose: dates are RFC 3339, ids are absolute and unique, at most one
    # alternate link per type and language; plus the self link readers rely on.
    for date in root.xpath("//atom:updated | //atom:published", namespaces=ns):
        if not RFC3339.match(_text(date)):
            problems.append(
                f"{etree.QName(date).localname} is not RFC 3339: {date.text}"
            )
    updated = [_text(e) for e in root.iterfind("atom:entry/atom:updated", ns)]
    problems += [
        f"two entries have the same atom:updated {value}"
        for value in set(updated)
        if updated.count(value) > 1
    ]
    ids = [_text(element) for element in root.iterfind(".//atom:id", ns)]
    problems += [
        f"id is not an absolute IRI: {value!r}"
        for value in ids
        if not is_absolute(value)
    ]
    problems += [
        f"id {value!r} is used twice" for value in set(ids) if ids.count(value) > 1
    ]
    for holder in [root, *root.iterfind("atom:entry", ns)]:
        alternates = [
            (link.get("type"), link.get("hreflang"))
            for link in holder.iterfind("atom:link", ns)
            if link.get("rel", "alternate") == "alternate"
        ]
        if len(alternates) != len(set(alternates)):
            problems.append("two alternate links share a type and language")
    for link in root.iterfind(".//atom:link", ns):
        if not is_absolute(link.get("href")):
            problems.append(f"link href is not absolute: {link.get('href')!r}")
    selves = root.xpath("atom:link[@rel='self']", namespaces=ns)
    if len(selves) != 1 or selves[0].get("href") != self_url:
        problems.append(f'the feed needs one <link rel="self" href="{self_url}">')
    if root.get(f"{{{XML_NS}}}lang") is None:
        problems.append("the feed does not say its language (xml:lang)")
    for text in root.xpath("//atom:title", namespaces=ns):
        if text.get("type", "text") == "text" and HTML_TAG.search(text.text or ""):
            problems.append(f"title contains HTML: {text.text!r}")
    for element in root.xpath(
        "//atom:content[@type='html'] | //atom:summary[@type='html']", namespaces=ns
    ):
        problems += html_problems(element.text, etree.QName(element).localname)
    return problems
