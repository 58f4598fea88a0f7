"""Importing large subscriber files: exactly the right rows, events and emails."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import (
    ConsentEvent,
    OutboundMessage,
    Subscriber,
    Suppression,
    Theme,
    subscriber_theme,
)
from newsletter.services import subscribers
from newsletter.services.subscriptions import address_hash
from tests.factories import theme

ROWS = 12_000  # more than two chunks of the importer (5,000 rows each)
ATTESTATION = "Anmälda på regionkonferensen 12 mars 2026 (lista i diariet)."
ALL = frozenset({"barn-och-unga", "psykisk-halsa", "aldre"})


@dataclass
class MixedFile:
    """A file of new, existing, erased, repeated and broken rows, and what an
    import of it must do, worked out without the importer."""

    lines: list[str] = field(default_factory=lambda: ["email;name;themes"])
    new: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    existing: dict[str, str] = field(default_factory=dict)  # address -> status
    erased: list[str] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # line -> message start

    def add(self, email: str, name: str, themes: str) -> int:
        """Append a row; return its line number."""
        self.lines.append(f"{email};{name};{themes}")
        return len(self.lines)


def mixed_file() -> MixedFile:
    """Build the file row by row, twelve kinds of row in turn."""
    file = MixedFile()
    first_new = {}  # row number -> address of a new row
    for n in range(ROWS):
        kind = n % 12
        email = f"p{n}@k{n % 7}.example.se"
        if kind in (0, 1, 2):
            themes, chosen = [
                ("", ALL),
                ("aldre", frozenset({"aldre"})),
                ("Barn och unga|PSYKISK-HALSA", frozenset(ALL - {"aldre"})),
            ][kind]
            file.add(email, f"Person {n}", themes)
            file.new[email] = (f"Person {n}", chosen)
            first_new[n] = email
        elif kind in (3, 4):
            file.add(email, "Nytt namn", "")
            file.existing[email] = "confirmed" if kind == 3 else "unsubscribed"
        elif kind == 5 and n % 120 == 5:
            line = file.add(email, "Raderad", "")
            file.erased.append(email)
            file.errors[line] = f"{email} raderades"
        elif kind == 6:  # the row six before, in capitals: the same address
            earlier = first_new[n - 6]
            line = file.add(earlier.upper(), "Dubblett", "aldre")
            file.errors[line] = f"{earlier} förekommer mer än en gång"
        elif kind == 7 and n >= 6007:  # a row in a chunk long before
            earlier = first_new[n - 6007]
            line = file.add(earlier, "Dubblett", "sport")
            file.errors[line] = f"{earlier} förekommer mer än en gång"
        elif kind == 8:
            file.add(f"  P{n}@K.Example.SE ", f"Per\tson\x07 {n}", "aldre")
            file.new[f"p{n}@k.example.se"] = (
                f"Per son {n}",
                frozenset({"aldre"}),
            )
        elif kind == 9:
            line = file.add(f"p{n}-at-k.example.se", "Fel", "")
            file.errors[line] = "ogiltig adress"
        elif kind == 10:
            line = file.add(email, "Okänt tema", "sport")
            file.errors[line] = "okänt tema sport"
        else:  # an internationalised domain, kept in its ASCII form
            file.add(f"p{n}@bäcken.se", f"Person {n}", "aldre")
            file.new[f"p{n}@xn--bcken-gra.se"] = (
                f"Person {n}",
                frozenset({"aldre"}),
            )
        if n % 1000 == 999:
            file.add("", " ", "")  # a blank row is no error
    return file


def prepare(app, file: MixedFile) -> None:
    """Add the existing and the erased subscribers of the file."""
    with app.app_context():
        old = theme("aldre")
        db.session.add_all(
            Subscriber(email=email, name="Gammalt namn", status=status, themes=[old])
            for email, status in file.existing.items()
        )
        db.session.add_all(
            Suppression(email_hash=address_hash(email), reason="erased")
            for email in file.erased
        )
        db.session.commit()


def upload(editor, content: str):
    """Upload a file; return the preview page and its address."""
    response = editor.post(
        "/editor/subscribers/import",
        data={"file": (io.BytesIO(content.encode("utf-8")), "lista.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return editor.get(response.headers["Location"]), response.headers["Location"]


def count(page: str, what: str) -> int:
    """Read one of the preview's counts."""
    found = re.search(rf'data-count="{what}">(\d+)<', page)
    assert found, what
    return int(found.group(1))


def stored_subscribers(app) -> dict[str, tuple[str, str, frozenset[str], int]]:
    """Every subscriber: name, status, theme slugs, id."""
    with app.app_context():
        chosen: dict[int, set[str]] = {}
        for subscriber_id, slug in db.session.execute(
            select(subscriber_theme.c.subscriber_id, Theme.slug).join(Theme)
        ):
            chosen.setdefault(subscriber_id, set()).add(slug)
        return {
            email: (name, status, frozenset(chosen.get(id, ())), id)
            for email, name, status, id in db.session.execute(
                select(
                    Subscriber.email, Subscriber.name, Subscriber.status, Subscriber.id
                )
            )
        }


