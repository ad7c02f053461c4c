"""The tool catalogue, an organisation's tools, and entering a tool for one organisation."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from aiohttp_session import get_session

from webclient.portal import organisations as rules
from webclient.portal.access import AUTH_METHOD, MEMBERSHIP, USER, Access, requires
from webclient.portal.catalogue import TOOLS, Tool, tool
from webclient.portal.db import transaction
from webclient.portal.i18n import current_language
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB
from webclient.portal.organisations import MembershipError
from webclient.portal.pages import flash, redirect, render
from webclient.portal.views.orgs import organisation

LAST_ORG = "tool_org"
"""Session key: the organisation last used per tool (``{code: org_id}``)."""


def tool_or_404(request: web.Request) -> Tool:
    found = tool(request.match_info["code"])
    if found is None:
        raise web.HTTPNotFound()
    return found


def needs(found: Tool) -> list[str]:
    return rules.recognition_list(found, current_language())


@requires(Access.ACTIVATED)
async def catalogue(request: web.Request) -> web.Response:
    user = request[USER]
    async with transaction(request.app[DB]) as db:
        uses = {t.code: await rules.tool_use(db, user.id, t) for t in TOOLS}
    return await render(request, "tools/catalogue.html", {
        "tools": TOOLS, "uses": uses, "needs": needs})


@requires(Access.ACTIVATED)
async def enter(request: web.Request) -> web.Response:
    """Which organisation to use the tool for: straight there when the answer is obvious."""
    found = tool_or_404(request)
    async with transaction(request.app[DB]) as db:
        use = await rules.tool_use(db, request[USER].id, found)
    choosing = "choose" in request.query
    if len(use.usable) == 1 and not choosing:
        raise redirect(f"/org/{use.usable[0].id}/tools/{found.code}")
    session = await get_session(request)
    last = session.get(LAST_ORG, {}).get(found.code) if isinstance(
        session.get(LAST_ORG), dict) else None
    if not choosing and any(org.id == last for org in use.usable):
        raise redirect(f"/org/{last}/tools/{found.code}")
    return await render(request, "tools/choose.html", {
        "tool": found, "use": use, "last": last, "needs": needs(found),
        })


@requires(Access.EMPLOYEE)
async def organisation_tools(request: web.Request) -> web.Response:
    mine = request[MEMBERSHIP]
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        registered = await rules.registered_tools(db, org.id)
        held = await rules.manager_recognitions(db, org.id)
        granted = await rules.tool_access_of(db, mine.id)
    rows = [{
        "tool": t, "registered": t.code in registered, "qualifies": rules.qualifies(t, held),
        "granted": t.code in granted, "needs": needs(t),
        "missing": "" if rules.qualifies(t, held) else rules.missing_recognition_text(t),
    } for t in TOOLS]
    return await render(request, "tools/org_tools.html", {
        "org": org, "rows": rows, "mine": mine})


async def _registration(request: web.Request, register: bool) -> web.Response:
    found = tool_or_404(request)
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        try:
            if register:
                await rules.register_tool(db, request[USER], org.id, found)
            else:
                await rules.unregister_tool(db, request[USER], org.id, found)
        except MembershipError as refused:
            error: str | None = refused.message
        else:
            error = None
    if error is not None:
        await flash(request, error, "error")
    elif register:
        await flash(request, _("%(tool)s is registered. Now choose who may use it on the "
                               "employee list.", tool=found.name), "success")
    else:
        await flash(request, _("%(tool)s is unregistered; nobody in the organisation can use "
                               "it any more.", tool=found.name), "success")
    raise redirect(f"/org/{org.id}/tools")


@requires(Access.MANAGER)
async def register(request: web.Request) -> web.Response:
    return await _registration(request, True)


@requires(Access.MANAGER)
async def unregister(request: web.Request) -> web.Response:
    return await _registration(request, False)


@requires(Access.EMPLOYEE)
async def landing(request: web.Request) -> web.Response:
    """The tool, used for this organisation (the tools themselves live elsewhere)."""
    found = tool_or_404(request)
    mine = request[MEMBERSHIP]
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        offered = await rules.organisation_offers(db, org.id, found)
        granted = found.code in await rules.tool_access_of(db, mine.id)
    if not offered or not granted:
        reason = (_("%(org)s has not registered %(tool)s. A manager of the organisation can "
                    "register it on the organisation's tools page.", org=org.name,
                    tool=found.name) if not offered else
                  _("You have no access to %(tool)s for %(org)s. Ask a manager of the "
                    "organisation to give you access.", org=org.name, tool=found.name))
        return await render(request, "tools/refused.html", {
            "tool": found, "org": org, "reason": reason}, status=403)
    if found.requires_eid and request[AUTH_METHOD] != "eid":
        await flash(request, _("%(tool)s handles sensitive data: log in with your eID card to "
                               "use it.", tool=found.name), "info")
        raise redirect(f"/login/eid?next={quote(request.path_qs, safe='')}")
    session = await get_session(request)
    remembered = session.get(LAST_ORG)
    remembered = dict(remembered) if isinstance(remembered, dict) else {}
    remembered[found.code] = org.id
    session[LAST_ORG] = remembered
    return await render(request, "tools/landing.html", {
        "tool": found, "org": org})


def setup(app: web.Application) -> None:
    code = "{code:[a-z0-9]{1,32}}"
    app.router.add_get("/tools", catalogue, name="tools")
    app.router.add_get(f"/tools/{code}", enter, name="tool_enter")
    app.router.add_get("/org/{org_id}/tools", organisation_tools, name="organisation_tools")
    app.router.add_post(f"/org/{{org_id}}/tools/{code}/register", register)
    app.router.add_post(f"/org/{{org_id}}/tools/{code}/unregister", unregister)
    app.router.add_get(f"/org/{{org_id}}/tools/{code}", landing, name="tool_landing")
