"""The home page, the language switch and the health check."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from webclient.portal.access import USER, Access, requires
from webclient.portal.db import transaction
from webclient.portal.i18n import LANG_COOKIE
from webclient.portal.keys import DB
from webclient.portal.pages import read_form, redirect, render, safe_next
from webclient.portal.settings import LANGUAGES

ONE_YEAR = 365 * 24 * 3600


@requires(Access.PUBLIC)
async def index(request: web.Request) -> web.Response:
    return await render(request, "home.html")


@requires(Access.PUBLIC)
async def choose_language(request: web.Request) -> web.Response:
    """Remembered in a cookie for the next visit, and on the account when logged in."""
    form = await read_form(request)
    language = form.get("lang", "")
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(reason="unknown language")
    user = request.get(USER)
    if user is not None:
        async with transaction(request.app[DB]) as db:
            row = await db.get(type(user), user.id)
            if row is not None:
                row.language = language
    response = redirect(safe_next(form.get("next")))
    response.set_cookie(LANG_COOKIE, language, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    raise response


@requires(Access.PUBLIC)
async def health(request: web.Request) -> web.Response:
    """For the load balancer: this process answers and reaches the database."""
    async with transaction(request.app[DB]) as db:
        await db.execute(text("SELECT 1"))
    return web.json_response({"status": "ok"})


def setup(app: web.Application) -> None:
    app.router.add_get("/", index, name="home")
    app.router.add_post("/language", choose_language, name="language")
    app.router.add_get("/healthz", health, name="health")
