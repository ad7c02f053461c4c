"""What every page handler uses: render a template, flash a message, read a form, redirect.

Errors become pages in the user's language (or JSON for ``/api/`` and scripts), never a
stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from multidict import MultiDictProxy

from webclient.portal import csrf
from webclient.portal.access import AUTH_METHOD, DENIED_HEADER, MEMBERSHIP, USER
from webclient.portal.i18n import LANGUAGE, N_
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import SETTINGS

log = logging.getLogger("webclient.portal")

MAX_FIELD = 2000


async def flash(request: web.Request, message: str, kind: str = "info") -> None:
    """A message shown once on the next page (``info``, ``success``, ``error``)."""
    session = await get_session(request)
    queue = list(session.get("flash", []))[-4:]
    queue.append([kind, message])
    session["flash"] = queue


async def context(request: web.Request) -> dict[str, Any]:
    """Template variables every page gets. Computed only when a page is rendered (an
    aiohttp-jinja2 context processor would run, and open a session, on every request)."""
    session = await get_session(request)
    messages = session.pop("flash", []) if "flash" in session else []
    return {
        "request": request,
        "user": request.get(USER),
        "auth_method": request.get(AUTH_METHOD),
        "membership": request.get(MEMBERSHIP),
        "csrf_token": await csrf.token(request),
        "csrf_field": csrf.FIELD,
        "flashes": messages,
        "settings": request.app[SETTINGS],
        "lang": request.get(LANGUAGE, "fr"),
    }


async def render(
    request: web.Request, template: str, values: Mapping[str, Any] | None = None, status: int = 200
) -> web.Response:
    response = aiohttp_jinja2.render_template(
        template, request, {**await context(request), **(values or {})}
    )
    response.set_status(status)
    return response


async def read_form(request: web.Request) -> dict[str, str]:
    """The posted fields as trimmed strings (files are read separately); oversized fields
    are cut so a form can be shown again with the error, never with a 500."""
    form: MultiDictProxy[Any] = await request.post()
    return {
        key: value.strip()[:MAX_FIELD]
        for key, value in form.items()
        if isinstance(value, str) and key != csrf.FIELD
    }


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to return to after login: never another site (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def pdf_response(body: bytes, filename: str, *, download: bool = False) -> web.Response:
    """A PDF the user's browser shows (or saves); never kept by a shared cache."""
    disposition = "attachment" if download else "inline"
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


_ERROR_TEXT = {
    400: (
        N_("Bad request"),
        N_("The request could not be understood. Go back and try again."),
    ),
    401: (N_("Please log in"), N_("Log in to continue.")),
    403: (
        N_("Not allowed"),
        N_(
            "Your account is not allowed to see this page. If you think it should be, "
            "ask a manager of your organisation."
        ),
    ),
    404: (N_("Page not found"), N_("This page does not exist, or you have no access to it.")),
    405: (N_("Not allowed"), N_("This address does not accept this kind of request.")),
    413: (N_("Too large"), N_("What you sent is too large. Send a smaller file.")),
    429: (N_("Too many attempts"), N_("Too many attempts. Wait a few minutes and try again.")),
    500: (
        N_("Something went wrong"),
        N_(
            "Something went wrong on our side. Try again in a moment; if it keeps happening, "
            "contact the helpdesk."
        ),
    ),
}


def error_text(status: int) -> tuple[str, str]:
    title, text = _ERROR_TEXT.get(status, _ERROR_TEXT[500] if status >= 500 else _ERROR_TEXT[400])
    return _(title), _(text)


async def _error_response(
    request: web.Request, status: int, reason: str | None
) -> web.Response:
    title, text = error_text(status)
    if request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    ):
        return json_error(status, f"HTTP_{status}", text)
    try:
        return await render(request, "error.html", {"status": status, "title": title, "text": text},
                      status=status)
    except Exception:  # the error page itself must not fail
        log.exception("error page failed")
        return web.Response(status=status, text=f"{title}\n{text}")


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException as exc:
        if exc.status < 400 or exc.empty_body:
            raise
        if exc.text and exc.content_type == "application/json":
            raise
        response = await _error_response(request, exc.status, exc.reason)
        if DENIED_HEADER in exc.headers:
            response.headers[DENIED_HEADER] = exc.headers[DENIED_HEADER]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await _error_response(request, 500, None)
