"""The wallet's transactions page and CSV export: filters, sort, pages, bad parameters, the
CSV's shape for Excel, the injection guard, streaming many rows, who may see it."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from tests.portal_harness import Browser, Portal, browser
from webclient.portal.db import transaction
from webclient.portal.models import (
    AccountKind,
    EntryKind,
    JournalEntry,
    MembershipRole,
    Organisation,
    User,
)
from webclient.portal.wallet import history, ledger

# -- shared by the wallet page tests ------------------------------------------------------


async def wallet_owner(portal: Portal, username: str = "manager", language: str = "en",
                       number: str = "0403170701", name: str = "Immo Test SRL",
                       ) -> tuple[User, Organisation]:
    manager = await portal.make_user(username, language=language)
    org = await portal.make_organisation(number, name, manager=manager)
    return manager, org


async def top_up(portal: Portal, org_id: int, cents: int, key: str,
                 when: datetime | None = None) -> JournalEntry:
    async with transaction(portal.db) as db:
        entry, _created = await ledger.credit(
            db, organisation_id=org_id, amount=cents, kind=EntryKind.TOPUP_ONLINE,
            source=(AccountKind.PROVIDER, "simulated"), idempotency_key=key,
            description="Bancontact")
        if when is not None:
            await _backdate(db, entry, when)
    return entry


async def spend(portal: Portal, org_id: int, cents: int, product: str, key: str,
                when: datetime | None = None, description: str = "Search") -> JournalEntry:
    async with transaction(portal.db) as db:
        entry, _created = await ledger.debit(
            db, organisation_id=org_id, amount=cents, product=product, idempotency_key=key,
            description=description)
        if when is not None:
            await _backdate(db, entry, when)
    return entry


async def _backdate(db: Any, entry: JournalEntry, when: datetime) -> None:
    # Test data only: the ledger stamps entries with the current time.
    await db.execute(update(JournalEntry).where(JournalEntry.id == entry.id)
                     .values(created_at=when))
    entry.created_at = when


async def many_entries(portal: Portal, org_id: int, count: int,
                       start: datetime = datetime(2025, 1, 1, tzinfo=UTC)) -> None:
    """``count`` bare entries in one statement (history and CSV read only the entries)."""
    rows: list[dict[str, Any]] = [{
        "kind": EntryKind.DEBIT if n % 2 else EntryKind.TOPUP_ONLINE,
        "organisation_id": org_id,
        "amount": -(n % 500 + 1) if n % 2 else (n % 700 + 1) * 100,
        "product": "cadastrefinder" if n % 2 else None,
        "reference": f"TX-B-{org_id}-{n:07d}",
        "description": f"Row {n}",
        "idempotency_key": f"bulk-{org_id}-{n}",
        "created_at": start + timedelta(minutes=n),
        "details": {},
    } for n in range(count)]
    async with transaction(portal.db) as db:
        for first in range(0, count, 5000):
            await db.execute(insert(JournalEntry), rows[first:first + 5000])


async def logged_in(portal: Portal, username: str = "manager", language: str | None = "en",
                    visitor: Browser | None = None) -> Browser:
    """A browser logged in as ``username``, showing pages in ``language`` (None: as its
    Accept-Language says)."""
    visitor = visitor or browser(portal)
    if language is not None:
        visitor.client.session.cookie_jar.update_cookies({"lang": language})
    await visitor.login(username)
    return visitor


def references(page: str) -> list[str]:
    return re.findall(r'data-reference="([^"]+)"', page)


# -- the page -----------------------------------------------------------------------------


async def test_page_shows_balance_and_transactions_newest_first(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    first = await top_up(portal, org.id, 10000, "t1", datetime(2026, 1, 5, 9, tzinfo=UTC))
    second = await spend(portal, org.id, 1234, "cadastrefinder", "d1",
                         datetime(2026, 1, 6, 9, tzinfo=UTC), description="Cadastre <Liège>")
    visitor = await logged_in(portal)
    response = await visitor.get(f"/org/{org.id}/wallet")
    assert response.status == 200
    page = await response.text()
    assert re.search(r'id="wallet-balance">€87\.66<', page)
    assert references(page) == [second.reference, first.reference]
    assert "Cadastre &lt;Liège&gt;" in page  # escaped, accents intact
    assert "-€12.34" in page
    assert "CadastreFinder" in page
    assert f"/org/{org.id}/wallet/vouchers/{second.id}.pdf" in page
    assert f"/org/{org.id}/wallet/topup" in page
    # Brussels time: 09:00 UTC in January is 10:00.
    assert "06/01/2026, 10:00" in page


async def test_page_speaks_the_users_language(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal, language="fr")
    await top_up(portal, org.id, 123456, "t1")
    visitor = await logged_in(portal, language=None)
    page = await (await visitor.get(f"/org/{org.id}/wallet",
                                    headers={"Accept-Language": "fr-BE"})).text()
    assert "Portefeuille" in page
    assert re.search(r'id="wallet-balance">1\s234,56\s€<', page)
    page = await (await visitor.get(f"/org/{org.id}/wallet",
                                    headers={"Accept-Language": "nl-BE"})).text()
    assert "Portemonnee" in page
    assert re.search(r'id="wallet-balance">€\s1\.234,56<', page)


async def test_filters_by_type_product_and_period(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    credit = await top_up(portal, org.id, 50000, "t1", datetime(2026, 2, 1, 10, tzinfo=UTC))
    cadastre = await spend(portal, org.id, 500, "cadastrefinder", "d1",
                           datetime(2026, 2, 10, 10, tzinfo=UTC))
    bce = await spend(portal, org.id, 700, "bceacp", "d2", datetime(2026, 3, 1, 10, tzinfo=UTC))
    # 23:30 UTC on 31 March is already 1 April in Brussels (summer time).
    late = await spend(portal, org.id, 900, "bceacp", "d3",
                       datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    visitor = await logged_in(portal)

    async def shown(query: str) -> list[str]:
        response = await visitor.get(f"/org/{org.id}/wallet?{query}")
        assert response.status == 200
        return references(await response.text())

    assert await shown("type=debit") == [late.reference, bce.reference, cadastre.reference]
    assert await shown("type=topup_online") == [credit.reference]
    assert await shown("product=bceacp") == [late.reference, bce.reference]
    assert await shown("type=debit&product=cadastrefinder") == [cadastre.reference]
    assert await shown("from=2026-02-05&to=2026-03-31") == [bce.reference, cadastre.reference]
    assert await shown("from=2026-04-01") == [late.reference]
    assert await shown("to=2026-02-01") == [credit.reference]
    page = await (await visitor.get(f"/org/{org.id}/wallet?product=myrentpro")).text()
    assert "No transaction matches these filters." in page
    # The filter state stays in the form.
    page = await (await visitor.get(f"/org/{org.id}/wallet?type=debit&from=2026-02-05")).text()
    assert '<option value="debit" selected>' in page
    assert 'name="from" value="2026-02-05"' in page


async def test_sorts_by_date_and_amount_both_ways(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    big = await top_up(portal, org.id, 90000, "t1", datetime(2026, 1, 1, tzinfo=UTC))
    small = await spend(portal, org.id, 100, "bceacp", "d1", datetime(2026, 1, 3, tzinfo=UTC))
    medium = await top_up(portal, org.id, 5000, "t2", datetime(2026, 1, 2, tzinfo=UTC))
    visitor = await logged_in(portal)
    base = f"/org/{org.id}/wallet"
    cases = {
        "": [small, medium, big],
        "order=asc": [big, medium, small],
        "sort=amount": [big, medium, small],
        "sort=amount&order=asc": [small, medium, big],
    }
    for query, expected in cases.items():
        page = await (await visitor.get(f"{base}?{query}")).text()
        assert references(page) == [e.reference for e in expected], query


async def test_pages_of_25_50_100_cover_every_row_once(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    await many_entries(portal, org.id, 130)
    visitor = await logged_in(portal)
    for size in (25, 50, 100):
        seen: list[str] = []
        pages = -(-130 // size)
        for number in range(1, pages + 1):
            page = await (await visitor.get(
                f"/org/{org.id}/wallet?size={size}&page={number}&sort=amount")).text()
            rows = references(page)
            assert len(rows) == (size if number < pages else 130 - size * (pages - 1))
            seen += rows
            assert f"Page {number} of {pages}" in page
        assert len(set(seen)) == 130
    # The pager's links keep the filters and sort.
    page = await (await visitor.get(f"/org/{org.id}/wallet?type=debit&sort=amount")).text()
    assert f'href="/org/{org.id}/wallet?type=debit&amp;sort=amount&amp;page=2"' in page


async def test_large_sets_are_counted_only_up_to_a_cap(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "COUNT_CAP", 60)
    _manager, org = await wallet_owner(portal)
    await many_entries(portal, org.id, 130)
    visitor = await logged_in(portal)
    page = await (await visitor.get(f"/org/{org.id}/wallet")).text()
    assert "More than 60 transactions" in page
    assert "Page 1<" in page
    assert 'rel="next"' in page
    assert ">Last<" not in page
    # Past the cap the exact count is worth it: the pager knows the last page again.
    page = await (await visitor.get(f"/org/{org.id}/wallet?page=3")).text()
    assert "Page 3 of 6" in page
    assert len(references(page)) == 25
    page = await (await visitor.get(f"/org/{org.id}/wallet?page=9")).text()
    assert "That page does not exist" in page
    assert "Page 6 of 6" in page
    assert len(references(page)) == 5
    page = await (await visitor.get(f"/org/{org.id}/wallet?type=topup_online")).text()
    assert "More than 60 transactions" in page
    page = await (await visitor.get(f"/org/{org.id}/wallet?type=debit&size=100")).text()
    assert "65 transactions" in page
    assert ">Last<" not in page  # one page only


async def test_bad_parameters_are_ignored_with_a_message(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    entry = await top_up(portal, org.id, 5000, "t1")
    visitor = await logged_in(portal)
    bad = [
        ("type=teleport", "Unknown transaction type"),
        ("product=%3Cscript%3E", "Unknown product"),
        ("from=2026-13-45", "A date was not understood"),
        ("to=yesterday", "A date was not understood"),
        ("from=0001-01-01", "A date was not understood"),
        ("sort=price", "Unknown sort order"),
        ("order=sideways", "Unknown sort direction"),
        ("size=1000000", "Page size must be 25, 50 or 100"),
        ("size=-1", "Page size must be 25, 50 or 100"),
        ("page=0", "Unknown page number"),
        ("page=abc", "Unknown page number"),
        ("page=99999999999999999999", "Unknown page number"),
        ("page=7", "That page does not exist"),
        ("type=" + "x" * 5000, "Unknown transaction type"),
        ("from=2026-02-01&to=2026-01-01", "The period ends before it starts"),
    ]
    for query, message in bad:
        response = await visitor.get(f"/org/{org.id}/wallet?{query}")
        assert response.status == 200, query
        page = await response.text()
        assert message in page, query
        assert "<script>" not in page
        if "from=2026-02-01" not in query:
            assert references(page) == [entry.reference], query
    response = await visitor.get(f"/org/{org.id}/wallet/export.csv?type=nope&size=x&sep=%7C")
    assert response.status == 200
    assert (await response.read()).decode("utf-8-sig").count("\r\n") == 2  # header + 1 row


async def test_only_the_organisations_managers_see_the_wallet(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    _other_manager, other = await wallet_owner(portal, "boss", number="0202239951",
                                               name="Autre Immo")
    entry = await top_up(portal, org.id, 5000, "t1")
    employee = await portal.make_user("employee")
    await portal.make_membership(employee, org, role=MembershipRole.EMPLOYEE)
    paths = [f"/org/{org.id}/wallet", f"/org/{org.id}/wallet/export.csv",
             f"/org/{org.id}/wallet/vouchers/{entry.id}.pdf", f"/org/{org.id}/wallet/invoices"]
    worker = await logged_in(portal, "employee")
    for path in paths:
        assert (await worker.get(path, allow_redirects=False)).status == 403, path
    stranger = await logged_in(portal, "boss", visitor=portal.browser())
    for path in paths:
        assert (await stranger.get(path, allow_redirects=False)).status == 404, path
    # Another organisation's entry through one's own organisation's path: not found.
    assert (await stranger.get(f"/org/{other.id}/wallet/vouchers/{entry.id}.pdf")).status == 404
    anonymous = portal.browser()
    response = await anonymous.get(f"/org/{org.id}/wallet", allow_redirects=False)
    assert response.status in (302, 303)
    assert "/login" in response.headers["Location"]


# -- CSV ------------------------------------------------------------------------------------


def parse_csv(body: bytes, separator: str) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""),
                           delimiter=separator))


async def test_csv_for_belgian_excel_and_for_others(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    credit = await top_up(portal, org.id, 123456, "t1", datetime(2026, 7, 1, 8, tzinfo=UTC))
    debit = await spend(portal, org.id, 1250, "cadastrefinder", "d1",
                        datetime(2026, 7, 2, 8, tzinfo=UTC),
                        description='Élodie; "quotes", 1,5 m²')
    visitor = await logged_in(portal)
    response = await visitor.get(f"/org/{org.id}/wallet/export.csv")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="wallet-0403170701-\d{8}-\d{4}\.csv"',
                        response.headers["Content-Disposition"])
    body = await response.read()
    assert b"\r\n" in body
    assert not body.decode("utf-8-sig").startswith("sep=")
    rows = parse_csv(body, ";")
    assert rows[0] == ["Date (Brussels time)", "Reference", "Type", "Product", "Description",
                       "Amount (EUR)"]
    assert rows[1] == ["2026-07-02 10:00:00", debit.reference, "Payment for a service",
                       "CadastreFinder", 'Élodie; "quotes", 1,5 m²', "-12,50"]
    assert rows[2] == ["2026-07-01 10:00:00", credit.reference, "Online top-up", "",
                       "Bancontact", "1234,56"]
    comma = parse_csv(await (await visitor.get(
        f"/org/{org.id}/wallet/export.csv?sep=%2C")).read(), ",")
    assert [row[5] for row in comma[1:]] == ["-12.50", "1234.56"]
    named = parse_csv(await (await visitor.get(
        f"/org/{org.id}/wallet/export.csv?sep=comma&type=debit")).read(), ",")
    assert [row[1] for row in named[1:]] == [debit.reference]
    # The header follows the user's language.
    visitor.client.session.cookie_jar.update_cookies({"lang": "fr"})
    french = parse_csv(await (await visitor.get(f"/org/{org.id}/wallet/export.csv")).read(),
                       ";")
    assert french[0][0] == "Date (heure de Bruxelles)"
    assert french[1][2] == "Paiement d'un service"


async def test_csv_cells_cannot_become_formulas(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    await top_up(portal, org.id, 10000, "t1")
    for n, text in enumerate(["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)",
                              "\tTab", "Safe - text"]):
        await spend(portal, org.id, 100 + n, "bceacp", f"d{n}", description=text)
    visitor = await logged_in(portal)
    rows = parse_csv(await (await visitor.get(
        f"/org/{org.id}/wallet/export.csv?sort=amount&order=asc")).read(), ";")
    descriptions = [row[4] for row in rows[1:] if row[2] != "Online top-up"]
    assert sorted(descriptions) == sorted(["'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2+3",
                                           "'@SUM(A1)", "'\tTab", "Safe - text"])
    # Amounts are our own numbers: a negative amount keeps its minus sign.
    assert all(re.fullmatch(r"-?\d+,\d\d", row[5]) for row in rows[1:])
    assert any(row[5].startswith("-") for row in rows[1:])


async def test_csv_streams_every_row_of_a_large_set_in_order(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    count = 5003  # more than two export chunks, not a multiple of one
    await many_entries(portal, org.id, count)
    visitor = await logged_in(portal)
    for query, sort_index in (("", 0), ("sort=amount&order=asc", 5)):
        response = await visitor.get(f"/org/{org.id}/wallet/export.csv?{query}")
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in response.headers
        rows = parse_csv(await response.read(), ";")[1:]
        assert len(rows) == count
        assert len({row[1] for row in rows}) == count
        keys = [row[0] for row in rows] if sort_index == 0 else [
            float(row[5].replace(",", ".")) for row in rows]
        assert keys == sorted(keys, reverse=(query == "")), query
    filtered = parse_csv(await (await visitor.get(
        f"/org/{org.id}/wallet/export.csv?type=debit&from=2025-01-02")).read(), ";")[1:]
    expected = sum(1 for n in range(count)
                   if n % 2 and datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
                   >= datetime(2025, 1, 1, 23, tzinfo=UTC))
    assert len(filtered) == expected


def test_csv_times_are_brussels_time_across_daylight_saving_changes() -> None:
    writer = history.CsvWriter(";")
    moment = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)  # summer time starts 29 March 01:00
    for _step in range(10 * 4):
        stored = moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLite's text, naive UTC
        expected = moment.astimezone(history.BRUSSELS).strftime("%Y-%m-%d %H:%M:%S")
        assert writer._local_text(stored) == expected == history.local_time_text(moment)
        moment += timedelta(minutes=15)
    autumn = "2026-10-25 00:59:59.000000"  # 02:59:59 summer time, then 02:00 winter time
    assert writer._local_text(autumn) == "2026-10-25 02:59:59"
    assert writer._local_text("2026-10-25 01:00:00.000000") == "2026-10-25 02:00:00"
