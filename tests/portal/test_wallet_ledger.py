"""The ledger: balanced entries, idempotency, never a negative wallet — under concurrency too,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.portal_harness import create_schema
from webclient.portal.db import make_engine, make_sessionmaker, transaction
from webclient.portal.models import (
    AccountKind,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Organisation,
    Posting,
)
from webclient.portal.wallet import ledger
from webclient.portal.wallet.communication import display, organisation_of, wallet_communication

BANK = (AccountKind.BANK, "bank")


@dataclass
class Books:
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    org_id: int
    other_org_id: int


@pytest.fixture
async def books(portal_db_url: str) -> AsyncIterator[Books]:
    await create_schema(portal_db_url)
    engine = make_engine(portal_db_url)
    maker = make_sessionmaker(engine)
    ids = []
    async with transaction(maker) as db:
        for number, name in (("0403170701", "Immo A"), ("0202239951", "Syndic B")):
            organisation = Organisation(
                enterprise_number=number, name=name, legal_form="SRL", street="Rue 1",
                postcode="1000", city="Bruxelles", email="a@example.be",
            )
            db.add(organisation)
            await db.flush()
            ids.append(organisation.id)
    try:
        yield Books(engine, maker, ids[0], ids[1])
    finally:
        await engine.dispose()


async def top_up(books: Books, amount: int, key: str = "t1") -> None:
    async with transaction(books.db) as db:
        await ledger.credit(db, organisation_id=books.org_id, amount=amount,
                            kind=EntryKind.TOPUP_TRANSFER, source=BANK,
                            idempotency_key=key, description="transfer")


async def test_credit_then_debit_posts_balanced_entries_with_vat(books: Books) -> None:
    async with transaction(books.db) as db:
        entry, created = await ledger.credit(
            db, organisation_id=books.org_id, amount=5000, kind=EntryKind.TOPUP_ONLINE,
            source=(AccountKind.PROVIDER, "simulated"), idempotency_key="payment:x:1",
            description="Top-up", details={"payment": 1},
        )
        assert created
        assert entry.amount == 5000
        assert entry.reference.startswith(f"TX-{entry.created_at.year}-")
        assert entry.reference.endswith(f"{entry.id:06d}")
        debit, created = await ledger.debit(
            db, organisation_id=books.org_id, amount=1210, product="bceacp",
            idempotency_key="tool:1", description="BCE ACP fee", vat_rate=21,
        )
        assert created
        assert debit.amount == -1210
        assert debit.product == "bceacp"
        assert debit.details["net"] == 1000
        assert debit.details["vat"] == 210
        assert await ledger.balance(db, books.org_id) == 3790
    async with transaction(books.db) as db:
        rows = await db.execute(select(LedgerAccount.code, LedgerAccount.balance))
        postings = {code: value for code, value in rows}
        assert postings == {f"org:{books.org_id}": 3790, "simulated": -5000,
                            "product:bceacp": 1000, "vat": 210}
        assert await ledger.verify_ledger(db) == []
        assert await ledger.balance(db, books.other_org_id) == 0


async def test_same_idempotency_key_returns_the_existing_entry(books: Books) -> None:
    await top_up(books, 10_000, key="coda:1")
    async with transaction(books.db) as db:
        again, created = await ledger.credit(
            db, organisation_id=books.org_id, amount=10_000, kind=EntryKind.TOPUP_TRANSFER,
            source=BANK, idempotency_key="coda:1", description="transfer")
        assert not created
        assert again.amount == 10_000
        first, created = await ledger.debit(db, organisation_id=books.org_id, amount=300,
                                            product="cadastrefinder", idempotency_key="req:9",
                                            description="search")
        assert created
        second, created = await ledger.debit(db, organisation_id=books.org_id, amount=300,
                                             product="cadastrefinder", idempotency_key="req:9",
                                             description="search")
        assert not created
        assert second.id == first.id
        assert await ledger.balance(db, books.org_id) == 9700
        assert await db.scalar(select(func.count()).select_from(JournalEntry)) == 2


async def test_insufficient_balance_writes_nothing(books: Books) -> None:
    await top_up(books, 1000)
    async with transaction(books.db) as db:
        with pytest.raises(ledger.InsufficientBalance) as refused:
            await ledger.debit(db, organisation_id=books.org_id, amount=1001,
                               product="bceacp", idempotency_key="d1", description="fee")
        assert (refused.value.balance, refused.value.needed) == (1000, 1001)
        # The caller's transaction is still usable and holds nothing of the refused debit.
        assert await ledger.balance(db, books.org_id) == 1000
    with pytest.raises(ledger.InsufficientBalance) as no_wallet:
        async with transaction(books.db) as db:
            await ledger.debit(db, organisation_id=books.other_org_id, amount=1,
                               product="bceacp", idempotency_key="d2", description="fee")
    assert no_wallet.value.balance == 0
    async with transaction(books.db) as db:
        assert await db.scalar(select(func.count()).select_from(JournalEntry)) == 1
        assert await db.scalar(select(func.count()).select_from(Posting)) == 2
        codes = set((await db.scalars(select(LedgerAccount.code))).all())
        assert codes == {f"org:{books.org_id}", "bank"}
        assert await ledger.verify_ledger(db) == []


async def test_exact_balance_can_be_spent_to_zero(books: Books) -> None:
    await top_up(books, 500)
    async with transaction(books.db) as db:
        await ledger.debit(db, organisation_id=books.org_id, amount=500, product="x",
                           idempotency_key="all", description="all of it", vat_rate=0)
        assert await ledger.balance(db, books.org_id) == 0
        assert await ledger.verify_ledger(db) == []


@pytest.mark.parametrize("amount", [0, -5, 12.5, True, "100", ledger.MAX_AMOUNT + 1])
async def test_bad_amounts_are_refused(books: Books, amount: object) -> None:
    async with transaction(books.db) as db:
        with pytest.raises((TypeError, ValueError)):
            await ledger.credit(db, organisation_id=books.org_id, amount=amount,  # type: ignore[arg-type]
                                kind=EntryKind.TOPUP_TRANSFER, source=BANK,
                                idempotency_key="k", description="x")
        with pytest.raises((TypeError, ValueError)):
            await ledger.debit(db, organisation_id=books.org_id, amount=amount,  # type: ignore[arg-type]
                               product="p", idempotency_key="k2", description="x")


async def test_credit_kind_and_source_are_checked(books: Books) -> None:
    async with transaction(books.db) as db:
        with pytest.raises(ValueError, match="not a kind of credit"):
            await ledger.credit(db, organisation_id=books.org_id, amount=1, kind=EntryKind.DEBIT,
                                source=BANK, idempotency_key="k", description="x")
        with pytest.raises(ValueError, match="cannot be a wallet"):
            await ledger.credit(db, organisation_id=books.org_id, amount=1,
                                kind=EntryKind.ADJUSTMENT, source=(AccountKind.WALLET, "org:9"),
                                idempotency_key="k", description="x")


async def test_wallet_account_has_a_valid_structured_communication(books: Books) -> None:
    async with transaction(books.db) as db:
        account = await ledger.wallet_account(db, books.org_id)
        same = await ledger.wallet_account(db, books.org_id)
        other = await ledger.wallet_account(db, books.other_org_id)
    assert same.id == account.id
    assert other.id != account.id
    assert account.structured_communication == wallet_communication(books.org_id)
    assert account.structured_communication != other.structured_communication
    assert organisation_of(display(account.structured_communication)) == books.org_id
    assert organisation_of("+++800/0000/00178+++") is None  # bad check digits
    assert organisation_of("") is None


async def test_wallet_creation_is_race_safe(books: Books) -> None:
    async def create() -> int:
        async with transaction(books.db) as db:
            return (await ledger.wallet_account(db, books.org_id)).id

    ids = await asyncio.gather(*(create() for _ in range(8)))
    assert len(set(ids)) == 1


async def test_fifty_concurrent_debits_never_overdraw(books: Books) -> None:
    await top_up(books, 1000)
    amount = 70
    outcomes: list[str] = []

    async def spend(index: int) -> None:
        try:
            async with transaction(books.db) as db:
                await ledger.debit(db, organisation_id=books.org_id, amount=amount,
                                   product="bceacp", idempotency_key=f"req:{index}",
                                   description="fee")
            outcomes.append("ok")
        except ledger.InsufficientBalance:
            outcomes.append("refused")

    await asyncio.gather(*(spend(i) for i in range(50)))
    assert outcomes.count("ok") == 1000 // amount
    assert outcomes.count("refused") == 50 - 1000 // amount
    async with transaction(books.db) as db:
        assert await ledger.balance(db, books.org_id) == 1000 - (1000 // amount) * amount
        assert await ledger.verify_ledger(db) == []
        wallet_sum = await db.scalar(select(func.sum(JournalEntry.amount)).where(
            JournalEntry.organisation_id == books.org_id))
        assert wallet_sum == await ledger.balance(db, books.org_id)


async def test_concurrent_duplicates_count_once(books: Books) -> None:
    await top_up(books, 1000)

    async def spend() -> tuple[int, bool]:
        async with transaction(books.db) as db:
            entry, created = await ledger.debit(
                db, organisation_id=books.org_id, amount=100, product="bceacp",
                idempotency_key="same-request", description="fee")
            return entry.id, created

    async def credit() -> bool:
        async with transaction(books.db) as db:
            _, created = await ledger.credit(
                db, organisation_id=books.org_id, amount=5000, kind=EntryKind.TOPUP_ONLINE,
                source=(AccountKind.PROVIDER, "simulated"), idempotency_key="payment:s:1",
                description="top-up")
            return created

    results = await asyncio.gather(*(spend() for _ in range(10)), *(credit() for _ in range(10)))
    debits = [r for r in results if isinstance(r, tuple)]
    assert len({entry_id for entry_id, _ in debits}) == 1
    assert sum(created for _, created in debits) == 1
    assert sum(1 for r in results if r is True) == 1
    async with transaction(books.db) as db:
        assert await ledger.balance(db, books.org_id) == 1000 - 100 + 5000
        assert await ledger.verify_ledger(db) == []


async def test_verify_ledger_reports_tampering(books: Books) -> None:
    await top_up(books, 1000)
    async with transaction(books.db) as db:
        # Tampering outside the service (what verify_ledger is there to catch).
        await db.execute(update(LedgerAccount).where(LedgerAccount.kind == AccountKind.BANK)
                         .values(balance=LedgerAccount.balance + 1))
        await db.execute(update(Posting).where(Posting.amount == 1000).values(amount=999))
        problems = await ledger.verify_ledger(db)
    assert any("postings sum to -1" in p for p in problems)
    assert any("account bank:bank" in p for p in problems)
    assert any("wallet postings 999" in p for p in problems)


def test_vat_split_rounds_to_the_cent() -> None:
    assert ledger.split_vat(1210, 21) == (1000, 210)
    assert ledger.split_vat(100, 21) == (83, 17)
    assert ledger.split_vat(1, 21) == (1, 0)
    assert ledger.split_vat(999, 0) == (999, 0)
    with pytest.raises(ValueError, match="percentage"):
        ledger.split_vat(100, 101)


async def test_database_refuses_a_negative_wallet(books: Books) -> None:
    await top_up(books, 100)
    with pytest.raises(IntegrityError):
        async with transaction(books.db) as db:
            await db.execute(update(LedgerAccount).where(LedgerAccount.kind == AccountKind.WALLET)
                             .values(balance=-1))
