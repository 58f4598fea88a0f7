"""The quarterly plan: publication dates and deadlines, the year's plan on the issues
page, and the reminders partners get before a deadline."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import (
    AuditEvent,
    ContributionLink,
    ContributionReminder,
    Issue,
    IssueStatus,
    OutboundMessage,
    Proposal,
    ProposalStatus,
)
from newsletter.models.types import utcnow
from newsletter.planning import ReminderDuty, remind
from newsletter.services import audit, plan, reminders
from newsletter.services.contributor_links import (
    link_url,
    set_proposal_secret,
    set_token,
)
from tests.factories import make_issue, theme

# A Wednesday morning in February 2027, Stockholm and UTC alike in their day.
NOW = datetime(2027, 2, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _app_context(request):
    """Let a test on the `app` fixture without a client make and read rows."""
    if "app" not in request.fixturenames or "editor" in request.fixturenames:
        yield
        return
    with request.getfixturevalue("app").app_context():
        yield


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def issue_entries_by_editors() -> int:
    """Audit entries about issues written by editors' requests (the factories'
    own entries name the command line)."""
    return db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "issue", AuditEvent.actor_kind == "editor"
        )
    )


def reminder_entries() -> int:
    return db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "contribution.reminded"
        )
    )


def make_link(
    organisation: str = "Norra kommunen",
    email: str = "kontakt@norra.example.se",
    **fields,
) -> ContributionLink:
    """Create a contribution link with a token, open unless fields say otherwise."""
    link = ContributionLink(organisation=organisation, contact_email=email, **fields)
    set_token(link)
    db.session.add(link)
    db.session.commit()
    return link


def make_planned(
    title: str, deadline: date, publish_on: date | None = None, **fields
) -> Issue:
    """Create a draft issue with a deadline and a publication date after it."""
    return make_issue(
        title,
        publish_on=publish_on or deadline + timedelta(days=21),
        contribution_deadline=deadline,
        **fields,
    )


def make_proposal(issue: Issue, link: ContributionLink, status: ProposalStatus):
    proposal = Proposal(
        link_id=link.id,
        issue_id=issue.id,
        theme_id=theme("aldre").id,
        status=status,
        title="Förslag",
        proposer_email="forslag@example.se",
    )
    set_proposal_secret(proposal)
    db.session.add(proposal)
    db.session.commit()
    return proposal


def header(issue: Issue, **fields: str) -> dict[str, str]:
    """Return the issue page's header form as the editor sends it."""
    return {
        "title": issue.title,
        "slug": issue.slug,
        "preheader": "",
        "intro": "",
        "version": str(issue.version),
        **fields,
    }


def plan_form(**fields) -> dict:
    """Return the year-plan form with its defaults, as the page offers it."""
    return {
        "plan-year": "2027",
        "plan-pattern": "Nyhetsbrev {månad} {år}",
        "plan-months": ["3", "6", "9", "12"],
        "plan-publish_day": "15",
        "plan-deadline_days": "21",
        **fields,
    }


def plan_section(response) -> str:
    page = response.get_data(as_text=True)
    return page[page.index('id="plan"') :]


# The header form ------------------------------------------------------------
# Tests with a logged-in client make and read rows in app contexts of their own:
# each request pushes one, which must not be the test's.


def test_the_issue_header_saves_the_publication_date_and_deadline(app, editor):
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars 2027")
        form = header(
            issue, publish_on="2027-03-15", contribution_deadline="2027-02-22"
        )
    response = editor.post(f"/editor/issues/{issue.id}", data=form)
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(Issue, issue.id)
        assert saved.publish_on == date(2027, 3, 15)
        assert saved.contribution_deadline == date(2027, 2, 22)
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "issue.planned")
        )
        assert event.object_id == issue.id and event.actor == "editor@example.se"
        assert event.changes == {
            "publish_on": [None, "2027-03-15"],
            "contribution_deadline": [None, "2027-02-22"],
        }
    page = editor.get(f"/editor/issues/{issue.id}").get_data(as_text=True)
    assert 'value="2027-03-15"' in page and 'value="2027-02-22"' in page


def test_a_new_issue_can_be_planned_as_it_is_created(app, editor):
    response = editor.post(
        "/editor/issues/new",
        data={"title": "Nyhetsbrev juni 2027", "publish_on": "2027-06-15"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Issue.publish_on)) == date(2027, 6, 15)


