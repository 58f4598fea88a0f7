"""Demo content modelled on a regional collaboration body's quarterly newsletter."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import ContributionLink, Issue, Proposal, ProposalLink, Theme
from newsletter.models.states import move
from newsletter.models.types import utcnow
from newsletter.services import audit, contributors, identity, plan, search, sending
from newsletter.services.contributor_links import set_proposal_secret
from newsletter.services.issues import ItemData, LinkData, add_item, create_issue
from newsletter.services.subscriber_import import ImportRow, import_subscribers

EDITOR = "Demoredaktör"
# The demo's issues, plan and settings are its named editor's work, whoever runs
# the command (the audit trail would otherwise name the OS user, say root).
DEMO_ACTOR = audit.Actor("command", EDITOR)

SEPTEMBER = {
    "title": "Nyhetsbrev september 2026",
    "preheader": (
        "Höstens konferens, ny vägledning om vårdnivåer och stöd mot ensamhet."
    ),
    "intro": (
        "Välkommen till höstens nyhetsbrev från den regionala samverkan kring "
        "barn och unga, psykisk hälsa och äldre. Här hittar du nyheter från "
        "region, kommuner och skola."
    ),
    "items": {
        "barn-och-unga": [
            ItemData(
                title="Ny utbildningswebb om hedersrelaterat våld och förtryck",
                body=(
                    "En kostnadsfri webbutbildning för dig som möter barn och unga i "
                    "skolan, socialtjänsten eller vården. Utbildningen tar ungefär två "
                    "timmar och kan göras i egen takt.\n\n"
                    "- Grundläggande kunskap om heder och kontroll\n"
                    "- Hur du ställer frågor och gör en orosanmälan\n"
                    "- Samverkan mellan verksamheter"
                ),
                contact_name="Amira Hassan",
                contact_phone="010-123 45 67",
                contact_email="amira.hassan@example.se",
                links=[
                    LinkData(
                        "Till utbildningen", "https://utbildning.example.se/heder"
                    ),
                    LinkData(
                        "Regionens handlingsplan (pdf)",
                        "https://www.example.se/handlingsplan.pdf",
                    ),
                ],
            ),
            ItemData(
                title="Kampanj mot våld i ungas parrelationer",
                body=(
                    "Under november sprids kampanjen *Kärlek är aldrig våld* i skolor "
                    "och på sociala medier. Material finns att ladda ned för "
                    "elevhälsan och fritidsgårdar."
                ),
                contact_name="Jonas Lindqvist",
                contact_phone="070-111 22 33",
                contact_email="jonas.lindqvist@example.se",
                links=[LinkData("Kampanjmaterial", "https://www.example.se/kampanj")],
            ),
        ],
        "psykisk-halsa": [
            ItemData(
                title="Regional konferens om ungas psykiska hälsa",
                body=(
                    "Den **12 mars** samlas region, kommuner och skolor för en dag om "
                    "ungas psykiska hälsa: forskning, goda exempel och samverkan. "
                    "Sista anmälningsdag är 20 februari."
                ),
                contact_name="Karin Ek",
                contact_phone="010-765 43 21",
                contact_email="karin.ek@example.se",
                links=[
                    LinkData(
                        "Program och anmälan",
                        "https://konferens.example.se/ungas-halsa",
                    ),
                ],
            ),
            ItemData(
                title="Vilken vårdnivå hjälper barn med psykisk ohälsa?",
                body=(
                    "En ny vägledning beskriver vem som gör vad: elevhälsa, "
                    "vårdcentral, första linjen och barn- och ungdomspsykiatrin. "
                    "Vägledningen är framtagen tillsammans med kommunerna."
                ),
                links=[
                    LinkData("Läs vägledningen", "https://www.example.se/vardnivaer"),
                    LinkData(
                        "Kontakta första linjen", "mailto:forsta.linjen@example.se"
                    ),
                ],
            ),
        ],
        "aldre": [
            ItemData(
                title="Ensamhet bland äldre – webbinarium för hemtjänsten",
                body=(
                    "Hur känner vi igen ofrivillig ensamhet och vad kan vi göra? Ett "
                    "webbinarium för personal i hemtjänst och särskilt boende."
                ),
                contact_name="Birgitta Holm",
                contact_email="birgitta.holm@example.se",
                links=[LinkData("Anmäl dig", "https://www.example.se/webbinarium")],
            ),
        ],
    },
}

DECEMBER = {
    "title": "Nyhetsbrev december 2026",
    "preheader": ("Årets sista nyhetsbrev: fallprevention och nya samverkansrutiner."),
    "intro": "Ett utkast till vinterns nummer.",
    "items": {
        "aldre": [
            ItemData(
                title="Förebygg fallolyckor i vinter",
                body="Nytt material om fallprevention för hemtjänsten och anhöriga.",
                contact_name="Per Nilsson",
                contact_phone="010-222 33 44",
                contact_email="per.nilsson@example.se",
                links=[LinkData("Materialet", "https://www.example.se/fall")],
            ),
        ],
    },
}


DEMO_SUBSCRIBERS = (
    (
        "elevhalsan@example.se",
        "Elevhälsan Norra skolan",
        ("barn-och-unga", "psykisk-halsa"),
    ),
    ("hemtjansten@example.se", "Hemtjänsten Centrum", ("aldre",)),
    (
        "samordnare@example.se",
        "Åsa Samordnare",
        ("barn-och-unga", "psykisk-halsa", "aldre"),
    ),
)


def _load_issue(spec: dict, published: datetime | None) -> Issue:
    """Create one demo issue with its items; a published one was sent."""
    themes = {t.slug: t.id for t in db.session.scalars(select(Theme))}
    issue = create_issue(
        title=spec["title"],
        intro=spec["intro"],
        preheader=spec["preheader"],
        slug="",
        editor=EDITOR,
    )
    for slug, items in spec["items"].items():
        for data in items:
            data.theme_id = themes[slug]
            add_item(issue.id, data, EDITOR)
    if published is not None:
        move(issue, sending.START)
        move(issue, sending.FINISH)
    issue.published_at = published
    db.session.flush()
    search.index_issue(issue.id)
    return issue


def _plan_year(september: Issue, december: Issue, now: datetime) -> int:
    """Give the demo a plan for the current year, the December draft in it when
    that is this year; return how many planned issues were added."""
    plan.set_plan(september, date(2026, 9, 15), date(2026, 8, 25))
    year = plan.local_day(now).year
    if year == 2026:
        plan.set_plan(december, date(2026, 12, 15), date(2026, 11, 24))
    made = plan.create_year_plan(
        year,
        plan.DEFAULT_MONTHS,
        plan.DEFAULT_PATTERN,
        plan.DEFAULT_PUBLISH_DAY,
        plan.DEFAULT_DEADLINE_DAYS,
        EDITOR,
    )
    return len(made.created)


DEMO_IDENTITY = {
    "tagline": (
        "Inom socialtjänst och angränsande område hälso- och sjukvård samt skolan "
        "i Kalmar län"
    ),
    "postal_address": "Regional samverkan\nBox 100\n391 00 Kalmar",
    "editorial_contact": "Redaktionen, nyhetsbrev@example.se, 0480-10 00 00",
    "footer_text": "Nyhetsbrev – 4 gånger per år med aktuell information",
}


def demo_logo() -> bytes:
    """A plain demo logo: a coloured mark and the county town's name, as a PNG."""
    image = Image.new("RGBA", (360, 96), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 8, 84, 88), radius=16, fill=(0, 80, 122, 255))
    draw.ellipse((26, 30, 62, 66), fill=(255, 255, 255, 255))
    # The built-in font has no å, ä or ö.
    font = ImageFont.load_default(size=44)
    draw.text((100, 22), "Kalmar", font=font, fill=(27, 31, 36, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def load_demo_identity() -> bool:
    """Give the organisation the demo's tagline, footer and logo, unless an
    administrator has set an identity; return whether it was set."""
    if identity.stored():
        return False
    identity.save({**DEMO_IDENTITY, **identity.store_logo(demo_logo())}, EDITOR)
    return True


def load_demo_content() -> int:
    """Add the demo issues and this year's plan to an empty archive; return how
    many issues were added."""
    with audit.acting_as(DEMO_ACTOR):
        return _load_demo_content()


def _load_demo_content() -> int:
    """Add the demo issues, plan, subscribers and identity (see load_demo_content)."""
    if db.session.scalar(select(func.count(Issue.id))):
        return 0
    september = _load_issue(SEPTEMBER, datetime(2026, 9, 15, 7, 0, tzinfo=UTC))
    december = _load_issue(DECEMBER, None)
    planned = _plan_year(september, december, utcnow())
    themes = {t.slug: t.id for t in db.session.scalars(select(Theme))}
    import_subscribers(
        [
            ImportRow(0, email, name, frozenset(themes[s] for s in slugs))
            for email, name, slugs in DEMO_SUBSCRIBERS
        ],
        "Demo subscribers, created with the demo content.",
        EDITOR,
        utcnow(),
    )
    load_demo_identity()
    db.session.flush()
    return 2 + planned


DEMO_PARTNER = "Kalmar kommun"


@dataclass(frozen=True)
class DemoProposal:
    """A proposal as a partner would have sent it."""

    theme: str
    title: str
    body: str
    contact_name: str
    contact_title: str
    contact_phone: str = ""
    contact_email: str = ""
    note: str = ""
    links: tuple[tuple[str, str], ...] = ()
    late: bool = False
    days_ago: int = 0


DEMO_PROPOSALS = (
    DemoProposal(
        theme="aldre",
        title="Träffpunkter för äldre öppnar i fler kommundelar",
        body=(
            "Från januari öppnar tre nya träffpunkter där äldre kan fika, delta i "
            "cirkelträning och få digital hjälp. Verksamheten drivs tillsammans med "
            "pensionärsorganisationerna."
        ),
        contact_name="Lena Berg",
        contact_title="Utvecklingsledare",
        contact_email="lena.berg@example.se",
        note="Gärna i decembernumret om det finns plats.",
        links=(("Om träffpunkterna", "https://www.example.se/traffpunkter"),),
        days_ago=2,
    ),
    DemoProposal(
        theme="barn-och-unga",
        title="Lovaktiviteter för unga under jullovet",
        body=(
            "Kommunens fritidsgårdar har extra öppet under jullovet, med "
            "aktiviteter för unga mellan 13 och 18 år."
        ),
        contact_name="Omar Said",
        contact_title="Fritidsledare",
        contact_phone="0480-45 00 00",
        late=True,
    ),
)


def load_demo_contributions() -> int:
    """Add a partner's contribution link and two proposals (one late) for the
    inbox, once; return how many proposals were added."""
    with audit.acting_as(DEMO_ACTOR):
        return _load_demo_contributions()


def _load_demo_contributions() -> int:
    """Add the demo's contribution link and proposals (see load_demo_contributions)."""
    exists = db.session.scalar(
        select(ContributionLink.id).where(ContributionLink.organisation == DEMO_PARTNER)
    )
    if exists is not None:
        return 0
    now = utcnow()
    link, _token = contributors.create_link(
        DEMO_PARTNER, "kommunikation@example.se", "Kommunikationsenheten", None,
        EDITOR, now,
    )  # fmt: skip
    themes = {t.slug: t.id for t in db.session.scalars(select(Theme))}
    issue_id = db.session.scalar(
        select(Issue.id).where(Issue.title == DECEMBER["title"])
    )
    for spec in DEMO_PROPOSALS:
        proposal = Proposal(
            link=link,
            issue_id=issue_id,
            theme_id=themes[spec.theme],
            title=spec.title,
            body=spec.body,
            contact_name=spec.contact_name,
            contact_title=spec.contact_title,
            contact_organisation=DEMO_PARTNER,
            contact_phone=spec.contact_phone,
            contact_email=spec.contact_email,
            note=spec.note,
            proposer_email="kommunikation@example.se",
            language="sv",
            late=spec.late,
            submitted_at=now - timedelta(days=spec.days_ago),
            links=[
                ProposalLink(position=n, label=label, url=url)
                for n, (label, url) in enumerate(spec.links)
            ],
        )
        set_proposal_secret(proposal)
        db.session.add(proposal)
        db.session.flush()
        audit.record(
            "proposal.submitted",
            "proposal",
            proposal.id,
            proposal.title,
            actor=audit.partner(DEMO_PARTNER),
            at=proposal.submitted_at,
        )
    return len(DEMO_PROPOSALS)
