"""Every message of the accounts area exists in French and Dutch; pages and mails use them."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from tests.portal.test_accounts import registration
from tests.portal_harness import Portal, browser

PORTAL = Path(__file__).resolve().parents[2] / "webclient" / "portal"
SOURCES = [PORTAL / "accounts.py", PORTAL / "views" / "accounts.py"]
TEMPLATES = sorted((PORTAL / "templates" / "accounts").glob("*.html")) + [
    PORTAL / "templates" / "mail" / f"{name}.txt"
    for name in ("activation", "password_reset", "email_change", "password_changed")
]


def used_messages() -> set[str]:
    found: set[str] = set()
    for path, method in [(p, "python") for p in SOURCES] + [
        (p, "jinja2.ext:babel_extract") for p in TEMPLATES
    ]:
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), keywords={"_": None},
            options={"trim_blocks": "true", "lstrip_blocks": "true"},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_accounts_message_is_translated(language: str) -> None:
    translated: dict[str, str] = {}
    for catalogue in sorted((PORTAL / "locale" / language / "LC_MESSAGES").glob("*.po")):
        with catalogue.open("rb") as handle:
            translated.update({m.id: str(m.string) for m in read_po(handle)
                               if isinstance(m.id, str) and m.id and m.string})
    used = used_messages()
    assert len(used) > 100
    assert sorted(used - set(translated)) == []


async def test_a_french_visitor_gets_french_pages_and_mail(sqlite_portal: Portal) -> None:
    visitor = browser(sqlite_portal)
    page = await visitor.get("/register", headers={"Accept-Language": "fr-BE"})
    assert "Prénom, tel que sur votre carte" in await page.text()
    response = await visitor.post("/register", registration(), headers={"Origin":
                                  sqlite_portal.origin, "Accept-Language": "fr-BE"})
    assert response.status == 303
    mail = await sqlite_portal.mail.wait_for("elise@example.be")
    assert mail.subject == "Votre code d'activation"
    assert "Bonjour Élise," in mail.text


async def test_a_dutch_visitor_gets_dutch_errors(sqlite_portal: Portal) -> None:
    visitor = browser(sqlite_portal)
    await visitor.get("/register", headers={"Accept-Language": "nl-BE"})
    response = await visitor.post("/register", registration(email="nope"),
                                  headers={"Accept-Language": "nl-BE"})
    assert response.status == 400
    assert "Vul een geldig e-mailadres in" in await response.text()
