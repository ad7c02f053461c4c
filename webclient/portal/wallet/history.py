"""The wallet's transaction history: filters from the URL, one page of it, and the CSV export.

Everything is decided by the server from validated query parameters: a bad value is dropped
with a message, never a 500. Pages are offset-paginated on indexed orders
(``(organisation_id, created_at, id)`` and ``(organisation_id, amount, id)``); the export
walks the same order by keyset in short transactions of :data:`CHUNK` rows, so memory stays
flat and an export never holds SQLite's write lock (taken at BEGIN, see ``db.py``) for long.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, func, select, tuple_, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import TypeDecorator

from webclient.portal.catalogue import tool
from webclient.portal.db import transaction
from webclient.portal.i18n import N_
from webclient.portal.i18n import gettext as _
from webclient.portal.models.wallet import EntryKind, JournalEntry

BRUSSELS = ZoneInfo("Europe/Brussels")
SORTS = ("date", "amount")
ORDERS = ("desc", "asc")
PAGE_SIZES = (25, 50, 100)
CHUNK = 5000
"""Rows per export query: big enough to amortise a query, small enough to stay flat."""
MAX_PAGE = 10**7
_PRODUCT = re.compile(r"^[a-z0-9_-]{1,32}$")

KIND_LABELS: dict[EntryKind, str] = {
    EntryKind.TOPUP_ONLINE: N_("Online top-up"),
    EntryKind.TOPUP_TRANSFER: N_("Top-up by bank transfer"),
    EntryKind.DEBIT: N_("Payment for a service"),
    EntryKind.REFUND: N_("Refund"),
    EntryKind.ADJUSTMENT: N_("Adjustment"),
}


def kind_label(kind: EntryKind) -> str:
    return _(KIND_LABELS[kind])


def product_label(code: str | None) -> str:
    if not code:
        return ""
    known = tool(code)
    return known.name if known is not None else code


@dataclass(frozen=True)
class HistoryQuery:
    """What the manager asked to see; the defaults are the newest first, 25 a page."""

    kind: EntryKind | None = None
    product: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "date"
    order: str = "desc"
    page_size: int = 25
    page: int = 1

    def params(self, **changes: Any) -> dict[str, str]:
        """The URL parameters of this query (defaults left out) with ``changes`` applied."""
        query = replace(self, **changes)
        values = {
            "type": query.kind.value if query.kind else "",
            "product": query.product or "",
            "from": query.date_from.isoformat() if query.date_from else "",
            "to": query.date_to.isoformat() if query.date_to else "",
            "sort": query.sort if query.sort != "date" else "",
            "order": query.order if query.order != "desc" else "",
            "size": str(query.page_size) if query.page_size != 25 else "",
            "page": str(query.page) if query.page != 1 else "",
        }
        return {key: value for key, value in values.items() if value}

    def url(self, path: str, **changes: Any) -> str:
        params = self.params(**changes)
        return f"{path}?{urlencode(params)}" if params else path

    @property
    def filtered(self) -> bool:
        return any((self.kind, self.product, self.date_from, self.date_to))


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None


def parse_query(params: Mapping[str, str]) -> tuple[HistoryQuery, list[str]]:
    """The query from URL parameters, and a message for each value that had to be ignored."""
    problems: list[str] = []
    values: dict[str, Any] = {}

    def get(name: str) -> str:
        return str(params.get(name, "")).strip()[:64]

    if raw := get("type"):
        try:
            values["kind"] = EntryKind(raw)
        except ValueError:
            problems.append(_("Unknown transaction type; all types are shown."))
    if raw := get("product"):
        if _PRODUCT.match(raw):
            values["product"] = raw
        else:
            problems.append(_("Unknown product; all products are shown."))
    for name, key in (("from", "date_from"), ("to", "date_to")):
        if raw := get(name):
            parsed = _parse_date(raw)
            if parsed is None or not 2000 <= parsed.year <= 2999:
                problems.append(_("A date was not understood (use YYYY-MM-DD); it is ignored."))
            else:
                values[key] = parsed
    if values.get("date_from") and values.get("date_to") and values["date_from"] > values[
        "date_to"
    ]:
        problems.append(_("The period ends before it starts; the dates were swapped."))
        values["date_from"], values["date_to"] = values["date_to"], values["date_from"]
    if raw := get("sort"):
        if raw in SORTS:
            values["sort"] = raw
        else:
            problems.append(_("Unknown sort order; sorted by date."))
    if raw := get("order"):
        if raw in ORDERS:
            values["order"] = raw
        else:
            problems.append(_("Unknown sort direction; newest first."))
    if raw := get("size"):
        if raw.isdigit() and int(raw) in PAGE_SIZES:
            values["page_size"] = int(raw)
        else:
            problems.append(_("Page size must be 25, 50 or 100; 25 rows are shown."))
    if raw := get("page"):
        if raw.isdigit() and 1 <= int(raw) <= MAX_PAGE:
            values["page"] = int(raw)
        else:
            problems.append(_("Unknown page number; the first page is shown."))
    return HistoryQuery(**values), problems


def _day_start(day: date) -> datetime:
    """Midnight in Brussels, in UTC (what the database stores)."""
    return datetime.combine(day, time(0), tzinfo=BRUSSELS).astimezone(UTC)


def _conditions(organisation_id: int, query: HistoryQuery) -> list[ColumnElement[bool]]:
    conditions = [JournalEntry.organisation_id == organisation_id]
    if query.kind is not None:
        conditions.append(JournalEntry.kind == query.kind)
    if query.product is not None:
        conditions.append(JournalEntry.product == query.product)
    if query.date_from is not None:
        conditions.append(JournalEntry.created_at >= _day_start(query.date_from))
    if query.date_to is not None:
        conditions.append(JournalEntry.created_at < _day_start(query.date_to + timedelta(1)))
    return conditions


def _sort_column(query: HistoryQuery) -> Any:
    return JournalEntry.created_at if query.sort == "date" else JournalEntry.amount


AnySelect = Select[*tuple[Any, ...]]


def _ordered(statement: AnySelect, query: HistoryQuery) -> AnySelect:
    column = _sort_column(query)
    if query.order == "desc":
        return statement.order_by(column.desc(), JournalEntry.id.desc())
    return statement.order_by(column.asc(), JournalEntry.id.asc())


@dataclass
class HistoryPage:
    query: HistoryQuery
    entries: list[JournalEntry]
    total: int
    """Matching rows, exact up to :data:`COUNT_CAP`; beyond it, ``COUNT_CAP + 1``."""
    pages: int | None
    """None when there are more than :data:`COUNT_CAP` rows (not counted to the end)."""
    has_next: bool
    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.pages is not None


COUNT_CAP = 10_000
"""Rows counted for the page: counting is linear in SQLite, and beyond 400 pages of 25
"more than 10,000" says as much (the CSV export has them all)."""


async def _count(db: AsyncSession, conditions: list[ColumnElement[bool]],
                 cap: int | None) -> int:
    matching = select(JournalEntry.id).where(*conditions)
    if cap is not None:
        matching = matching.limit(cap + 1)
    return int(await db.scalar(select(func.count()).select_from(matching.subquery())) or 0)


async def page_of(db: AsyncSession, organisation_id: int, query: HistoryQuery) -> HistoryPage:
    """One page of the filtered, sorted history; a page past the end shows the last one."""
    conditions = _conditions(organisation_id, query)
    total = await _count(db, conditions, COUNT_CAP)
    problems = []
    if total > COUNT_CAP and query.page * query.page_size > COUNT_CAP:
        # Deep in a large set: only here is the exact count worth its price.
        total = await _count(db, conditions, None)
    pages = max(1, -(-total // query.page_size)) if total <= COUNT_CAP or (
        query.page * query.page_size > COUNT_CAP) else None
    if pages is not None and query.page > pages:
        problems.append(_("That page does not exist; the last page is shown."))
        query = replace(query, page=pages)
    statement = _ordered(select(JournalEntry).where(*conditions), query)
    entries = list(
        await db.scalars(
            statement.limit(query.page_size + 1).offset((query.page - 1) * query.page_size)
        )
    )
    has_next = len(entries) > query.page_size
    return HistoryPage(query, entries[:query.page_size], total, pages, has_next, problems)


class _RawDateTime(TypeDecorator[Any]):
    impl = String
    cache_ok = True


def as_utc(value: datetime | str) -> datetime:
    """An export row's timestamp as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


