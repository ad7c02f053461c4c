"""The monthly invoice run: per organisation, the services paid from its wallet in a month.

One invoice per (organisation, month), numbered without gaps within the year of issue: the
year's :class:`InvoiceCounter` row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on
SQLite the transaction holds the write lock from BEGIN) and incremented in the invoice's
own transaction, so a failed invoice gives its number back and two runs at once queue.
Running a month again issues nothing twice: an existing invoice is seen under that lock.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fpdf.enums import XPos, YPos
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webclient.portal.db import make_engine, make_sessionmaker, transaction, utcnow
from webclient.portal.i18n import N_, date_text, money, using_language
from webclient.portal.i18n import gettext as _
from webclient.portal.models import (
    EntryKind,
    Invoice,
    InvoiceCounter,
    JournalEntry,
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    User,
)
from webclient.portal.organisations import format_enterprise_number
from webclient.portal.settings import PortalSettings
from webclient.portal.wallet.history import BRUSSELS, product_label
from webclient.portal.wallet.ledger import split_vat
from webclient.portal.wallet.vouchers import FONT, document, line

log = logging.getLogger("webclient.portal.invoices")

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
DEFAULT_VAT_RATE = 21


class PeriodError(ValueError):
    """A month that cannot be invoiced; ``str()`` is the message for the user."""


def parse_period(raw: str, today: date | None = None) -> tuple[int, int]:
    """``YYYY-MM`` of a month that is over (its debits can no longer change)."""
    found = _PERIOD.match(raw.strip())
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        raise PeriodError(_("Give the month as YYYY-MM, e.g. 2026-03."))
    year, month = int(found.group(1)), int(found.group(2))
    today = today or utcnow().astimezone(BRUSSELS).date()
    if (year, month) >= (today.year, today.month):
        raise PeriodError(_("A month can be invoiced only once it is over."))
    return year, month


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The month in Brussels time, as UTC instants [start, end)."""
    start = datetime(year, month, 1, tzinfo=BRUSSELS)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=BRUSSELS)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass
class InvoiceLine:
    product: str
    vat_rate: int
    count: int = 0
    net: int = 0
    vat: int = 0

    @property
    def total(self) -> int:
        return self.net + self.vat


def invoice_lines(entries: list[JournalEntry]) -> list[InvoiceLine]:
    """Debits grouped per product and VAT rate; net and VAT as the ledger split them."""
    grouped: dict[tuple[str, int], InvoiceLine] = {}
    for entry in entries:
        gross = -entry.amount
        details: dict[str, Any] = entry.details or {}
        rate = int(details.get("vat_rate", DEFAULT_VAT_RATE))
        if "net" in details and "vat" in details:
            net, vat = int(details["net"]), int(details["vat"])
        else:
            net, vat = split_vat(gross, rate)
        key = (entry.product or "", rate)
        found = grouped.setdefault(key, InvoiceLine(key[0], rate))
        found.count += 1
        found.net += net
        found.vat += vat
    return sorted(grouped.values(), key=lambda item: (product_label(item.product), item.vat_rate))


@dataclass
class RunResult:
    issued: list[Invoice] = field(default_factory=list)
    already: int = 0
    """Organisations of the month that already had their invoice."""


async def _ensure_counter(maker: async_sessionmaker[AsyncSession], year: int) -> None:
    try:
        async with transaction(maker) as db:
            if await db.get(InvoiceCounter, year) is None:
                db.add(InvoiceCounter(year=year, last=0))
    except IntegrityError:
        pass  # another run created it at the same moment: that is all we wanted


async def _language_of(db: AsyncSession, organisation_id: int) -> str:
    """The invoice speaks the language of the organisation's first manager."""
    language = await db.scalar(
        select(User.language)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == organisation_id,
            Membership.role == MembershipRole.MANAGER,
            Membership.status == MembershipStatus.CONFIRMED,
        )
        .order_by(Membership.id)
        .limit(1)
    )
    return language or "fr"


