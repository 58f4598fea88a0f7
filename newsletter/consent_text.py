"""The consent text shown on the sign-up form, versioned: each request stores it."""

from __future__ import annotations

VERSION = "2026-11-25"

TEXT = {
    "sv": (
        "Jag vill få nyhetsbrevet med de teman jag valt. Min e-postadress, mitt namn "
        "och mina val sparas för att skicka nyhetsbrevet och används inte till något "
        "annat. Jag kan när som helst ändra mina val, se vad som sparats om mig, "
        "avsluta prenumerationen eller be om att uppgifterna raderas via länken i "
        "varje utskick."
    ),
    "en": (
        "I want to receive the newsletter on the themes I chose. My email address, my "
        "name and my choices are stored to send the newsletter and are used for "
        "nothing else. I can change my choices, see what is stored about me, "
        "unsubscribe or ask for my data to be erased at any time through the link in "
        "every issue."
    ),
}


def consent_text(language: str) -> str:
    """Return the current consent text in a language (Swedish by default)."""
    return TEXT.get(language, TEXT["sv"])