EXPORT_COLUMNS = (
    JournalEntry.id,
    # The stored value as the driver returns it (SQLite: text, PostgreSQL: a datetime):
    # SQLAlchemy's per-row SQLite datetime parsing was a third of an export's time.
    type_coerce(JournalEntry.created_at, _RawDateTime()).label("created_at"),
    JournalEntry.amount,
    JournalEntry.reference,
    JournalEntry.kind,
    JournalEntry.product,
    JournalEntry.description,
)


async def export_rows(
    maker: async_sessionmaker[AsyncSession],
    organisation_id: int,
    query: HistoryQuery,
    chunk: int = CHUNK,
) -> AsyncIterator[list[Any]]:
    """The whole filtered set in the page's order, ``chunk`` rows at a time (plain rows, no
    ORM objects: nothing accumulates in a session)."""
    conditions = _conditions(organisation_id, query)
    column = _sort_column(query)
    last: tuple[Any, int] | None = None
    while True:
        statement: AnySelect = select(*EXPORT_COLUMNS).where(*conditions)
        if last is not None:
            key = tuple_(column, JournalEntry.id)
            statement = statement.where(key < last if query.order == "desc" else key > last)
        statement = _ordered(statement, query).limit(chunk)
        async with transaction(maker) as db:
            # Core rows straight from the connection: the ORM's loading adds nothing here.
            connection = await db.connection()
            rows = list((await connection.execute(statement)).all())
        if not rows:
            return
        yield rows
        tail = rows[-1]
        last = (as_utc(tail.created_at) if query.sort == "date" else tail.amount, tail.id)
        if len(rows) < chunk:
            return


