"""Bank transfers: CODA statements (Febelfin CODA 2.x) imported by an administrator credit the
wallets their structured communications name — once, however often the file comes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.portal_harness import Browser, Portal, browser
from webclient.portal.db import transaction
from webclient.portal.models import (
    BankMovement,
    BankStatement,
    JournalEntry,
    Organisation,
    User,
    UserRole,
)
from webclient.portal.wallet import ledger
from webclient.portal.wallet.communication import display, wallet_communication
from webclient.portal.wallet.transfers import CodaError, epc_payload, parse_coda

DATA = Path(__file__).parent / "data"


# -- a CODA 2 writer following the Febelfin layout (128-character records) ----------------------


@dataclass
class Move:
    cents: int
    """Signed: credits positive."""
    structured: str | None = None
    free: str = ""
    name: str = "Jan Peeters"
    iban: str = "BE68539007547034"
    type_: str = "0"
    """First digit of the transaction code: 0 single, 1 globalised total, 5 its detail."""
    detail: int = 0


def _amount(cents: int, width: int = 16) -> str:
    sign = "1" if cents < 0 else "0"
    return sign + f"{abs(cents) * 10:0{width - 1}d}"


def _date(day: date) -> str:
    return day.strftime("%d%m%y")


def coda(moves: list[Move], *, iban: str, number: int = 42, day: date = date(2026, 3, 2),
         old_balance: int = 100_000) -> bytes:
    account = iban.ljust(34) + "EUR"
    lines = [
        "0" + "0000" + _date(day) + "300" + "05" + " " + " " * 7 + "0000000001"
        + "PORTAIL EID SRL".ljust(26) + "GKCCBEBB".ljust(11) + "00403170701" + " " + "00000"
        + "".ljust(16) + "".ljust(16) + " " * 7 + "2",
        "1" + "2" + f"{number:03d}" + account + _amount(old_balance) + _date(day)
        + "PORTAIL EID SRL".ljust(26) + "Compte courant".ljust(35) + f"{number:03d}",
    ]
    sequence = 0
    credit = debit = 0
    for move in moves:
        if move.detail == 0:
            sequence += 1
            if move.type_ in "0123":
                credit += max(move.cents, 0)
                debit += max(-move.cents, 0)
        head = f"{sequence:04d}{move.detail:04d}"
        if move.structured:
            communication = ("1101" + move.structured).ljust(54)
        else:
            communication = ("0" + move.free).ljust(54)[:54]
        code = move.type_ + "0150000"
        lines.append("21" + head + f"REF{sequence:04d}{move.detail:04d}".ljust(21)
                     + _amount(move.cents) + _date(day) + code + communication + _date(day)
                     + f"{number:03d}" + "0" + "1" + " " + "0")
        lines.append("22" + head + "".ljust(53) + "".ljust(35) + "GEBABEBB".ljust(11) + "   "
                     + " " + "    " + "    " + "    " + "1" + " " + "0")
        lines.append("23" + head + move.iban.ljust(37) + move.name.ljust(35) + "".ljust(43)
                     + "0" + " " + "0")
    new_balance = old_balance + credit - debit
    lines.append("8" + f"{number:03d}" + account + _amount(new_balance) + _date(day)
                 + " " * 64 + "0")
    records = len(lines) - 1  # every record but the header, before the trailer
    lines.append("9" + " " * 15 + f"{records:06d}" + _amount(debit, 15) + _amount(credit, 15)
                 + " " * 75 + "2")
    for line in lines:
        assert len(line) == 128, (len(line), line)
    return ("\r\n".join(lines) + "\r\n").encode("windows-1252")


@dataclass
class Bank:
    admin: Browser
    admin_user: User
    org: Organisation
    other: Organisation
    iban: str


@pytest.fixture
async def bank(portal: Portal) -> Bank:
    admin_user = await portal.make_user("admin", role=UserRole.ADMIN)
    manager = await portal.make_user("boss")
    org = await portal.make_organisation(manager=manager)
    other = await portal.make_organisation("0202239951", "Syndic Deux SRL")
    admin = browser(portal)
    await admin.login("admin")
    return Bank(admin, admin_user, org, other, portal.settings.bank_iban)


async def post_file(bank: Bank, data: bytes) -> tuple[int, str]:
    from aiohttp import FormData

    await bank.admin.get("/admin/bank")
    form = FormData()
    form.add_field("_csrf", await bank.admin.token())
    form.add_field("file", data, filename="statement.cod", content_type="text/plain")
    response = await bank.admin.client.post("/admin/bank", data=form, allow_redirects=False,
                                            headers={"Accept-Language": "en"})
    return response.status, await response.text()


async def totals(portal: Portal, *organisations: Organisation) -> list[int]:
    async with transaction(portal.db) as db:
        return [await ledger.balance(db, o.id) for o in organisations]


async def count(portal: Portal, model: type) -> int:
    async with transaction(portal.db) as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_import_credits_matching_transfers_once(portal: Portal, bank: Bank) -> None:
    data = coda([
        Move(12_500, structured=wallet_communication(bank.org.id)),
        Move(7_000, structured=wallet_communication(bank.other.id), name="Syndic"),
        Move(3_000, free="facture 2026/12"),
        Move(-4_000, free="loyer"),
        Move(2_000, structured=wallet_communication(999_999)),  # valid, but nobody's
    ], iban=bank.iban)
    status, text = await post_file(bank, data)
    assert status == 200, text
    assert "2 transfers credited" in text
    assert await totals(portal, bank.org, bank.other) == [12_500, 7_000]
    assert await count(portal, BankMovement) == 4  # debits are not recorded
    # The same file again: refused as such, nothing credited twice.
    status, text = await post_file(bank, data)
    assert status == 409
    assert "already imported" in text
    # The same movements in another file (re-downloaded, another header): still once.
    again = data.replace(b"0000000001PORTAIL", b"0000000002PORTAIL", 1)
    assert again != data
    status, text = await post_file(bank, again)
    assert status == 200, text
    assert "0 transfers credited" in text
    assert "4 already imported" in text
    assert await totals(portal, bank.org, bank.other) == [12_500, 7_000]
    assert await count(portal, JournalEntry) == 2
    async with transaction(portal.db) as db:
        assert await ledger.verify_ledger(db) == []
    page = await bank.admin.get("/admin/bank")
    text = await page.text()
    assert "facture 2026/12" in text
    assert display(wallet_communication(999_999)) in text


async def test_unmatched_transfer_is_assigned_or_ignored_once(portal: Portal,
                                                              bank: Bank) -> None:
    await post_file(bank, coda([Move(5_000, free="pour immo test"), Move(900, free="??")],
                               iban=bank.iban))
    async with transaction(portal.db) as db:
        first, second = (await db.scalars(select(BankMovement).order_by(BankMovement.id))).all()
    search = await bank.admin.get(f"/admin/bank/movements/{first.id}?q=Immo")
    assert "Immo Test SRL" in await search.text()
    response = await bank.admin.post(f"/admin/bank/movements/{first.id}",
                                     {"action": "assign", "organisation_id": str(bank.org.id)})
    assert response.status == 303
    assert await totals(portal, bank.org) == [5_000]
    # A second administrator's click on the same transfer does nothing.
    response = await bank.admin.post(f"/admin/bank/movements/{first.id}",
                                     {"action": "assign", "organisation_id": str(bank.other.id)})
    assert response.status == 303
    assert await totals(portal, bank.org, bank.other) == [5_000, 0]
    bad = await bank.admin.post(f"/admin/bank/movements/{second.id}",
                                {"action": "assign", "organisation_id": "99999"})
    assert bad.status == 400
    response = await bank.admin.post(f"/admin/bank/movements/{second.id}", {"action": "ignore"})
    assert response.status == 303
    assert await count(portal, JournalEntry) == 1
    async with transaction(portal.db) as db:
        statuses = (await db.scalars(select(BankMovement.status).order_by(BankMovement.id))).all()
    assert statuses == ["assigned", "ignored"]
    assert (await bank.admin.get("/admin/bank/movements/99999")).status == 404


async def test_globalised_movements_wait_for_an_administrator(portal: Portal,
                                                              bank: Bank) -> None:
    data = coda([
        Move(15_000, structured=wallet_communication(bank.org.id), type_="1"),
        Move(10_000, structured=wallet_communication(bank.org.id), type_="5", detail=1),
        Move(5_000, structured=wallet_communication(bank.other.id), type_="5", detail=2),
    ], iban=bank.iban)
    status, text = await post_file(bank, data)
    assert status == 200, text
    assert "1 to assign by hand" in text
    assert await totals(portal, bank.org, bank.other) == [0, 0]


def _bad_totals(data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    trailer = lines[-2]
    lines[-2] = trailer[:37] + b"000000000999990" + trailer[52:]  # the credit total
    return b"\r\n".join(lines)


@pytest.mark.parametrize("mangle", [
    lambda data: b"",
    lambda data: b"not a coda file\n",
    lambda data: data.replace(b"\r\n", b" \r\n", 1),  # a 129-character record
    lambda data: data[: data.rfind(b"9     ")],  # no trailer
    lambda data: _bad_totals(data),
    lambda data: b"\x00\xff" * 64,
])
async def test_malformed_file_changes_nothing(portal: Portal, bank: Bank, mangle: object) -> None:
    data = coda([Move(12_500, structured=wallet_communication(bank.org.id))], iban=bank.iban)
    status, text = await post_file(bank, mangle(data))  # type: ignore[operator]
    assert status == 400, text
    assert "cannot be imported" in text
    assert await count(portal, BankStatement) == 0
    assert await count(portal, JournalEntry) == 0


async def test_statement_of_another_account_is_refused(portal: Portal, bank: Bank) -> None:
    status, text = await post_file(bank, coda(
        [Move(12_500, structured=wallet_communication(bank.org.id))],
        iban="BE68539007547034"))
    assert status == 400
    assert "BE68539007547034" in text
    assert await count(portal, JournalEntry) == 0


async def test_only_administrators_see_the_bank(portal: Portal, bank: Bank) -> None:
    await portal.make_user("helper", role=UserRole.HELPDESK)
    helper = portal.browser()
    await helper.login("helper")
    assert (await helper.get("/admin/bank")).status == 403
    assert (await helper.post("/admin/bank", {})).status == 403
    assert (await helper.get("/admin/bank/movements/1")).status == 403
    status, _ = await post_file(bank, b"")
    assert status == 400


def test_sample_file_parses() -> None:
    statements = parse_coda((DATA / "coda_wallet_sample.cod").read_bytes())
    assert len(statements) == 1
    statement = statements[0]
    assert statement.account == "BE71096123456769"
    assert statement.number == "2026-042"
    credits = [m for m in statement.movements if m.amount > 0]
    assert [m.structured_communication for m in credits][:1] == [wallet_communication(1)]
    assert credits[0].amount == 12_500
    assert credits[0].counterparty_name == "Jan Peeters"
    assert any(m.amount < 0 for m in statement.movements)
    with pytest.raises(CodaError):
        parse_coda(b"0" * 128)


def test_epc_payload_follows_epc069_12() -> None:
    payload = epc_payload(name="Portail eID SRL", iban="BE71 0961 2345 6769", bic="GKCCBEBB",
                          communication="800000000179", amount=5000)
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "GKCCBEBB", "Portail eID SRL",
                                   "BE71096123456769", "EUR50.00", "", "800000000179", ""]
    without = epc_payload(name="X", iban="BE71096123456769", bic="", communication="1",
                          amount=None)
    assert without.split("\n")[7] == ""
    with pytest.raises(ValueError, match="EPC amounts"):
        epc_payload(name="X", iban="BE71096123456769", bic="", communication="1", amount=0)
