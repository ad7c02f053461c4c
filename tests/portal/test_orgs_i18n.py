"""Every message of the organisation and tool pages exists in French and Dutch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

PORTAL = Path(__file__).resolve().parents[2] / "webclient" / "portal"
TEMPLATES = PORTAL / "templates"
FILES = (
    PORTAL / "organisations.py",
    PORTAL / "views" / "orgs.py",
    PORTAL / "views" / "tools.py",
    *sorted((TEMPLATES / "orgs").glob("*.html")),
    *sorted((TEMPLATES / "tools").glob("*.html")),
    *(TEMPLATES / "mail" / f"{name}.txt"
      for name in ("join_request", "membership_confirmed", "membership_refused")),
)
KEYWORDS = ("_", "gettext", "ngettext")
PYTHON_KEYWORDS: dict[str, None] = dict.fromkeys(KEYWORDS)


def message_ids() -> Iterator[str]:
    for path in FILES:
        with path.open("rb") as handle:
            found = (extract_python(handle, PYTHON_KEYWORDS, [], {}) if path.suffix == ".py"
                     else babel_extract(handle, KEYWORDS, [], {"trimmed": "false"}))
            for _line, _function, message, _comments in found:
                first = message[0] if isinstance(message, tuple) else message
                if isinstance(first, str):
                    yield first


def translated(language: str) -> set[str]:
    """Ids with a non-empty translation in any catalogue of the language (they are merged)."""
    ids: set[str] = set()
    for path in sorted((PORTAL / "locale" / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=language)
        ids.update(str(m.id) for m in catalogue if m.id and m.string and not m.fuzzy)
    return ids


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_message_is_translated(language: str) -> None:
    ids = set(message_ids())
    assert len(ids) > 150
    assert sorted(ids - translated(language)) == []
