"""The organisations' prepaid wallets: an append-only double-entry ledger in integer cents.

Every movement is one :class:`JournalEntry` whose :class:`Posting` rows sum to zero. Each
organisation has one wallet :class:`LedgerAccount`; the provider, bank, revenue and VAT sides
are system accounts. ``LedgerAccount.balance`` is the sum of the account's postings, kept in
the same transaction as the postings by a conditional UPDATE that refuses to go below zero —
the database guarantees the non-negative balance under concurrency, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from webclient.portal.db import Base, UtcDateTime, utcnow


class AccountKind(enum.StrEnum):
    WALLET = "wallet"
    """An organisation's prepaid balance (never negative)."""
    PROVIDER = "provider"
    """Money a payment provider owes us for confirmed online payments."""
    BANK = "bank"
    """Transfers received on our bank account (CODA statements)."""
    REVENUE = "revenue"
    """Products and services sold (one account per product)."""
    VAT = "vat"


class EntryKind(enum.StrEnum):
    TOPUP_ONLINE = "topup_online"
    TOPUP_TRANSFER = "topup_transfer"
    DEBIT = "debit"
    """Tool use paid from the wallet (a BCE ACP fee, a CadastreFinder search...)."""
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "code"),
        # The enum column stores member names ('WALLET'), not values.
        CheckConstraint("kind != 'WALLET' OR balance >= 0", name="wallet_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AccountKind] = mapped_column(Enum(AccountKind, native_enum=False, length=16))
    code: Mapped[str] = mapped_column(String(64))
    """``org:<id>`` for a wallet, ``bancontact``, ``bank``, ``product:<code>``, ``vat``."""
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), unique=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    """Cents: the sum of this account's postings (debits negative for a wallet)."""
    structured_communication: Mapped[str | None] = mapped_column(String(12), unique=True)
    """The wallet's OGM/VCS (12 digits) that bank transfers quote to be matched."""


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_org_at", "organisation_id", "created_at"),
        # The transactions page and its export sort by (date, id) or (amount, id) and filter
        # by type, product and period: these indexes hold every column involved, so counts
        # and filtered pages never visit the table (100k rows: milliseconds, not seconds).
        Index("ix_journal_entries_org_at_id", "organisation_id", "created_at", "id", "kind",
              "product"),
        Index("ix_journal_entries_org_amount_id", "organisation_id", "amount", "id", "kind",
              "product", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(Enum(EntryKind, native_enum=False, length=16))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    """Cents, signed from the wallet's side: a top-up is positive, a debit negative."""
    product: Mapped[str | None] = mapped_column(String(32))
    """What a debit paid for (``bceacp``, ``cadastrefinder``...)."""
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    """Shown to users and on vouchers (``TX-2026-000123``)."""
    description: Mapped[str] = mapped_column(String(300))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    """One movement per provider payment id, CODA movement, tool request...: a retry or a
    duplicate webhook finds the existing entry instead of counting twice."""
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))


class Posting(Base):
    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("journal_entries.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    """Cents; the postings of one entry sum to zero."""


class PaymentStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


class Payment(Base):
    """An online top-up at the payment provider; credited once, when confirmed as paid."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(32))
    """``bancontact`` or ``debitmastercard``."""
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[PaymentStatus] = mapped_column(
        Enum(PaymentStatus, native_enum=False, length=16), default=PaymentStatus.OPEN
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))


class BankStatement(Base):
    """An imported CODA file; the same file imported twice is recognised."""

    __tablename__ = "bank_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    account_iban: Mapped[str] = mapped_column(String(34))
    statement_number: Mapped[str] = mapped_column(String(16))
    statement_date: Mapped[date] = mapped_column()
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    movements: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)


class BankMovement(Base):
    """One credit movement of a statement: matched to a wallet by its structured
    communication, or left for an administrator to assign."""

    __tablename__ = "bank_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    movement_key: Mapped[str] = mapped_column(String(128), unique=True)
    """Account + statement + sequence: the same movement in another file is still one."""
    amount: Mapped[int] = mapped_column(BigInteger)
    value_date: Mapped[date] = mapped_column()
    counterparty_name: Mapped[str | None] = mapped_column(String(200))
    counterparty_iban: Mapped[str | None] = mapped_column(String(34))
    structured_communication: Mapped[str | None] = mapped_column(String(12))
    free_communication: Mapped[str | None] = mapped_column(String(300))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    status: Mapped[str] = mapped_column(String(16), default="unmatched")
    """``matched``, ``unmatched``, ``assigned`` (by hand) or ``ignored`` (not for us)."""


class Invoice(Base):
    """A monthly invoice per organisation; numbers are gap-free within a year."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("year", "sequence"),
        UniqueConstraint("organisation_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    period: Mapped[str] = mapped_column(String(7))
    """``YYYY-MM``."""
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    net: Mapped[int] = mapped_column(BigInteger)
    vat: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)


class InvoiceCounter(Base):
    """The last invoice number used per year, incremented in the invoice's transaction (a
    row lock on PostgreSQL, the write lock on SQLite): no gaps, no duplicates."""

    __tablename__ = "invoice_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class SimulatedPayment(Base):
    """A payment at the simulated provider (demo and tests only): its state lives in the
    database so every portal process sees the same checkout and answers the same re-fetch."""

    __tablename__ = "simulated_payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """``sim_<random>``, like a provider's own payment id."""
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    method: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(300))
    redirect_url: Mapped[str] = mapped_column(String(500))
    webhook_url: Mapped[str] = mapped_column(String(500))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    webhook_delay: Mapped[int] = mapped_column(Integer, default=0)
    """Seconds before the first webhook delivery (test mode ``delay``)."""
    webhook_copies: Mapped[int] = mapped_column(Integer, default=1)
    """Deliveries of each webhook (test mode ``duplicate``)."""
    failing_fetches: Mapped[int] = mapped_column(Integer, default=0)
    """Re-fetches still to answer as unreachable (test mode ``fail_first``)."""
