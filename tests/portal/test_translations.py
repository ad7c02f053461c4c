"""Every text a user can meet exists in French and Dutch (English is the message id), with the
same ``%(name)s`` placeholders; the catalogues compile."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from webclient.portal.i18n import gettext as _
from webclient.portal.i18n import translations, using_language

PORTAL = Path(__file__).resolve().parents[2] / "webclient" / "portal"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [
    ("**/migrations/**", "ignore"),
    ("**.py", "python"),
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("templates/**.txt", "jinja2.ext:babel_extract"),
]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def used_messages() -> Iterator[tuple[str, str, int]]:
    for filename, line, message, _comments, _context in extract_from_dir(
        PORTAL, method_map=METHODS, keywords=KEYWORDS,
        options_map={"templates/**.txt": {"trimmed": "false"}},
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                yield text, filename, line


def catalogue(language: str) -> dict[str, str]:
    folder = resources.files("webclient.portal") / "locale" / language / "LC_MESSAGES"
    found: dict[str, str] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".po"):
            with entry.open("rb") as handle:
                for message in read_po(handle, locale=language):
                    if not message.id or not message.string:
                        continue
                    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
                    values = (
                        message.string if isinstance(message.string, tuple | list)
                        else (message.string,)
                    )
                    if all(values):
                        # A plural entry answers for its singular and its plural id, each
                        # compared with the translation's last (most general) form.
                        for key in ids:
                            found[str(key)] = str(values[-1] if key != ids[0] else values[0])
    return found


def test_texts_are_found() -> None:
    texts = {text for text, _f, _l in used_messages()}
    assert "Log in" in texts
    assert len(texts) > 30


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_text_is_translated(language: str) -> None:
    known = catalogue(language)
    missing = sorted({f"{text!r} ({name}:{line})" for text, name, line in used_messages()
                      if text not in known})
    assert not missing, f"{len(missing)} texts lack a {language} translation:\n" + "\n".join(
        missing[:80]
    )


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_placeholders_match(language: str) -> None:
    wrong = [
        message for message, translated in catalogue(language).items()
        if sorted(PLACEHOLDER.findall(message)) != sorted(PLACEHOLDER.findall(translated))
    ]
    assert not wrong, f"placeholders differ in {language}: {wrong}"


def test_catalogues_compile_and_are_used() -> None:
    with using_language("nl"):
        assert _("Log in") == "Aanmelden"
    with using_language("fr"):
        assert _("Welcome, %(name)s.", name="Anne") == "Bienvenue, Anne."
    with using_language("en"):
        assert _("Log in") == "Log in"
    assert translations("fr").gettext("Log out") == "Se déconnecter"
