"""The ledger service: every movement of money is one journal entry with balanced postings.

Append-only: nothing here updates or deletes an entry or a posting once its transaction has
committed (the reference is set in the entry's own transaction, right after its id is
known). Amounts are integer cents. A wallet's balance is moved by a conditional UPDATE
(``... WHERE balance >= :amount``) in the caller's transaction: on PostgreSQL it takes the
row lock and re-checks the condition on the newest row, on SQLite the write lock is taken
at BEGIN (see ``db.py``), so concurrent debits can never overdraw a wallet.

Every function runs inside the caller's transaction, so a tool's own writes and its debit
commit (or roll back) together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from webclient.portal.db import utcnow
from webclient.portal.models.wallet import (
    AccountKind,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from webclient.portal.wallet.communication import wallet_communication

CREDIT_KINDS = frozenset(
    {EntryKind.TOPUP_ONLINE, EntryKind.TOPUP_TRANSFER, EntryKind.REFUND, EntryKind.ADJUSTMENT}
)
MAX_AMOUNT = 10**11
"""A billion euros in cents: anything larger is a bug, not a payment."""


class InsufficientBalance(Exception):
    """The wallet holds less than the debit needs; nothing was written."""

    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"wallet balance {balance} cents, {needed} cents needed")
        self.balance = balance
        self.needed = needed


def _check_amount(amount: int) -> None:
    # bool is an int subclass and a float is never a sum of cents.
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("amounts are integer cents")
    if not 0 < amount <= MAX_AMOUNT:
        raise ValueError("amount must be a positive number of cents")


async def _account(
    db: AsyncSession, kind: AccountKind, code: str, organisation_id: int | None = None
) -> LedgerAccount:
    """Get or create an account; two transactions creating it at once both end with it."""
    query = select(LedgerAccount).where(LedgerAccount.kind == kind, LedgerAccount.code == code)
    account = await db.scalar(query)
    if account is not None:
        return account
    try:
        async with db.begin_nested():
            account = LedgerAccount(
                kind=kind,
                code=code,
                organisation_id=organisation_id,
                balance=0,
                structured_communication=(
                    wallet_communication(organisation_id) if organisation_id is not None else None
                ),
            )
            db.add(account)
    except IntegrityError:
        # Another transaction created it first (PostgreSQL made us wait for its commit).
        account = await db.scalar(query.execution_options(populate_existing=True))
        if account is None:
            raise
    return account


async def wallet_account(db: AsyncSession, organisation_id: int) -> LedgerAccount:
    """The organisation's wallet account (created with its structured communication)."""
    return await _account(db, AccountKind.WALLET, f"org:{organisation_id}", organisation_id)


async def balance(db: AsyncSession, organisation_id: int) -> int:
    """The wallet's balance in cents (0 for an organisation that never had a wallet)."""
    value = await db.scalar(
        select(LedgerAccount.balance).where(
            LedgerAccount.kind == AccountKind.WALLET,
            LedgerAccount.organisation_id == organisation_id,
        )
    )
    return int(value or 0)


async def _existing(db: AsyncSession, idempotency_key: str) -> JournalEntry | None:
    return await db.scalar(
        select(JournalEntry)
        .where(JournalEntry.idempotency_key == idempotency_key)
        .execution_options(populate_existing=True)
    )


async def _move(db: AsyncSession, account: LedgerAccount, amount: int) -> None:
    await db.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account.id)
        .values(balance=LedgerAccount.balance + amount)
        .execution_options(synchronize_session=False)
    )


async def _refresh_balances(db: AsyncSession, *accounts: LedgerAccount) -> None:
    # The UPDATEs ran in SQL; the objects callers hold should show the new balances.
    for account in accounts:
        await db.refresh(account, ["balance"])


