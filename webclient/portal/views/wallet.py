"""The wallet's pages for managers: transactions, CSV export, vouchers, invoices; and the
administrators' monthly invoice run. (Top-ups are in ``wallet_topup``.)"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import select

from webclient.portal.access import USER, Access, path_id, requires
from webclient.portal.catalogue import TOOLS
from webclient.portal.db import transaction, utcnow
from webclient.portal.i18n import LANGUAGE, ngettext
from webclient.portal.keys import DB, SETTINGS
from webclient.portal.models import EntryKind, Invoice, JournalEntry, Organisation
from webclient.portal.pages import flash, pdf_response, read_form, redirect, render
from webclient.portal.wallet import history, ledger
from webclient.portal.wallet.history import BRUSSELS
from webclient.portal.wallet.invoices import PeriodError, parse_period, run_month
from webclient.portal.wallet.vouchers import voucher_pdf

log = logging.getLogger("webclient.portal.wallet")


async def _organisation(request: web.Request) -> Organisation:
    async with transaction(request.app[DB]) as db:
        found = await db.get(Organisation, path_id(request, "org_id"))
    if found is None:
        raise web.HTTPNotFound()
    return found


def _separator(request: web.Request) -> str:
    return history.SEPARATORS.get(request.query.get("sep", ";"), ";")


@requires(Access.MANAGER)
async def wallet_page(request: web.Request) -> web.Response:
    query, problems = history.parse_query(request.query)
    org_id = path_id(request, "org_id")
    async with transaction(request.app[DB]) as db:
        org = await db.get(Organisation, org_id)
        if org is None:
            raise web.HTTPNotFound()
        balance = await ledger.balance(db, org_id)
        page = await history.page_of(db, org_id, query)
    base = f"/org/{org_id}/wallet"
    return await render(request, "wallet/index.html", {
        "org": org,
        "balance": balance,
        "page": page,
        "query": page.query,
        "problems": problems + page.problems,
        "base": base,
        "kinds": [(kind.value, history.kind_label(kind)) for kind in EntryKind],
        "products": [(item.code, item.name) for item in TOOLS],
        "sizes": history.PAGE_SIZES,
        "kind_label": history.kind_label,
        "product_label": history.product_label,
        "export_url": page.query.url(f"{base}/export.csv", page=1, page_size=25),
    })


@requires(Access.MANAGER)
async def export_csv(request: web.Request) -> web.StreamResponse:
    """The filtered set as CSV, written while it is read (flat memory, any row count)."""
    query, _problems = history.parse_query(request.query)
    separator = _separator(request)
    org = await _organisation(request)
    stamp = utcnow().astimezone(BRUSSELS).strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": (
            f'attachment; filename="wallet-{org.enterprise_number}-{stamp}.csv"'
        ),
        "Cache-Control": "no-store",
    })
    await response.prepare(request)
    writer = history.CsvWriter(separator)
    await response.write(writer.header().encode("utf-8"))
    async for rows in history.export_rows(request.app[DB], org.id, query):
        await response.write(writer.rows(rows).encode("utf-8"))
    await response.write_eof()
    return response


@requires(Access.MANAGER)
async def voucher(request: web.Request) -> web.Response:
    entry_id, org_id = path_id(request, "entry_id"), path_id(request, "org_id")
    async with transaction(request.app[DB]) as db:
        entry = await db.scalar(select(JournalEntry).where(
            JournalEntry.id == entry_id, JournalEntry.organisation_id == org_id))
        org = await db.get(Organisation, org_id)
    if entry is None or org is None:
        raise web.HTTPNotFound()
    body = voucher_pdf(entry, org, request.get(LANGUAGE, "fr"))
    return pdf_response(body, f"voucher-{entry.reference}.pdf", download=True)


@requires(Access.MANAGER)
async def invoices_page(request: web.Request) -> web.Response:
    org_id = path_id(request, "org_id")
    async with transaction(request.app[DB]) as db:
        org = await db.get(Organisation, org_id)
        rows = list(await db.scalars(
            select(Invoice).where(Invoice.organisation_id == org_id)
            .order_by(Invoice.year.desc(), Invoice.sequence.desc())))
    if org is None:
        raise web.HTTPNotFound()
    return await render(request, "wallet/invoices.html", {"org": org, "invoices": rows})


@requires(Access.MANAGER)
async def invoice_download(request: web.Request) -> web.Response:
    invoice_id = path_id(request, "invoice_id")
    async with transaction(request.app[DB]) as db:
        invoice = await db.scalar(select(Invoice).where(
            Invoice.id == invoice_id, Invoice.organisation_id == path_id(request, "org_id")))
    if invoice is None or invoice.pdf is None:
        raise web.HTTPNotFound()
    return pdf_response(invoice.pdf, f"invoice-{invoice.number}.pdf", download=True)


def _previous_month() -> str:
    today = utcnow().astimezone(BRUSSELS).date()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


@requires(Access.ADMIN)
async def admin_invoices(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        rows = (await db.execute(
            select(Invoice, Organisation.name)
            .join(Organisation, Organisation.id == Invoice.organisation_id)
            .order_by(Invoice.year.desc(), Invoice.sequence.desc())
            .limit(50))).all()
    return await render(request, "wallet/admin_invoices.html",
                        {"rows": rows, "month": _previous_month()})


@requires(Access.ADMIN)
async def admin_run_invoices(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        year, month = parse_period(form.get("month", ""))
    except PeriodError as error:
        await flash(request, str(error), "error")
        raise redirect("/admin/invoices") from None
    result = await run_month(request.app[DB], request.app[SETTINGS], year, month)
    log.info("invoice run %04d-%02d by user %s: %d issued, %d already", year, month,
             request[USER].id, len(result.issued), result.already)
    await flash(request, ngettext(
        "%(num)s invoice issued.", "%(num)s invoices issued.", len(result.issued)) + " " +
        ngettext("%(num)s organisation already had its invoice for this month.",
                 "%(num)s organisations already had their invoice for this month.",
                 result.already), "success")
    raise redirect("/admin/invoices")


def setup(app: web.Application) -> None:
    app.router.add_get("/org/{org_id}/wallet", wallet_page, name="wallet")
    app.router.add_get("/org/{org_id}/wallet/export.csv", export_csv, name="wallet_export")
    app.router.add_get(r"/org/{org_id}/wallet/vouchers/{entry_id:\d+}.pdf", voucher,
                       name="wallet_voucher")
    app.router.add_get("/org/{org_id}/wallet/invoices", invoices_page, name="wallet_invoices")
    app.router.add_get(r"/org/{org_id}/wallet/invoices/{invoice_id:\d+}.pdf",
                       invoice_download, name="wallet_invoice_pdf")
    app.router.add_get("/admin/invoices", admin_invoices, name="admin_invoices")
    app.router.add_post("/admin/invoices/run", admin_run_invoices, name="admin_invoices_run")

