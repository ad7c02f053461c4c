"""French, Dutch and English: the request's language, its catalogue, and formatting.

Message ids are the English text. Each feature keeps its own catalogue
(``locale/<lang>/LC_MESSAGES/<feature>.po``); they are merged per language when the
portal starts, compiled in memory by Babel, so there is no build step and no stale ``.mo``.
The language comes from, in order: the user's choice (cookie, and their account once they
log in), the browser's ``Accept-Language``, French.
"""

from __future__ import annotations

import contextvars
import io
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from webclient.portal.settings import LANGUAGES

LANG_COOKIE = "lang"
LANGUAGE = web.RequestKey("language", str)
_current: contextvars.ContextVar[str] = contextvars.ContextVar("portal_language", default="fr")


@cache
def translations(language: str) -> NullTranslations:
    merged = Translations()
    folder = resources.files("webclient.portal") / "locale" / language / "LC_MESSAGES"
    if not folder.is_dir():
        return merged
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        merged.merge(Translations(buffer))
    return merged


def current_language() -> str:
    return _current.get()


def set_language(language: str) -> None:
    _current.set(language if language in LANGUAGES else LANGUAGES[0])


def gettext(message: str, **values: Any) -> str:
    """``message`` in the current language, ``%(name)s`` placeholders filled from ``values``."""
    text = translations(current_language()).gettext(message)
    return text % values if values else text


_ = gettext


def N_(message: str) -> str:
    """Marks a text for translation where it is defined; translated later with ``_(var)``."""
    return message


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(current_language()).ngettext(singular, plural, n)
    values.setdefault("num", n)
    return text % values


def negotiate(request: web.Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("Accept-Language", "")
    wanted = []
    for part in header.split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag:
            wanted.append(tag)
    try:
        found = Locale.negotiate(wanted, list(LANGUAGES), sep="_") if wanted else None
    except (UnknownLocaleError, ValueError):
        found = None
    return found.language if found is not None else LANGUAGES[0]


def _locale() -> str:
    return {"fr": "fr_BE", "nl": "nl_BE", "en": "en_GB"}[current_language()]


def money(cents: int) -> str:
    return format_currency(cents / 100, "EUR", locale=_locale())


def date_text(value: Any, style: str = "medium") -> str:
    return format_date(value, format=style, locale=_locale()) if value is not None else ""


def datetime_text(value: Any, style: str = "medium") -> str:
    if value is None:
        return ""
    brussels = get_timezone("Europe/Brussels")
    return format_datetime(value, format=style, tzinfo=brussels, locale=_locale())


@web.middleware
async def language_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    language = negotiate(request)
    set_language(language)
    request[LANGUAGE] = language
    return await handler(request)  # type: ignore[no-any-return]


def jinja_globals() -> dict[str, Any]:
    return {
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "current_language": current_language,
        "LANGUAGES": LANGUAGES,
        "money": money,
        "date_text": date_text,
        "datetime_text": datetime_text,
    }


class using_language:
    """Temporarily another language, e.g. a mail in the recipient's language."""

    def __init__(self, language: str) -> None:
        self._language = language if language in LANGUAGES else LANGUAGES[0]
        self._token: contextvars.Token[str] | None = None

    def __enter__(self) -> None:
        self._token = _current.set(self._language)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