async def _write_entry(
    db: AsyncSession,
    *,
    organisation_id: int,
    kind: EntryKind,
    amount: int,
    product: str | None,
    idempotency_key: str,
    description: str,
    actor_id: int | None,
    details: dict[str, Any] | None,
    postings: list[tuple[LedgerAccount, int]],
) -> JournalEntry:
    now = utcnow()
    entry = JournalEntry(
        kind=kind,
        organisation_id=organisation_id,
        amount=amount,
        product=product,
        # Unique placeholder until the id is known, in this same transaction.
        reference=f"pending:{idempotency_key}"[:40],
        description=description[:300],
        idempotency_key=idempotency_key,
        actor_id=actor_id,
        created_at=now,
        details=dict(details or {}),
    )
    db.add(entry)
    await db.flush()
    entry.reference = f"TX-{now.year}-{entry.id:06d}"
    for account, value in postings:
        db.add(Posting(entry_id=entry.id, account_id=account.id, amount=value))
    await db.flush()
    return entry


async def credit(
    db: AsyncSession,
    *,
    organisation_id: int,
    amount: int,
    kind: EntryKind,
    source: tuple[AccountKind, str],
    idempotency_key: str,
    description: str,
    actor_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[JournalEntry, bool]:
    """Add ``amount`` cents to the wallet from ``source`` (e.g. ``("provider", "mollie")``).

    Returns ``(entry, created)``: a key already used returns its entry and ``False``.
    """
    _check_amount(amount)
    if kind not in CREDIT_KINDS:
        raise ValueError(f"{kind} is not a kind of credit")
    if source[0] is AccountKind.WALLET:
        raise ValueError("a credit's source cannot be a wallet")
    existing = await _existing(db, idempotency_key)
    if existing is not None:
        return existing, False
    wallet = await wallet_account(db, organisation_id)
    counterpart = await _account(db, source[0], source[1])
    try:
        async with db.begin_nested():
            await _move(db, wallet, amount)
            await _move(db, counterpart, -amount)
            entry = await _write_entry(
                db,
                organisation_id=organisation_id,
                kind=kind,
                amount=amount,
                product=None,
                idempotency_key=idempotency_key,
                description=description,
                actor_id=actor_id,
                details=details,
                postings=[(wallet, amount), (counterpart, -amount)],
            )
    except IntegrityError:
        # The same key committed by a concurrent transaction: the savepoint undid our moves.
        existing = await _existing(db, idempotency_key)
        if existing is None:
            raise
        return existing, False
    await _refresh_balances(db, wallet, counterpart)
    return entry, True


def split_vat(gross: int, vat_rate: int) -> tuple[int, int]:
    """(net, vat) of a VAT-inclusive amount in cents, rounded half up on the net."""
    if not 0 <= vat_rate <= 100:
        raise ValueError("vat_rate is a percentage")
    divisor = 100 + vat_rate
    net = (gross * 100 * 2 + divisor) // (2 * divisor)
    return net, gross - net


async def debit(
    db: AsyncSession,
    *,
    organisation_id: int,
    amount: int,
    product: str,
    idempotency_key: str,
    description: str,
    actor_id: int | None = None,
    vat_rate: int = 21,
    details: dict[str, Any] | None = None,
) -> tuple[JournalEntry, bool]:
    """Take ``amount`` cents (VAT included) from the wallet for ``product``.

    The net goes to ``("revenue", "product:<code>")``, the VAT to ``("vat", "vat")``.
    Raises :class:`InsufficientBalance` (nothing written) if the balance is too low.
    Returns ``(entry, created)`` like :func:`credit`.
    """
    _check_amount(amount)
    if not product or len(product) > 32:
        raise ValueError("a debit names its product (at most 32 characters)")
    existing = await _existing(db, idempotency_key)
    if existing is not None:
        return existing, False
    net, vat = split_vat(amount, vat_rate)
    wallet = await db.scalar(
        select(LedgerAccount).where(
            LedgerAccount.kind == AccountKind.WALLET,
            LedgerAccount.organisation_id == organisation_id,
        )
    )
    if wallet is None:
        raise InsufficientBalance(0, amount)
    try:
        async with db.begin_nested():
            taken = await db.execute(
                update(LedgerAccount)
                .where(LedgerAccount.id == wallet.id, LedgerAccount.balance >= amount)
                .values(balance=LedgerAccount.balance - amount)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise InsufficientBalance(await balance(db, organisation_id), amount)
            # Created under the savepoint: a refused debit leaves nothing behind.
            revenue = await _account(db, AccountKind.REVENUE, f"product:{product}")
            vat_account = await _account(db, AccountKind.VAT, "vat")
            # Always wallet first, then system accounts in id order: no lock-order deadlock.
            postings = [(wallet, -amount), (revenue, net)]
            if vat:
                postings.append((vat_account, vat))
            for account, value in sorted(postings[1:], key=lambda item: item[0].id):
                await _move(db, account, value)
            entry = await _write_entry(
                db,
                organisation_id=organisation_id,
                kind=EntryKind.DEBIT,
                amount=-amount,
                product=product,
                idempotency_key=idempotency_key,
                description=description,
                actor_id=actor_id,
                details={**(details or {}), "net": net, "vat": vat, "vat_rate": vat_rate},
                postings=postings,
            )
    except IntegrityError:
        existing = await _existing(db, idempotency_key)
        if existing is None:
            raise
        return existing, False
    await _refresh_balances(db, wallet, revenue, vat_account)
    return entry, True


async def verify_ledger(db: AsyncSession) -> list[str]:
    """Problems in the books; an empty list when everything adds up."""
    problems: list[str] = []
    unbalanced = await db.execute(
        select(JournalEntry.id, JournalEntry.reference, func.coalesce(func.sum(Posting.amount), 0))
        .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id, JournalEntry.reference)
        .having(
            (func.coalesce(func.sum(Posting.amount), 0) != 0) | (func.count(Posting.id) < 2)
        )
    )
    for entry_id, reference, total in unbalanced:
        problems.append(f"entry {reference} (#{entry_id}) postings sum to {total}, not 0")
    drift = await db.execute(
        select(
            LedgerAccount.id,
            LedgerAccount.kind,
            LedgerAccount.code,
            LedgerAccount.balance,
            func.coalesce(func.sum(Posting.amount), 0),
        )
        .outerjoin(Posting, Posting.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.code, LedgerAccount.balance)
        .having(LedgerAccount.balance != func.coalesce(func.sum(Posting.amount), 0))
    )
    for account_id, kind, code, stored, total in drift:
        problems.append(
            f"account {kind}:{code} (#{account_id}) balance {stored} != postings {total}"
        )
    negative = await db.execute(
        select(LedgerAccount.code, LedgerAccount.balance).where(
            LedgerAccount.kind == AccountKind.WALLET, LedgerAccount.balance < 0
        )
    )
    for code, stored in negative:
        problems.append(f"wallet {code} is negative: {stored}")
    # The entry's signed amount is what its organisation's wallet saw.
    wallet_side = await db.execute(
        select(JournalEntry.reference, JournalEntry.amount, func.sum(Posting.amount))
        .join(
            LedgerAccount,
            and_(
                LedgerAccount.kind == AccountKind.WALLET,
                LedgerAccount.organisation_id == JournalEntry.organisation_id,
            ),
        )
        .outerjoin(
            Posting,
            and_(Posting.entry_id == JournalEntry.id, Posting.account_id == LedgerAccount.id),
        )
        .group_by(JournalEntry.id, JournalEntry.reference, JournalEntry.amount)
        .having(JournalEntry.amount != func.coalesce(func.sum(Posting.amount), literal(0)))
    )
    for reference, amount, posted in wallet_side:
        problems.append(f"entry {reference} amount {amount} != wallet postings {posted}")
    return problems