def test_a_deadline_after_publication_is_refused_beside_the_field(app, editor):
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars 2027")
        form = header(
            issue, publish_on="2027-03-15", contribution_deadline="2027-03-16"
        )
    response = editor.post(f"/editor/issues/{issue.id}", data=form)
    assert response.status_code == 422
    assert (
        "Sista dag för förslag måste vara senast samma dag som utgivningsdagen."
        in response.get_data(as_text=True)
    )
    with app.app_context():
        saved = db.session.get(Issue, issue.id)
        assert saved.publish_on is None and saved.contribution_deadline is None
        assert issue_entries_by_editors() == 0


def test_a_deadline_without_a_publication_date_asks_for_one(app, editor):
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars 2027")
        form = header(issue, contribution_deadline="2027-02-22")
    response = editor.post(f"/editor/issues/{issue.id}", data=form)
    assert response.status_code == 422
    assert "Ange också utgivningsdagen." in response.get_data(as_text=True)


# The year's plan on the issues page ---------------------------------------------


def test_the_issues_page_lists_the_years_plan_with_proposals(app, editor):
    with app.app_context():
        passed = make_planned("Nyhetsbrev mars 2025", date(2025, 2, 1))
        undecided = make_issue("Nyhetsbrev juni 2025", publish_on=date(2025, 6, 15))
        make_planned("Nyhetsbrev mars 2026", date(2026, 2, 20))
        link = make_link()
        for status in (
            ProposalStatus.NEW,
            ProposalStatus.NEW,
            ProposalStatus.ACCEPTED,
            ProposalStatus.DECLINED,
        ):
            make_proposal(passed, link, status)
        make_proposal(undecided, link, ProposalStatus.RETURNED)

    section = plan_section(editor.get("/editor/?year=2025"))
    assert "Planen för 2025" in section
    assert "Nyhetsbrev mars 2026" not in section
    rows = section.split("<tr>")
    march = next(r for r in rows if "Nyhetsbrev mars 2025" in r)
    june = next(r for r in rows if "Nyhetsbrev juni 2025" in r)
    assert rows.index(march) < rows.index(june)
    assert "22 februari 2025" in march and "1 februari 2025" in march
    assert "2 nya av 3" in march and "har passerat" in march
    assert "0 nya av 1" in june and "har passerat" not in june
    assert 'href="/editor/?year=2024#plan"' in section
    assert 'href="/editor/?year=2026#plan"' in section


def issue_titles(response) -> list[str]:
    """The titles in the issues table at the top of the issues page, in order."""
    page = response.get_data(as_text=True)
    table = page[page.index("<tbody>") : page.index("</tbody>")]
    return [
        row.split('">', 1)[1].split("</a>", 1)[0] for row in table.split("<tr>")[1:]
    ]


def test_the_issues_page_lists_what_goes_out_soonest_first_then_the_sent(app, editor):
    with app.app_context():
        # Made in an order of their own: the page must not follow it.
        make_issue("Nyhetsbrev juni", publish_on=date(2027, 6, 15))
        make_issue("Nyhetsbrev mars", publish_on=date(2027, 3, 15))
        make_issue("Utan datum")
        make_issue(
            "Nyhetsbrev september 2026",
            status=IssueStatus.SENT,
            publish_on=date(2026, 9, 15),
            published_at=datetime(2026, 9, 15, 8, 0, tzinfo=UTC),
        )
        make_issue(
            "Extranummer april",
            status=IssueStatus.SCHEDULED,
            scheduled_at=datetime(2027, 4, 1, 7, 0, tzinfo=UTC),
        )
        make_issue(
            "Nyhetsbrev december 2026",
            status=IssueStatus.SENT,
            publish_on=date(2026, 12, 15),
            published_at=datetime(2026, 12, 15, 8, 0, tzinfo=UTC),
        )
        make_issue(
            "Inställt nummer",
            status=IssueStatus.CANCELLED,
            published_at=datetime(2026, 10, 1, 8, 0, tzinfo=UTC),
        )
    page = editor.get("/editor/")
    assert issue_titles(page) == [
        "Nyhetsbrev mars",
        "Extranummer april",
        "Nyhetsbrev juni",
        "Utan datum",
        "Nyhetsbrev december 2026",
        "Inställt nummer",
        "Nyhetsbrev september 2026",
    ]
    # The planned day, which orders the drafts, is shown beside each.
    assert "15 mars 2027" in page.get_data(as_text=True).split("</tbody>")[0]


