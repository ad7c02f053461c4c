"""The administrator's bank page: import CODA statements, hand the transfers that named no
wallet to the right organisation (or set them aside)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import func, or_, select

from webclient.portal.access import Access, current_user, parse_id, path_id, requires
from webclient.portal.db import transaction
from webclient.portal.i18n import gettext as _
from webclient.portal.i18n import money
from webclient.portal.keys import DB, SETTINGS
from webclient.portal.models import BankMovement, BankStatement, Organisation
from webclient.portal.pages import flash, read_form, redirect, render
from webclient.portal.wallet.communication import display
from webclient.portal.wallet.transfers import (
    MAX_CODA_BYTES,
    AlreadyImported,
    CodaError,
    ImportResult,
    MovementNotOpen,
    WrongAccount,
    assign_movement,
    ignore_movement,
    import_coda,
)

log = logging.getLogger("webclient.portal.admin")

STATEMENTS_SHOWN = 20
UNMATCHED_SHOWN = 200


async def _page(request: web.Request, *, error: str | None = None,
                result: ImportResult | None = None, status: int = 200,
                detail: str | None = None) -> web.Response:
    async with transaction(request.app[DB]) as db:
        statements = list(await db.scalars(
            select(BankStatement).order_by(BankStatement.imported_at.desc(),
                                           BankStatement.id.desc()).limit(STATEMENTS_SHOWN)))
        unmatched = list(await db.scalars(
            select(BankMovement).where(BankMovement.status == "unmatched")
            .order_by(BankMovement.value_date, BankMovement.id).limit(UNMATCHED_SHOWN)))
        unmatched_count = await db.scalar(
            select(func.count()).select_from(BankMovement)
            .where(BankMovement.status == "unmatched"))
    return await render(request, "admin/bank.html", {
        "statements": statements, "unmatched": unmatched, "unmatched_count": unmatched_count,
        "error": error, "detail": detail, "result": result,
        "bank_iban": request.app[SETTINGS].bank_iban,
        "display_communication": display, "max_mb": MAX_CODA_BYTES // (1024 * 1024),
    }, status=status)


@requires(Access.ADMIN)
async def bank_page(request: web.Request) -> web.Response:
    return await _page(request)


@requires(Access.ADMIN)
async def bank_import(request: web.Request) -> web.Response:
    form: MultiDictProxy[Any] = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return await _page(request, error=_("Choose a CODA file to import."), status=400)
    data = upload.file.read(MAX_CODA_BYTES + 1)
    user = current_user(request)
    try:
        async with transaction(request.app[DB]) as db:
            result = await import_coda(db, data, bank_iban=request.app[SETTINGS].bank_iban,
                                       actor_id=user.id if user else None)
    except AlreadyImported:
        return await _page(request, status=409, error=_(
            "This file was already imported; nothing was credited again."))
    except WrongAccount as exc:
        return await _page(request, status=400, error=_(
            "This file cannot be imported: it is a statement of account %(found)s, not of the "
            "portal's account %(expected)s. Nothing was changed. Import the statements of "
            "%(expected)s.", found=exc.found, expected=exc.expected))
    except CodaError as exc:
        log.info("CODA import refused: %s", exc)
        return await _page(request, status=400, error=_(
            "This file cannot be imported: it is not a valid CODA statement. Nothing was "
            "changed. Download the statement again from the bank in CODA format and retry."),
            detail=str(exc))
    return await _page(request, result=result)


@requires(Access.ADMIN)
async def assign_form(request: web.Request) -> web.Response:
    movement, organisations = await _movement_and_search(request, request.query.get("q", ""))
    return await render(request, "admin/bank_assign.html", {
        "movement": movement, "organisations": organisations,
        "query": request.query.get("q", ""), "display_communication": display, "error": None,
    })


async def _movement_and_search(request: web.Request, query: str
                               ) -> tuple[BankMovement, list[Organisation]]:
    movement_id = path_id(request, "movement_id")
    query = query.strip()[:100]
    async with transaction(request.app[DB]) as db:
        movement = await db.get(BankMovement, movement_id)
        if movement is None:
            raise web.HTTPNotFound()
        organisations: list[Organisation] = []
        if query:
            digits = "".join(ch for ch in query if ch.isdigit())
            conditions = [Organisation.name.ilike(f"%{query}%")]
            if len(digits) >= 4:
                conditions.append(Organisation.enterprise_number.like(f"%{digits}%"))
            organisations = list(await db.scalars(
                select(Organisation).where(or_(*conditions)).order_by(Organisation.name)
                .limit(20)))
    return movement, organisations


@requires(Access.ADMIN)
async def assign(request: web.Request) -> web.Response:
    form = await read_form(request)
    movement_id = path_id(request, "movement_id")
    user = current_user(request)
    action = form.get("action", "assign")
    try:
        async with transaction(request.app[DB]) as db:
            movement = await db.get(BankMovement, movement_id)
            if movement is None:
                raise web.HTTPNotFound()
            if action == "ignore":
                await ignore_movement(db, movement.id)
                message = _("The transfer of %(amount)s is set aside; no wallet was credited.",
                            amount=money(movement.amount))
            else:
                organisation_id = parse_id(form.get("organisation_id", ""))
                if organisation_id is None:
                    raise LookupError(form.get("organisation_id", ""))
                await assign_movement(db, movement.id, organisation_id,
                                      user.id if user else None)
                organisation = await db.get(Organisation, organisation_id)
                assert organisation is not None
                message = _("%(amount)s credited to the wallet of %(name)s.",
                            amount=money(movement.amount), name=organisation.name)
    except MovementNotOpen:
        await flash(request, _("This transfer was already handled (perhaps by another "
                               "administrator). Nothing was changed."), "error")
        raise redirect("/admin/bank") from None
    except LookupError:
        movement, organisations = await _movement_and_search(request, "")
        return await render(request, "admin/bank_assign.html", {
            "movement": movement, "organisations": organisations, "query": "",
            "display_communication": display,
            "error": _("Choose the organisation to credit from the search results."),
        }, status=400)
    await flash(request, message, "success")
    raise redirect("/admin/bank")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/bank", bank_page, name="admin_bank")
    app.router.add_post("/admin/bank", bank_import)
    app.router.add_get("/admin/bank/movements/{movement_id}", assign_form,
                       name="admin_bank_movement")
    app.router.add_post("/admin/bank/movements/{movement_id}", assign)
