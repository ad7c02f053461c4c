"""The monthly invoice run: per organisation the month's debits, gap-free numbers per year
(also with two runs at once), idempotent, a PDF with seller, buyer, VAT and totals; the
managers' invoice list, the administrators' button and the command line."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from tests.portal.test_wallet_history import logged_in, spend, top_up, wallet_owner
from tests.portal.test_wallet_pdf import pdf_text
from tests.portal_harness import Portal
from webclient.portal.__main__ import main
from webclient.portal.db import transaction
from webclient.portal.models import Invoice, JournalEntry, Organisation, UserRole
from webclient.portal.wallet.invoices import PeriodError, parse_period, run_month

MARCH = (2026, 3)
ISSUED = datetime(2026, 4, 1, 6, tzinfo=UTC)


async def march_debits(portal: Portal, org: Organisation, *cents: int,
                       product: str = "cadastrefinder") -> None:
    await top_up(portal, org.id, 100000, f"t-{org.id}-{product}",
                 datetime(2026, 3, 1, 8, tzinfo=UTC))
    for n, amount in enumerate(cents):
        await spend(portal, org.id, amount, product, f"d-{org.id}-{product}-{n}",
                    datetime(2026, 3, 10 + n, 8, tzinfo=UTC))


async def invoices(portal: Portal) -> list[Invoice]:
    async with transaction(portal.db) as db:
        return list(await db.scalars(select(Invoice).order_by(Invoice.sequence)))


async def test_month_run_invoices_each_organisation_once_with_vat(portal: Portal) -> None:
    _m1, first = await wallet_owner(portal)
    _m2, second = await wallet_owner(portal, "boss", number="0202239951", name="Bâtir SRL",
                                     language="fr")
    _m3, idle = await wallet_owner(portal, "idle", number="0417497106", name="Idle")
    await march_debits(portal, first, 1210, 2420)
    await march_debits(portal, first, 605, product="bceacp")
    await march_debits(portal, second, 12100)
    await top_up(portal, idle.id, 5000, "idle-topup", datetime(2026, 3, 5, tzinfo=UTC))
    # Before and after the month (Brussels time): not on March's invoice.
    await spend(portal, first.id, 100, "bceacp", "feb", datetime(2026, 2, 28, 22, 59,
                                                                     tzinfo=UTC))
    april = await spend(portal, first.id, 100, "bceacp", "apr",
                        datetime(2026, 3, 31, 22, 30, tzinfo=UTC))

    result = await run_month(portal.db, portal.settings, *MARCH, now=ISSUED)
    assert [(i.organisation_id, i.number) for i in result.issued] == [
        (first.id, "2026-000001"), (second.id, "2026-000002")]
    assert result.already == 0
    one, two = await invoices(portal)
    # 12.10 + 24.20 + 6.05 including 21 % VAT = 35.00 net + 7.35 VAT.
    assert (one.net, one.vat, one.total, one.period) == (3500, 735, 4235, "2026-03")
    assert (two.net, two.vat, two.total) == (10000, 2100, 12100)
    async with transaction(portal.db) as db:
        linked = await db.scalar(select(func.count()).where(JournalEntry.invoice_id == one.id))
        assert linked == 3
        assert (await db.get(JournalEntry, april.id)).invoice_id is None  # type: ignore[union-attr]

    assert one.pdf is not None
    text = pdf_text(one.pdf)
    for phrase in ("Invoice 2026-000001", portal.settings.seller_name,
                   portal.settings.seller_vat, "Immo Test SRL", "0403.170.701",
                   "Services of March 2026", "CadastreFinder", "BCE ACP",
                   "21 %", "€35.00", "€7.35", "€42.35",
                   "Already paid from your prepaid wallet: €42.35. Nothing to pay."):
        assert phrase in text, phrase
    assert two.pdf is not None
    french = pdf_text(two.pdf)  # the language of the organisation's manager
    for phrase in ("Facture 2026-000002", "Bâtir SRL", "0202.239.951", "mars 2026",
                   "Total TVA comprise", "121,00 €", "Déjà payé avec votre portefeuille"):
        assert phrase in french, phrase

    again = await run_month(portal.db, portal.settings, *MARCH, now=ISSUED)
    assert again.issued == []
    assert again.already == 2
    assert len(await invoices(portal)) == 2


async def test_two_runs_at_once_leave_no_gap_and_no_duplicate(portal: Portal) -> None:
    orgs = []
    numbers = ["0403170701", "0202239951", "0417497106", "0200065765", "0207446170"]
    for n, number in enumerate(numbers):
        _manager, org = await wallet_owner(portal, f"manager{n}", number=number,
                                           name=f"Org {n}")
        await march_debits(portal, org, 1000 + n)
        orgs.append(org)
    results = await asyncio.gather(*(run_month(portal.db, portal.settings, *MARCH, now=ISSUED)
                                     for _ in range(3)))
    assert sum(len(r.issued) for r in results) == len(orgs)
    assert sum(r.already for r in results) == 2 * len(orgs)
    issued = await invoices(portal)
    assert [i.sequence for i in issued] == [1, 2, 3, 4, 5]
    assert sorted(i.organisation_id for i in issued) == sorted(o.id for o in orgs)
    # A later month continues the same year's numbering.
    for n, org in enumerate(orgs[:2]):
        await spend(portal, org.id, 100, "bceacp", f"apr-{n}", datetime(2026, 4, 3, tzinfo=UTC))
    later = await run_month(portal.db, portal.settings, 2026, 4,
                            now=datetime(2026, 5, 1, 6, tzinfo=UTC))
    assert [i.number for i in later.issued] == ["2026-000006", "2026-000007"]


def test_period_must_be_a_finished_month() -> None:
    today = date(2026, 4, 15)
    assert parse_period("2026-03", today) == (2026, 3)
    assert parse_period("2025-12", today) == (2025, 12)
    for bad in ("2026-04", "2027-01", "2026-13", "2026-3", "march", "", "1999-12"):
        with pytest.raises(PeriodError):
            parse_period(bad, today)


async def test_managers_list_and_download_their_invoices_only(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    _boss, other = await wallet_owner(portal, "boss", number="0202239951", name="Autre")
    await march_debits(portal, org, 1210)
    await march_debits(portal, other, 2420)
    await run_month(portal.db, portal.settings, *MARCH, now=ISSUED)
    mine, theirs = await invoices(portal)
    visitor = await logged_in(portal)
    page = await (await visitor.get(f"/org/{org.id}/wallet/invoices")).text()
    assert mine.number in page
    assert theirs.number not in page
    response = await visitor.get(f"/org/{org.id}/wallet/invoices/{mine.id}.pdf")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="invoice-{mine.number}.pdf"')
    assert await response.read() == mine.pdf
    for path in (f"/org/{org.id}/wallet/invoices/{theirs.id}.pdf",
                 f"/org/{other.id}/wallet/invoices/{theirs.id}.pdf",
                 f"/org/{org.id}/wallet/invoices/424242.pdf"):
        assert (await visitor.get(path)).status == 404, path


async def test_admin_button_runs_a_month(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    await portal.make_user("admin", role=UserRole.ADMIN)
    await march_debits(portal, org, 1210)
    manager = await logged_in(portal)
    assert (await manager.post("/admin/invoices/run", {"month": "2026-03"})).status == 403
    assert (await manager.get("/admin/invoices")).status == 403
    admin = await logged_in(portal, "admin", visitor=portal.browser())
    page = await (await admin.get("/admin/invoices")).text()
    assert 'name="month"' in page
    for bad in ("2026-3", "next month", "2999-01"):
        response = await admin.post("/admin/invoices/run", {"month": bad})
        assert response.status == 303
        page = await (await admin.get("/admin/invoices")).text()
        assert "Give the month as YYYY-MM" in page or "only once it is over" in page
    assert await invoices(portal) == []
    response = await admin.post("/admin/invoices/run", {"month": "2026-03"})
    assert response.status == 303
    page = await (await admin.get("/admin/invoices")).text()
    assert "1 invoice issued." in page
    assert "Immo Test SRL" in page
    await admin.post("/admin/invoices/run", {"month": "2026-03"})
    page = await (await admin.get("/admin/invoices")).text()
    assert "0 invoices issued. 1 organisation already had its invoice" in page
    assert len(await invoices(portal)) == 1


async def test_command_line_runs_a_month(
    sqlite_portal: Portal, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    portal = sqlite_portal
    _manager, org = await wallet_owner(portal)
    await march_debits(portal, org, 1210)
    monkeypatch.setenv("PORTAL_DATABASE_URL", portal.settings.database_url)
    assert await asyncio.to_thread(main, ["invoice-month", "2026-03"]) == 0
    assert "1 invoice(s) issued for 2026-03" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["invoice-month", "2026-03"]) == 0
    assert "0 invoice(s) issued for 2026-03, 1 organisation(s) already" in (
        capsys.readouterr().out)
    assert await asyncio.to_thread(main, ["invoice-month", "26-03"]) == 2
    assert len(await invoices(portal)) == 1


pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None and not os.environ.get("CI"),
                                reason="pdftotext missing (Debian package poppler-utils)")
