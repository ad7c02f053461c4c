"""Top-ups by bank transfer: the EPC QR code that prefills a transfer, and the import of the
bank's CODA statements that credits the wallets the transfers name.

A credit movement whose structured communication (type 101) is a wallet's is credited at once;
any other credit waits for an administrator (assign it to an organisation, or ignore it);
debits are not ours to handle. One movement is credited once, whatever file brings it again
(key: account + statement + sequence), and the same file is recognised by its SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import segno
from coda import CODA
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.be import iban as be_iban

from webclient.portal.models import (
    AccountKind,
    BankMovement,
    BankStatement,
    EntryKind,
    JournalEntry,
    Organisation,
)
from webclient.portal.wallet import ledger
from webclient.portal.wallet.communication import organisation_of

log = logging.getLogger("webclient.portal.wallet")

BANK_ACCOUNT = (AccountKind.BANK, "bank")
MAX_CODA_BYTES = 5 * 1024 * 1024


# -- EPC QR (EPC069-12) ----------------------------------------------------------------------


def epc_payload(*, name: str, iban: str, bic: str, communication: str,
                amount: int | None = None) -> str:
    """The text of an EPC QR code (version 002, UTF-8, SEPA credit transfer).

    The wallet's 12-digit structured communication goes in the structured remittance field,
    where Belgian banking apps read it; the amount may be left for the payer to fill in."""
    if amount is not None and not 1 <= amount <= 99_999_999_999:
        raise ValueError("EPC amounts are 0.01 to 999999999.99 euros")
    lines = [
        "BCD", "002", "1", "SCT",
        bic.replace(" ", ""),
        name[:70],
        iban.replace(" ", "").upper(),
        f"EUR{amount // 100}.{amount % 100:02d}" if amount is not None else "",
        "",  # purpose
        communication,  # structured remittance
        "",  # unstructured remittance (one of the two only)
    ]
    return "\n".join(lines)


def epc_qr_png(payload: str, scale: int = 5) -> bytes:
    # EPC069-12: error correction M, at most version 13.
    qr = segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")
    if qr.version > 13:  # type: ignore[operator]
        raise ValueError("EPC payload too long for a version 13 QR code")
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


# -- CODA ------------------------------------------------------------------------------------


class CodaError(Exception):
    """The file is not a CODA statement the portal can import; nothing was changed."""


class AlreadyImported(CodaError):
    """This very file was imported before."""


class WrongAccount(CodaError):
    """The statement is of another bank account than the portal's."""

    def __init__(self, found: str, expected: str) -> None:
        super().__init__(f"statement of {found}, not of {expected}")
        self.found = found
        self.expected = expected


@dataclass(frozen=True)
class ParsedMovement:
    key: str
    amount: int
    """Cents, signed (credits positive)."""
    value_date: date
    structured_communication: str | None
    free_communication: str | None
    counterparty_name: str | None
    counterparty_iban: str | None
    globalised: bool


@dataclass
class ParsedStatement:
    account: str
    number: str
    date: date
    movements: list[ParsedMovement] = field(default_factory=list)


@dataclass
class ImportResult:
    statements: int = 0
    credited: int = 0
    """Movements credited to a wallet by their structured communication."""
    unmatched: int = 0
    duplicates: int = 0
    """Movements already imported from another file."""
    ignored_debits: int = 0
    credited_amount: int = 0


def _cents(value: Decimal) -> int:
    cents = value * 100
    if cents != cents.to_integral_value():
        raise CodaError("an amount has fractions of a cent")
    return int(cents)


def _iban(value: str) -> str:
    return value.replace(" ", "").upper()