def test_the_scheduled_day_counts_over_the_planned_one_in_stockholm_time(app):
    # Scheduled for 00:30 on 1 April in Stockholm: 31 March in UTC.
    early = make_issue(
        "Schemalagt",
        status=IssueStatus.SCHEDULED,
        publish_on=date(2027, 5, 1),
        scheduled_at=datetime(2027, 3, 31, 22, 30, tzinfo=UTC),
    )
    planned = make_issue("Planerat", publish_on=date(2027, 3, 31))
    assert plan.day_out(early) == date(2027, 4, 1)
    assert plan.in_working_order(iter([early, planned])) == [planned, early]


def test_the_plan_shows_the_current_year_by_default(app, editor):
    with app.app_context():
        this_year = plan.local_day(utcnow()).year
        make_planned(f"Nyhetsbrev december {this_year}", date(this_year, 11, 20))
    section = plan_section(editor.get("/editor/"))
    assert "Årets plan" in section
    assert f"Nyhetsbrev december {this_year}" in section


def test_one_action_creates_the_years_four_issues(app, editor):
    response = editor.post("/editor/issues/plan", data=plan_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/editor/?year=2027#plan")
    with app.app_context():
        planned = db.session.scalars(select(Issue).order_by(Issue.publish_on)).all()
        assert [
            (i.title, i.slug, i.publish_on, i.contribution_deadline) for i in planned
        ] == [
            (f"Nyhetsbrev {month} 2027", f"nyhetsbrev-{month}-2027", out, deadline)
            for month, out, deadline in [
                ("mars", date(2027, 3, 15), date(2027, 2, 22)),
                ("juni", date(2027, 6, 15), date(2027, 5, 25)),
                ("september", date(2027, 9, 15), date(2027, 8, 25)),
                ("december", date(2027, 12, 15), date(2027, 11, 24)),
            ]
        ]
        assert all(i.status == IssueStatus.DRAFT for i in planned)
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "issue.planned")
        ).all()
        assert actions == ["issue.planned"] * 4
    page = editor.get("/editor/?year=2027").get_data(as_text=True)
    assert "4 nummer har skapats." in page


def test_months_already_planned_are_skipped_and_named(app, editor):
    with app.app_context():
        make_planned("Sommarnumret", date(2027, 6, 1), date(2027, 6, 20))
        make_issue("Nyhetsbrev mars 2027")  # the title is taken, but not planned
    response = editor.post(
        "/editor/issues/plan", data=plan_form(), follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "3 nummer har skapats." in page and "Juni 2027 fanns redan." in page
    with app.app_context():
        made = db.session.execute(select(Issue.title, Issue.slug).order_by(Issue.id))
        assert [tuple(row) for row in made][2:] == [
            ("Nyhetsbrev mars 2027", "nyhetsbrev-mars-2027-2"),
            ("Nyhetsbrev september 2027", "nyhetsbrev-september-2027"),
            ("Nyhetsbrev december 2027", "nyhetsbrev-december-2027"),
        ]
    # Creating the plan again adds nothing.
    again = editor.post("/editor/issues/plan", data=plan_form(), follow_redirects=True)
    assert "0 nummer har skapats." in again.get_data(as_text=True)
    with app.app_context():
        assert count(Issue) == 5


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("Nyhetsbrev {manad} {år}", "{manad} är ingen platshållare som vi känner"),
        ("Nyhetsbrev {månad {år}", "Skriv varje platshållare inom klammerparenteser"),
    ],
)
def test_a_bad_pattern_is_explained_and_nothing_is_created(
    app, editor, pattern, message
):
    response = editor.post(
        "/editor/issues/plan", data=plan_form(**{"plan-pattern": pattern})
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert count(Issue) == 0 and issue_entries_by_editors() == 0


def test_the_plan_form_needs_a_month_and_a_real_day(app, editor):
    response = editor.post(
        "/editor/issues/plan",
        data=plan_form(
            **{"plan-months": [], "plan-publish_day": "32", "plan-year": "99999"}
        ),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Välj minst en månad." in page and "Ange en dag från 1 till 31." in page
    assert "Ange ett år, till exempel 2027." in page
    with app.app_context():
        assert count(Issue) == 0


def test_english_placeholders_and_short_months(app):
    assert plan.title_for("Issue {month} {year}", 9, 2027) == "Issue september 2027"
    result = plan.create_year_plan(2027, [2, 6], "{år}-{månad}", 31, 0, "Test")
    assert [
        (i.title, i.publish_on, i.contribution_deadline) for i in result.created
    ] == [
        ("2027-februari", date(2027, 2, 28), date(2027, 2, 28)),
        ("2027-juni", date(2027, 6, 30), date(2027, 6, 30)),
    ]


# Reminders ------------------------------------------------------------------


def reminded_addresses() -> list[str]:
    return db.session.scalars(
        select(OutboundMessage.to_address)
        .where(OutboundMessage.template == "contribution_reminder")
        .order_by(OutboundMessage.to_address)
    ).all()


def test_each_open_link_is_reminded_once_per_issue(app):
    issue = make_planned("Nyhetsbrev mars 2027", date(2027, 2, 14))
    make_link("Norra kommunen", "norra@example.se")
    make_link("Regionen", "region@example.se", expires_at=NOW + timedelta(days=1))
    make_link("Södra kommunen", "sodra@example.se", revoked_at=NOW - timedelta(days=1))
    make_link("Skolan", "skolan@example.se", expires_at=NOW - timedelta(hours=1))
    first = remind(NOW, 7, audit.WORKER)
    second = remind(NOW + timedelta(minutes=5), 7, audit.WORKER)
    assert sorted(r.link.organisation for r in first) == ["Norra kommunen", "Regionen"]
    assert second == []
    assert reminded_addresses() == ["norra@example.se", "region@example.se"]
    message = db.session.scalar(select(OutboundMessage))
    assert message.language == "sv" and message.context["issue_id"] == issue.id
    assert count(ContributionReminder) == 2
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "contribution.reminded")
    ).all()
    assert [(e.actor_kind, e.object_type) for e in events] == [
        ("worker", "contribution_link")
    ] * 2


