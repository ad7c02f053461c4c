"""The dialogs' texts: complete in French, Dutch and English; untrusted strings shown as
plain text."""

from __future__ import annotations

import string

import pytest

from bridge.ui.base import Operation
from bridge.ui.present import clean_label, clean_line, group_digest, split_origin
from bridge.ui.texts import LANGUAGES, TEXTS, language_of, operation_text, text, yes_words


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_key_in_every_language(key: str) -> None:
    entry = TEXTS[key]
    assert set(entry) == set(LANGUAGES), f"{key}: languages {sorted(entry)}"
    for language in LANGUAGES:
        assert entry[language].strip(), f"{key}: empty {language} text"
    names = {language: placeholders(entry[language]) for language in LANGUAGES}
    assert names["fr"] == names["en"] == names["nl"], f"{key}: placeholders differ {names}"


def test_every_operation_has_a_title_and_a_sentence() -> None:
    for operation in Operation:
        for language in LANGUAGES:
            assert operation_text("title", operation, language)
            assert operation_text("ask", operation, language)


def test_the_texts_the_brief_lists() -> None:
    assert text("pin.tries_left", "en", n=2) == "Tries left: 2"
    assert text("pin.tries_left", "fr", n=2) == "Essais restants : 2"
    assert text("pin.tries_left", "nl", n=2) == "Resterende pogingen: 2"
    assert "blocks your card" in text("pin.last_try", "en")
    assert "bloque" in text("pin.last_try", "fr")
    assert "blokkeert" in text("pin.last_try", "nl")
    assert text("pin.pinpad", "en") == "Enter your PIN on the reader's keypad."
    assert "4 to 12 digits" in text("pin.hint", "en")
    question = text("approve.question", "nl", origin="https://a.example")
    assert question.startswith("https://a.example toestaan")
    assert "revoke" in text("approve.revoke", "en")


def test_language_fallback() -> None:
    assert language_of("fr-BE") == "fr"
    assert language_of("NL") == "nl"
    assert language_of("de") == "en"
    assert language_of(None) == "en"
    assert text("button.cancel", "de") == "Cancel"
    assert text("button.cancel", "fr_BE") == "Annuler"


def test_values_are_not_formatted_again() -> None:
    shown = text("approve.question", "en", origin="https://{evil}.example/{0}")
    assert "https://{evil}.example/{0}" in shown
    assert text("pin.tries_left", "en") == "Tries left: {n}"  # a missing value does not crash
    with pytest.raises(KeyError):
        text("no.such.key", "en")


def test_yes_words() -> None:
    assert {"o", "oui", "y", "yes"} <= yes_words("fr")
    assert {"j", "ja", "y"} <= yes_words("nl")
    assert "oui" not in yes_words("en")


def test_labels_are_cleaned_and_cut() -> None:
    hostile = "Pay \x1b[31m€10\x1b[0m\u202e\u200b to\tme\x07\n\n  second   line  "
    assert clean_label(hostile) == "Pay [31m€10[0m to me\nsecond line"
    assert clean_line("a\u202eb\u2066c") == "abc"
    long = "x" * 1000
    cut = clean_label(long)
    assert len(cut) <= 300
    assert cut.endswith("…")
    lines = clean_label("\n".join(f"line {i}" for i in range(20)))
    assert lines.splitlines()[-1] == "line 5…"
    assert clean_label("<b>bold</b> {x}") == "<b>bold</b> {x}"
    assert clean_label(None) == ""


def test_digest_grouping() -> None:
    assert group_digest("00112233445566778899AABBCCDDEEFF" * 2) == (
        "0011 2233 4455 6677 8899 aabb ccdd eeff\n0011 2233 4455 6677 8899 aabb ccdd eeff"
    )
    assert group_digest("zz12") == "12"
    assert group_digest(None) == ""


def test_origin_split() -> None:
    parts = split_origin("https://portal.example:8443")
    assert (parts.scheme, parts.host, parts.port) == ("https://", "portal.example", ":8443")
    assert split_origin("https://xn--bcher-kva.example").host == "xn--bcher-kva.example"
    assert split_origin("http://[::1]:3000").full == "http://[::1]:3000"
    assert split_origin("not an origin").full == "not an origin"
    assert split_origin("https://a.example\u202e").full == "https://a.example"
