"""Cross-site request forgery: every state-changing request carries the session's token.

Forms post it in the ``_csrf`` field, scripts in the ``X-CSRF-Token`` header. A request whose
``Origin`` (or, without one, ``Referer``) names another site is refused before that. Routes
that other servers call (payment webhooks) opt out with :func:`exempt` and authenticate
themselves.
"""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session

from webclient.portal.keys import SETTINGS
from webclient.portal.security import same

FIELD = "_csrf"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])
_rendering: contextvars.ContextVar[str] = contextvars.ContextVar("csrf_rendering", default="")


def rendering_token() -> str:
    """The token of the page being rendered: for macros imported without context."""
    return _rendering.get()


def exempt(handler: H) -> H:
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


async def token(request: web.Request) -> str:
    session = await get_session(request)
    value = session.get("csrf")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session["csrf"] = value
    _rendering.set(value)
    return value


def _same_origin(request: web.Request) -> bool:
    expected = request.app[SETTINGS].origin.rstrip("/")
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == expected
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == expected
    return True  # no header at all (some privacy tools strip both): the token decides


class CsrfRefused(web.HTTPForbidden):
    pass


@web.middleware
async def csrf_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        return await handler(request)  # type: ignore[no-any-return]
    route_handler = getattr(request.match_info, "handler", None)
    if getattr(route_handler, "csrf_exempt", False):
        return await handler(request)  # type: ignore[no-any-return]
    if not _same_origin(request):
        raise CsrfRefused(reason="cross-site request")
    session = await get_session(request)
    expected = session.get("csrf")
    sent = request.headers.get(HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        field = form.get(FIELD)
        sent = field if isinstance(field, str) else None
    if not isinstance(expected, str) or sent is None or not same(expected, sent):
        raise CsrfRefused(reason="missing or wrong CSRF token")
    return await handler(request)  # type: ignore[no-any-return]