async def invoice_organisation(
    maker: async_sessionmaker[AsyncSession],
    settings: PortalSettings,
    organisation_id: int,
    year: int,
    month: int,
    now: datetime | None = None,
) -> Invoice | None:
    """Issue the organisation's invoice for the month; None if it has one or owes nothing."""
    now = now or utcnow()
    issue_year = now.astimezone(BRUSSELS).year
    period = f"{year:04d}-{month:02d}"
    start, end = month_bounds(year, month)
    await _ensure_counter(maker, issue_year)
    async with transaction(maker) as db:
        counter = await db.scalar(
            select(InvoiceCounter)
            .where(InvoiceCounter.year == issue_year)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert counter is not None
        # Read after taking the lock: a run that got there first has committed by now.
        if await db.scalar(select(Invoice.id).where(
            Invoice.organisation_id == organisation_id, Invoice.period == period
        )) is not None:
            return None
        entries = list(await db.scalars(
            select(JournalEntry)
            .where(
                JournalEntry.organisation_id == organisation_id,
                JournalEntry.kind == EntryKind.DEBIT,
                JournalEntry.created_at >= start,
                JournalEntry.created_at < end,
                JournalEntry.invoice_id.is_(None),
            )
            .order_by(JournalEntry.created_at, JournalEntry.id)
        ))
        if not entries:
            return None
        organisation = await db.get(Organisation, organisation_id)
        assert organisation is not None
        lines = invoice_lines(entries)
        counter.last += 1
        invoice = Invoice(
            organisation_id=organisation_id,
            period=period,
            year=issue_year,
            sequence=counter.last,
            number=f"{issue_year}-{counter.last:06d}",
            issued_at=now,
            net=sum(item.net for item in lines),
            vat=sum(item.vat for item in lines),
            total=sum(item.total for item in lines),
        )
        db.add(invoice)
        await db.flush()
        await db.execute(
            update(JournalEntry)
            .where(JournalEntry.id.in_([entry.id for entry in entries]))
            .values(invoice_id=invoice.id)
            .execution_options(synchronize_session=False)
        )
        language = await _language_of(db, organisation_id)
        invoice.pdf = invoice_pdf(invoice, organisation, lines, settings, language)
    log.info("invoice %s issued to organisation %s for %s", invoice.number, organisation_id,
             period)
    return invoice


async def run_month(
    maker: async_sessionmaker[AsyncSession],
    settings: PortalSettings,
    year: int,
    month: int,
    now: datetime | None = None,
) -> RunResult:
    """Invoice every organisation that paid for services in the month (each in its own
    transaction: one organisation's failure leaves the others' invoices standing)."""
    start, end = month_bounds(year, month)
    async with transaction(maker) as db:
        organisations = list(await db.scalars(
            select(JournalEntry.organisation_id)
            .where(
                JournalEntry.kind == EntryKind.DEBIT,
                JournalEntry.created_at >= start,
                JournalEntry.created_at < end,
            )
            .distinct()
            .order_by(JournalEntry.organisation_id)
        ))
    result = RunResult()
    for organisation_id in organisations:
        invoice = await invoice_organisation(maker, settings, organisation_id, year, month, now)
        if invoice is None:
            result.already += 1
        else:
            result.issued.append(invoice)
    return result


# -- the PDF ----------------------------------------------------------------------------------

_MONTHS = (
    N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"),
    N_("July"), N_("August"), N_("September"), N_("October"), N_("November"), N_("December"),
)


def period_text(period: str) -> str:
    year, month = period.split("-")
    return f"{_(_MONTHS[int(month) - 1])} {year}"


def invoice_pdf(
    invoice: Invoice,
    organisation: Organisation,
    lines: list[InvoiceLine],
    settings: PortalSettings,
    language: str,
) -> bytes:
    with using_language(language):
        title = _("Invoice %(number)s", number=invoice.number)
        pdf = document(title)
        line(pdf, settings.seller_name, size=12, bold=True)
        line(pdf, settings.seller_address)
        line(pdf, _("VAT number: %(number)s", number=settings.seller_vat))
        pdf.ln(6)
        line(pdf, title, size=18, bold=True, height=10)
        line(pdf, _("Date: %(date)s", date=date_text(invoice.issued_at.astimezone(BRUSSELS),
                                                          "long")))
        line(pdf, _("Services of %(month)s", month=period_text(invoice.period)))
        pdf.ln(4)
        line(pdf, _("Customer"), bold=True)
        line(pdf, organisation.name)
        line(pdf, f"{organisation.street}, {organisation.postcode} {organisation.city}")
        line(pdf, _("Enterprise number: %(number)s",
                    number=format_enterprise_number(organisation.enterprise_number)))
        pdf.ln(6)
        widths = (62, 14, 30, 20, 28, 30)
        headers = (_("Product"), _("Qty"), _("Net"), _("VAT %"), _("VAT"), _("Total"))
        pdf.set_font(FONT, "B", 9)
        for width, text in zip(widths, headers, strict=True):
            pdf.cell(width, 7, text, border="B", align="L" if width == widths[0] else "R")
        pdf.ln()
        pdf.set_font(FONT, "", 9)
        for item in lines:
            cells = (product_label(item.product) or _("Other services"), str(item.count),
                     money(item.net), f"{item.vat_rate} %", money(item.vat), money(item.total))
            for width, text in zip(widths, cells, strict=True):
                pdf.cell(width, 7, text, align="L" if width == widths[0] else "R")
            pdf.ln()
        pdf.ln(3)
        for label, amount, bold in ((_("Total excluding VAT"), invoice.net, False),
                                    (_("VAT"), invoice.vat, False),
                                    (_("Total including VAT"), invoice.total, True)):
            pdf.set_font(FONT, "B" if bold else "", 10)
            pdf.cell(sum(widths[:-1]), 7, label, align="R")
            pdf.cell(widths[-1], 7, money(amount), align="R", new_x=XPos.LMARGIN,
                     new_y=YPos.NEXT)
        pdf.ln(6)
        line(pdf, _("Already paid from your prepaid wallet: %(amount)s. Nothing to pay.",
                    amount=money(invoice.total)), bold=True)
        if any(item.vat_rate == 0 for item in lines):
            line(pdf, _("Services at 0 % VAT are exempt."), size=8)
        return bytes(pdf.output())


def invoice_month_command(settings: PortalSettings, month: str) -> int:
    """``python -m webclient.portal invoice-month YYYY-MM`` (e.g. from cron on the 1st)."""
    try:
        year, number = parse_period(month)
    except PeriodError as error:
        print(f"portal: {error}", file=sys.stderr)
        return 2

    async def run() -> RunResult:
        engine = make_engine(settings.database_url)
        try:
            return await run_month(make_sessionmaker(engine), settings, year, number)
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    for invoice in result.issued:
        print(f"{invoice.number}\torganisation {invoice.organisation_id}\t{invoice.total} cents")
    print(f"{len(result.issued)} invoice(s) issued for {year:04d}-{number:02d}, "
          f"{result.already} organisation(s) already invoiced")
    return 0