@pytest.mark.parametrize("mode", ["attested", "confirm"])
def test_a_large_mixed_import_ends_with_exactly_the_right_rows_events_and_emails(
    app, editor, mode
):
    file = mixed_file()
    prepare(app, file)
    before = stored_subscribers(app)
    preview, url = upload(editor, "\n".join(file.lines) + "\n")
    page = preview.get_data(as_text=True)
    assert count(page, "new") == len(file.new)
    assert count(page, "existing") == len(file.existing)
    assert count(page, "errors") == len(file.errors)
    shown = dict(re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td></tr>", page))
    assert len(shown) == 500  # the first 500 errors, in line order
    for line, message in shown.items():
        assert message.startswith(file.errors[int(line)]), (line, message)

    attestation = ATTESTATION if mode == "attested" else ""
    response = editor.post(url, data={"mode": mode, "attestation": attestation})
    assert response.status_code == 302

    after = stored_subscribers(app)
    assert {e: after[e] for e in before} == before  # existing rows untouched
    added = {e: v for e, v in after.items() if e not in before}
    status = "confirmed" if attestation else "pending"
    assert {e: (v[0], v[1], v[2]) for e, v in added.items()} == {
        email: (name, status, themes) for email, (name, themes) in file.new.items()
    }
    in_file_order = list(file.new)
    assert sorted(added, key=lambda e: added[e][3]) == in_file_order
    ids = {email: values[3] for email, values in added.items()}
    with app.app_context():
        events = db.session.execute(
            select(
                ConsentEvent.subscriber_id,
                ConsentEvent.kind,
                ConsentEvent.how,
                ConsentEvent.consent_text,
                ConsentEvent.detail,
            )
        ).all()
        detail = "attested by the editor" if attestation else "confirmation sent"
        assert sorted(events) == sorted(
            (id, "imported", "import by Eva Editor", attestation, detail)
            for id in ids.values()
        )
        confirmed_at = db.session.scalars(
            select(Subscriber.confirmed_at).where(Subscriber.id.in_(ids.values()))
        ).all()
        assert all((at is not None) == bool(attestation) for at in confirmed_at)
        messages = db.session.execute(
            select(
                OutboundMessage.subscriber_id,
                OutboundMessage.to_address,
                OutboundMessage.to_name,
                OutboundMessage.template,
                OutboundMessage.context,
                OutboundMessage.status,
            )
        ).all()
    expected = [
        (id, email, "", "confirm_subscription", {"subscriber_id": id}, "queued")
        for email, id in ids.items()
    ]
    assert sorted(messages) == (sorted(expected) if not attestation else [])


def test_a_file_refused_as_a_whole_imports_nothing_even_when_posted(app, editor):
    rows = "".join(f"person{n}@example.se;Person {n};\n" for n in range(6000))
    preview, url = upload(editor, f'email;name;themes\n{rows}sist@example.se;"Sist;\n')
    assert count(preview.get_data(as_text=True), "errors") == 1
    response = editor.post(url, data={"mode": "confirm"}, follow_redirects=True)
    assert "0 adresser importerade" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == 0
        assert db.session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_the_command_line_import_reads_any_line_end_from_the_file(app, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_bytes(
        b"email;name;themes\r\nanna@example.se;Anna;aldre\rbo@example.se;Bo;\n"
        b'"cia@example.se";"Cia";""\r\n'
    )
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["subscribers", "import", str(path), "--attestation", ATTESTATION]
    )
    assert result.exit_code == 0, result.output
    assert "3 added (confirmed), 0 already subscribed." in result.output
    with app.app_context():
        names = db.session.scalars(select(Subscriber.name).order_by(Subscriber.id))
        assert list(names) == ["Anna", "Bo", "Cia"]
        every_theme = db.session.scalar(select(func.count(Theme.id)))
        cia = db.session.scalar(select(Subscriber).filter_by(name="Cia"))
        assert len(cia.themes) == every_theme


ADDRESS_CHARACTERS = st.sampled_from(
    list("aZ09._-+=!#$%&'*/?^`{|}~@ \t\"(),:;<>[]\\") + ["å", "é", "\u0301", "＠"]
)


def full_validation(raw: str) -> str | None:
    """Normalise an address the complete way, email_validator every time."""
    try:
        result = validate_email(
            raw.strip(), check_deliverability=False, allow_smtputf8=True
        )
    except EmailNotValidError:
        return None
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"


def normalised_or_none(raw: str) -> str | None:
    """Normalise an address with the service, None when it refuses it."""
    try:
        return subscribers.normalise_address(raw)
    except subscribers.InvalidAddress:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    local=st.text(ADDRESS_CHARACTERS, min_size=0, max_size=70),
    domain=st.one_of(
        st.text(st.sampled_from(list("abcxyz019.-")), max_size=70),
        st.sampled_from(
            ["example.se", "EXAMPLE.se", "xn--bcken-gra.se", "a.b", "-x.se", "x..se"]
        ),
        st.sampled_from(["ä.se", "kommun.se.", "[127.0.0.1]", "localhost"]),
    ),
)
def test_plain_addresses_are_normalised_exactly_as_the_full_validation_does(
    local, domain
):
    raw = f"{local}@{domain}"
    assert normalised_or_none(raw) == full_validation(raw)


def test_long_plain_addresses_are_measured_as_the_full_validation_does():
    domain = "a" * 63 + "." + "b" * 63 + "." + "c" * 60 + ".se"
    for length in range(55, 70):  # around the limit of 254 octets
        raw = "x" * length + "@" + domain
        assert normalised_or_none(raw) == full_validation(raw)


def names_as_before(raw: str) -> str:
    """The name rule as it was written first: drop controls and bidi marks."""
    kept = "".join(
        char
        for char in raw
        if char.isspace()
        or (
            unicodedata.category(char) != "Cc" and char not in subscribers.BIDI_CONTROLS
        )
    )
    return " ".join(kept.split())


@settings(deadline=None)
@given(st.text(max_size=40))
def test_names_are_normalised_as_the_character_by_character_rule_does(raw):
    assert subscribers.normalise_name(raw) == names_as_before(raw)