def parse_coda(data: bytes) -> list[ParsedStatement]:
    """Every statement of a CODA 2.x file; :class:`CodaError` on anything malformed."""
    if not data.strip():
        raise CodaError("the file is empty")
    if len(data) > MAX_CODA_BYTES:
        raise CodaError("the file is too large for a CODA statement")
    try:
        text = data.decode("windows-1252")
    except UnicodeDecodeError:
        raise CodaError("the file is not text") from None
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    if not lines[0].startswith("0") or not lines[-1].startswith("9"):
        raise CodaError("a CODA file starts with record 0 and ends with record 9")
    for line_number, line in enumerate(lines, 1):
        if len(line) != 128:
            raise CodaError(f"line {line_number} is {len(line)} characters long, not 128")
    try:
        parsed: Any = CODA(io.StringIO("\n".join(lines) + "\n"))
        statements = []
        for raw in parsed.statements:
            if raw.new_balance_date is None or raw.account_currency != "EUR":
                raise CodaError("only complete EUR statements can be imported")
            account = _iban(raw.account)
            number = f"{raw.new_balance_date:%Y}-{raw.new_sequence}"
            statement = ParsedStatement(account, number, raw.new_balance_date)
            for move in raw.moves:
                statement.movements.append(_movement(account, number, move))
            statements.append(statement)
    except CodaError:
        raise
    except (ValueError, AssertionError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise CodaError(f"the file is not a valid CODA 2 statement ({exc.__class__.__name__})"
                        ) from None
    if not statements:
        raise CodaError("the file holds no statement")
    return statements


def _movement(account: str, number: str, move: Any) -> ParsedMovement:
    structured = None
    free = None
    if move.communication_type == "101":
        structured = str(move.communication).strip() or None
    elif move.communication_type is None:
        free = str(move.communication).strip()[:300] or None
    counterparty_iban = (move.counterparty_account or "").split(" ")[0] or None
    return ParsedMovement(
        key=f"coda:{account}:{number}:{move.sequence}{move.detail_sequence}",
        amount=_cents(move.amount),
        value_date=move.value_date,
        structured_communication=structured,
        free_communication=free,
        counterparty_name=(move.counterparty_name or None),
        counterparty_iban=counterparty_iban[:34] if counterparty_iban else None,
        # A batch (type 1) carries its details below it: its communication names no wallet.
        globalised=move.transaction_type == "1" or bool(move.moves),
    )


async def import_coda(
    db: AsyncSession, data: bytes, *, bank_iban: str, actor_id: int | None
) -> ImportResult:
    """Import a CODA file in the caller's transaction (all or nothing)."""
    statements = parse_coda(data)
    ours = _iban(bank_iban)
    for statement in statements:
        if statement.account != ours:
            raise WrongAccount(statement.account, ours)
    digest = hashlib.sha256(data).hexdigest()
    if await db.scalar(select(BankStatement.id).where(BankStatement.sha256 == digest)):
        raise AlreadyImported("this file was already imported")
    result = ImportResult()
    for index, statement in enumerate(statements):
        row = BankStatement(
            # A file with several statements: one row each, the first under the file's hash.
            sha256=digest if index == 0 else hashlib.sha256(f"{digest}:{index}".encode())
            .hexdigest(),
            account_iban=statement.account, statement_number=statement.number,
            statement_date=statement.date, imported_by=actor_id,
        )
        db.add(row)
        try:
            async with db.begin_nested():
                await db.flush()
        except IntegrityError:
            raise AlreadyImported("this file was already imported") from None
        result.statements += 1
        for movement in statement.movements:
            if movement.amount <= 0:
                result.ignored_debits += 1
                continue
            await _record(db, row, movement, actor_id, result)
    return result


async def _record(db: AsyncSession, statement: BankStatement, movement: ParsedMovement,
                  actor_id: int | None, result: ImportResult) -> None:
    if await db.scalar(select(BankMovement.id).where(
            BankMovement.movement_key == movement.key)) is not None:
        result.duplicates += 1
        return
    organisation_id = None
    if movement.structured_communication and not movement.globalised:
        candidate = organisation_of(movement.structured_communication)
        if candidate is not None and await db.get(Organisation, candidate) is not None:
            organisation_id = candidate
    row = BankMovement(
        statement_id=statement.id, movement_key=movement.key, amount=movement.amount,
        value_date=movement.value_date, counterparty_name=movement.counterparty_name,
        counterparty_iban=movement.counterparty_iban,
        structured_communication=movement.structured_communication,
        free_communication=movement.free_communication,
        status="unmatched",
    )
    db.add(row)
    await db.flush()
    statement.movements += 1
    if organisation_id is None:
        result.unmatched += 1
        return
    entry = await _credit(db, row, organisation_id, actor_id)
    row.organisation_id = organisation_id
    row.entry_id = entry.id
    row.status = "matched"
    statement.matched += 1
    result.credited += 1
    result.credited_amount += movement.amount


async def _credit(db: AsyncSession, movement: BankMovement, organisation_id: int,
                  actor_id: int | None) -> JournalEntry:
    entry, _ = await ledger.credit(
        db, organisation_id=organisation_id, amount=movement.amount,
        kind=EntryKind.TOPUP_TRANSFER, source=BANK_ACCOUNT,
        idempotency_key=movement.movement_key,
        description="Bank transfer", actor_id=actor_id,
        details={"movement": movement.id, "value_date": movement.value_date.isoformat(),
                 "counterparty": movement.counterparty_name or ""},
    )
    return entry


class MovementNotOpen(Exception):
    """The movement was already credited or ignored (maybe by another administrator)."""


async def assign_movement(db: AsyncSession, movement_id: int, organisation_id: int,
                          actor_id: int | None) -> JournalEntry:
    """Credit an unmatched movement to an organisation chosen by an administrator."""
    if await db.get(Organisation, organisation_id) is None:
        raise LookupError("no such organisation")
    # Claim it first: of two administrators assigning at once, one wins.
    claimed = await db.execute(
        update(BankMovement)
        .where(BankMovement.id == movement_id, BankMovement.status == "unmatched")
        .values(status="assigned", organisation_id=organisation_id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise MovementNotOpen(movement_id)
    movement = await db.scalar(select(BankMovement).where(BankMovement.id == movement_id)
                               .execution_options(populate_existing=True))
    assert movement is not None
    entry = await _credit(db, movement, organisation_id, actor_id)
    movement.entry_id = entry.id
    await db.flush()
    return entry


async def ignore_movement(db: AsyncSession, movement_id: int) -> None:
    ignored = await db.execute(
        update(BankMovement)
        .where(BankMovement.id == movement_id, BankMovement.status == "unmatched")
        .values(status="ignored")
        .execution_options(synchronize_session=False)
    )
    if ignored.rowcount != 1:  # type: ignore[attr-defined]
        raise MovementNotOpen(movement_id)


def valid_belgian_iban(value: str) -> bool:
    return bool(be_iban.is_valid(value))
