"""BCE ACP back office: the enterprise counter's staff work the queue of filed requests.

Reuses the HELPDESK role (helpdesk staff and admins): the in-portal counter is run by the
portal operator's own staff, who already see support requests; a separate role would add a
role nobody else uses. Staff see the full national register / BIS numbers (unsealed for the
page only, never logged): the counter needs them to register the syndic.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from webclient.portal.access import USER, Access, path_id, requires
from webclient.portal.db import transaction
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB, SETTINGS
from webclient.portal.models import Organisation, User
from webclient.portal.models.syndic import RequestStatus, SyndicRequest
from webclient.portal.pages import flash, read_form, redirect, render
from webclient.portal.syndic import requests as service
from webclient.portal.views.syndic import _events, notify, stored_document, template_values

BASE = "/backoffice/bceacp"


async def _item(db: Any, request: web.Request) -> SyndicRequest:
    item: SyndicRequest | None = await db.get(SyndicRequest, path_id(request, "request_id"))
    if item is None or item.status is RequestStatus.DRAFT:
        raise web.HTTPNotFound()  # drafts are the organisation's business only
    return item


@requires(Access.HELPDESK)
async def queue(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        waiting = (await db.execute(select(SyndicRequest, Organisation).join(
            Organisation, Organisation.id == SyndicRequest.organisation_id).where(
            SyndicRequest.status == RequestStatus.SUBMITTED).order_by(
            SyndicRequest.submitted_at))).all()
        decided = (await db.execute(select(SyndicRequest, Organisation).join(
            Organisation, Organisation.id == SyndicRequest.organisation_id).where(
            SyndicRequest.status.in_([RequestStatus.REGISTERED, RequestStatus.REJECTED]))
            .order_by(SyndicRequest.decided_at.desc()).limit(100))).all()
    return await render(request, "syndic/bo_queue.html", {
        "waiting": waiting, "decided": decided, **template_values()})


@requires(Access.HELPDESK)
async def detail(request: web.Request) -> web.Response:
    secret = request.app[SETTINGS].require_secret()
    async with transaction(request.app[DB]) as db:
        item = await _item(db, request)
        org = await db.get(Organisation, item.organisation_id)
        requester = await db.get(User, item.submitted_by) if item.submitted_by else None
        events = await _events(db, item.id)
    numbers = {"syndic": service.unseal_number(secret, item, "syndic_person"),
               "representative": service.unseal_number(secret, item, "representative")}
    return await render(request, "syndic/bo_detail.html", {
        "item": item, "org": org, "requester": requester, "events": events,
        "numbers": numbers, "error": None, **template_values()})


@requires(Access.HELPDESK)
async def document(request: web.Request) -> web.Response:
    which = request.match_info["which"]
    async with transaction(request.app[DB]) as db:
        item = await _item(db, request)
    return stored_document(item, which)


async def _decide(request: web.Request, registered: bool) -> web.Response:
    form = await read_form(request)
    async with transaction(request.app[DB]) as db:
        item = await _item(db, request)
        try:
            await service.decide(db, item, request[USER], registered=registered,
                                 reason=form.get("reason", ""))
        except service.RequestError as refused:
            error: str | None = refused.message
        else:
            error = None
        requester = await db.get(User, item.submitted_by) if item.submitted_by else None
    if error is not None:
        await flash(request, error, "error")
        raise redirect(f"{BASE}/{item.id}")
    sent = requester is None or await notify(
        request.app, item, requester, "syndic_registered" if registered else "syndic_rejected")
    text = (_("Request no. %(id)s is marked registered.", id=item.id) if registered
            else _("Request no. %(id)s is rejected.", id=item.id))
    if not sent:
        text += " " + _("The requester could not be e-mailed; the decision is saved. Try "
                        "again later or phone them.")
    await flash(request, text, "success" if sent else "error")
    raise redirect(BASE)


@requires(Access.HELPDESK)
async def mark_registered(request: web.Request) -> web.Response:
    return await _decide(request, True)


@requires(Access.HELPDESK)
async def mark_rejected(request: web.Request) -> web.Response:
    return await _decide(request, False)


@requires(Access.ADMIN)
async def purge(request: web.Request) -> web.Response:
    """Delete the files whose 5-year retention is over (admins only)."""
    async with transaction(request.app[DB]) as db:
        count = await service.purge_expired(db, service.today_in_belgium())
    await flash(request, _("%(count)s expired files deleted.", count=count), "success")
    raise redirect(BASE)


def setup(app: web.Application) -> None:
    rid = "{request_id:[0-9]{1,11}}"
    app.router.add_get(BASE, queue, name="syndic_backoffice")
    app.router.add_get(f"{BASE}/{rid}", detail, name="syndic_backoffice_detail")
    app.router.add_get(f"{BASE}/{rid}/documents/{{which:act|revocation|signed}}.pdf", document)
    app.router.add_post(f"{BASE}/{rid}/register", mark_registered)
    app.router.add_post(f"{BASE}/{rid}/reject", mark_rejected)
    app.router.add_post(f"{BASE}/purge", purge)
