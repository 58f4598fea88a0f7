"""Importing subscribers: addresses and names are normalised as the slow rules do."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.services import subscribers

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