def test_a_second_issue_brings_a_second_reminder(app):
    make_planned("Nyhetsbrev mars 2027", date(2027, 2, 14))
    make_link()
    assert len(remind(NOW, 7)) == 1
    make_planned("Extranummer", date(2027, 2, 16))
    assert [r.issue.title for r in remind(NOW, 7)] == ["Extranummer"]


def test_no_reminders_for_deadlines_passed_far_off_or_issues_under_way(app):
    make_planned("Passerad", date(2027, 2, 9))
    make_planned("Om tio dagar", date(2027, 2, 20))
    make_planned("Redan skickad", date(2027, 2, 12), status=IssueStatus.SENDING)
    make_planned("Inställd", date(2027, 2, 12), status=IssueStatus.CANCELLED)
    today = make_planned("I dag", date(2027, 2, 10))  # until midnight, still open
    make_link()
    due = reminders.due_reminders(NOW, 7)
    assert [r.issue.id for r in due] == [today.id]
    assert remind(NOW, 0) == []  # 0 turns reminders off
    late_evening = datetime(2027, 2, 10, 23, 30, tzinfo=UTC)  # 00:30 in Sweden
    assert reminders.due_reminders(late_evening, 7) == []


def test_reminders_are_off_when_the_days_are_zero(make_app):
    app = make_app(CONTRIBUTION_REMINDER_DAYS=0)
    with app.app_context():
        make_planned("Snart", plan.local_day(utcnow()) + timedelta(days=2))
        make_link()
    worker = Worker(app)
    assert worker.reminders is None
    worker.run(once=True)
    with app.app_context():
        assert count(OutboundMessage) == 0


def test_the_duty_looks_at_most_every_so_often_and_survives_a_failure(app):
    duty = ReminderDuty.from_settings(
        type(
            "Config",
            (),
            {
                "contribution_reminder_days": 7,
                "contribution_reminder_every_seconds": 3600,
            },
        )()
    )
    assert duty is not None
    make_link()
    assert duty.remind_when_due(NOW) is False  # nothing planned yet
    make_planned("Nyhetsbrev mars 2027", date(2027, 2, 14))
    assert duty.remind_when_due(NOW + timedelta(minutes=30)) is False  # too soon
    assert duty.remind_when_due(NOW + timedelta(hours=1)) is True
    duty.days = "broken"  # a failure is logged, and the next round tries again
    assert duty.remind_when_due(NOW + timedelta(hours=3)) is False
    assert duty.next_at == NOW + timedelta(hours=3)
    assert count(OutboundMessage) == 1