# -- CSV --------------------------------------------------------------------------------------

SEPARATORS = {";": ";", "semicolon": ";", ",": ",", "comma": ","}
"""``;`` (the default) is what Excel expects in Belgium, with a decimal comma; ``,`` with a
decimal point for other spreadsheets. No ``sep=`` line: with one, Excel ignores the BOM and
garbles accents."""
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def amount_text(cents: int, separator: str) -> str:
    """Plain decimal euros (a number for Excel: no currency sign, no thousands separator)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    point = "," if separator == ";" else "."
    return f"{sign}{whole}{point}{rest:02d}"


def local_time_text(moment: datetime | str) -> str:
    """ISO date and time in Brussels, the form Excel reads as a date everywhere."""
    # str() is "YYYY-MM-DD HH:MM:SS[.ffffff]+hh:mm", several times faster than strftime.
    return str(as_utc(moment).astimezone(BRUSSELS))[:19]


class CsvWriter:
    """Turns history rows into CSV text in the current language."""

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, delimiter=separator, lineterminator="\r\n")
        # Looked up once per export, not once per row (the language is fixed meanwhile).
        self._kinds = {kind: kind_label(kind) for kind in EntryKind}
        self._products: dict[str | None, str] = {}
        self._offsets: dict[str, timedelta] = {}

    def _take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text

    def header(self) -> str:
        self._writer.writerow([
            _("Date (Brussels time)"), _("Reference"), _("Type"), _("Product"),
            _("Description"), _("Amount (EUR)"),
        ])
        return BOM + self._take()

    def rows(self, rows: list[Any]) -> str:
        kinds, products = self._kinds, self._products
        separator = self.separator
        local = self._local_text
        product_of = self._product
        # Rows unpacked positionally (EXPORT_COLUMNS' order): attribute access on 100,000
        # rows was a visible share of an export.
        self._writer.writerows([
            local(created_at),
            safe_cell(reference),
            kinds[kind],
            products[product] if product in products else product_of(product),
            safe_cell(description),
            # Our own number, never user text: a minus sign here is a negative amount.
            amount_text(amount, separator),
        ] for _id, created_at, amount, reference, kind, product, description in rows)
        return self._take()

    def _local_text(self, value: datetime | str) -> str:
        """Like :func:`local_time_text`; Brussels' offset looked up once per UTC hour (it
        changes on the hour), the costly part of a row otherwise."""
        if isinstance(value, str) and len(value) >= 19 and "+" not in value[10:]:
            hour = value[:13]
            offset = self._offsets.get(hour)
            if offset is None:
                instant = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC)
                offset = self._offsets[hour] = (
                    instant.astimezone(BRUSSELS).utcoffset() or timedelta(0))
                if len(self._offsets) > 10_000:
                    self._offsets.clear()
            return str(datetime.fromisoformat(value[:19]) + offset)[:19]
        return local_time_text(value)

    def _product(self, code: str | None) -> str:
        label = self._products[code] = safe_cell(product_label(code))
        return label