def test_the_reminder_reaches_the_partner_in_swedish(mail_app, smtp_server):
    with mail_app.app_context():
        deadline = plan.local_day(utcnow()) + timedelta(days=3)
        make_planned("Nyhetsbrev mars 2027", deadline)
        link = make_link("Norra kommunen", "norra@example.se")
        address = link_url(link)
        broken = make_link("Regionen", "region@example.se")
        broken.token_sealed = "sealed with an old secret key"
        db.session.commit()
    Worker(mail_app).run(once=True)
    Worker(mail_app).run(once=True)  # nothing more to say
    messages = {m["To"]: m for m in smtp_server.sink.messages()}
    assert sorted(messages) == ["norra@example.se", "region@example.se"]
    day = format_date(deadline, "long", locale="sv")
    message = messages["norra@example.se"]
    assert message["Subject"] == (
        f"Påminnelse: skicka förslag till Nyhetsbrev mars 2027 senast {day}"
    )
    text = message.get_body(("plain",)).get_content()
    assert "Hej Norra kommunen!" in text
    assert f"Sista dag att föreslå texter till Nyhetsbrev mars 2027 är {day}." in text
    assert address and address.startswith("https://nyhetsbrev.example.se/contribute/")
    assert address in text
    html = message.get_body(("html",)).get_content()
    assert f'href="{address}"' in html
    other = messages["region@example.se"].get_body(("plain",)).get_content()
    assert "Kontakta redaktionen så skickar de en ny länk" in other
    assert "/contribute/" not in other


@pytest.mark.real_commits  # two workers, each on a connection of its own
def test_two_workers_reminding_at_once_send_one_reminder(postgres_app):
    app = postgres_app
    with app.app_context():
        make_planned("Nyhetsbrev mars 2027", date(2027, 2, 14))
        make_link("Norra kommunen", "norra@example.se")
        make_link("Regionen", "region@example.se")
    first_queued = threading.Event()
    queued: dict[str, int] = {}
    errors: list[str] = []

    def first() -> None:
        with app.app_context():
            done = reminders.send_reminders(NOW, 7, audit.WORKER)
            queued["first"] = len(done)
            first_queued.set()
            # The second worker is now reading the same links as due.
            threading.Event().wait(0.3)
            db.session.commit()

    def second() -> None:
        first_queued.wait(5)
        with app.app_context():
            try:
                # Both links still look due: the first worker has not committed.
                queued["second seen"] = len(reminders.due_reminders(NOW, 7))
                queued["second"] = len(remind(NOW, 7, audit.WORKER))
            except Exception as error:  # noqa: BLE001 - asserted below
                errors.append(repr(error))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert queued == {"first": 2, "second seen": 2, "second": 0}
    with app.app_context():
        assert reminded_addresses() == ["norra@example.se", "region@example.se"]
        assert count(ContributionReminder) == 2


# The command line -------------------------------------------------------------


def test_plan_remind_dry_run_writes_nothing_then_reminds(app):
    make_planned("Nyhetsbrev mars 2027", plan.local_day(utcnow()) + timedelta(days=2))
    make_link("Norra kommunen", "norra@example.se")
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["plan", "remind", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remind Norra kommunen <norra@example.se>: Nyhetsbrev mars 2027" in (
        dry.output
    )
    assert "1 reminders would be sent." in dry.output
    assert count(OutboundMessage) == 0 and count(ContributionReminder) == 0
    assert reminder_entries() == 0
    real = runner.invoke(args=["plan", "remind"])
    assert real.exit_code == 0, real.output
    assert "1 reminders queued" in real.output
    assert reminded_addresses() == ["norra@example.se"]
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "contribution.reminded")
    )
    assert event.actor_kind == "command"
    again = runner.invoke(args=["plan", "remind"])
    assert "0 reminders queued" in again.output


def test_plan_create_makes_the_year_and_explains_errors(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["plan", "create", "2027"])
    assert result.exit_code == 0, result.output
    assert "created Nyhetsbrev mars 2027 (nyhetsbrev-mars-2027)" in result.output
    assert count(Issue) == 4
    again = runner.invoke(args=["plan", "create", "2027", "--months", "6,7"])
    assert "skipped juni 2027: already planned" in again.output
    assert "created Nyhetsbrev juli 2027" in again.output
    bad = runner.invoke(args=["plan", "create", "2028", "--pattern", "Nr {nummer}"])
    assert bad.exit_code == 2 and "unknown placeholder {nummer}" in bad.output
    months = runner.invoke(args=["plan", "create", "2028", "--months", "3,13"])
    assert months.exit_code == 2 and "months are numbers from 1 to 12" in months.output
    assert count(Issue) == 5
