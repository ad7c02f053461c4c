"""Professional registers → recognitions.

An administrator imports a register (IPI, Fonds 323, CIB) as a CSV file naming people by
national register number. Only the keyed hash of each number is kept. A person gets the
recognition when their account is linked to the eID with that number: at linking time for
entries already imported, at import time for accounts linked earlier (a Fonds 323 listing
can take months to arrive).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webclient.portal import identity
from webclient.portal.catalogue import Recognition
from webclient.portal.db import transaction, utcnow
from webclient.portal.i18n import gettext as _
from webclient.portal.models import RegisterEntry, RegisterImport, User, UserRecognition
from webclient.portal.security import nrn_hmac

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 200_000
MAX_REFERENCE = 64
NUMBER_COLUMNS = frozenset(
    {"national_number", "nrn", "rijksregisternummer", "numero_national", "numéro_national"}
)
REFERENCE_COLUMNS = frozenset({"reference", "référence", "referentie", "register_number"})
_CHUNK = 1000


class RegisterFileError(ValueError):
    """The file as a whole cannot be imported; the message says why, for the administrator."""


@dataclass(frozen=True)
class Rejected:
    line: int
    number: str
    """Masked: the rejected value is personal data too."""
    reason: str


@dataclass
class ParsedRegister:
    rows: list[tuple[int, str, str]] = field(default_factory=list)
    """(line, national number, reference) of every valid row, once per number."""
    rejected: list[Rejected] = field(default_factory=list)


@dataclass
class ImportReport:
    register: Recognition
    rows: int
    added: int
    updated: int
    unchanged: int
    granted: int
    rejected: list[Rejected]
    import_id: int


def _column(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_").replace("-", "_")


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def parse_register(data: bytes) -> ParsedRegister:
    """The valid rows and the rejected ones (by line), or :class:`RegisterFileError` when
    the file is not a usable register at all."""
    if len(data) > MAX_BYTES:
        raise RegisterFileError(_("The file is larger than 5 MB. Split it and import the parts."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegisterFileError(
            _("The file is not UTF-8 text. Export the register as CSV (UTF-8) and try again.")
        ) from None
    if "\x00" in text:
        raise RegisterFileError(
            _("The file is not a CSV file. Export the register as CSV (UTF-8) and try again.")
        )
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), "")
    if not header_line:
        raise RegisterFileError(_("The file is empty."))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header_line))
    parsed = ParsedRegister()
    try:
        header: list[str] | None = None
        number_at = reference_at = -1
        seen: dict[str, int] = {}
        count = 0
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [_column(cell) for cell in record]
                number_at = next((i for i, n in enumerate(header) if n in NUMBER_COLUMNS), -1)
                reference_at = next(
                    (i for i, n in enumerate(header) if n in REFERENCE_COLUMNS), -1
                )
                if number_at < 0 or reference_at < 0:
                    raise RegisterFileError(
                        _("The file needs a header row with the columns national_number and "
                          "reference (separated by ; or ,). Add them and try again.")
                    )
                continue
            count += 1
            if count > MAX_ROWS:
                raise RegisterFileError(
                    _("The file has more than 200,000 rows. Split it and import the parts.")
                )
            line = reader.line_num
            raw_number = record[number_at].strip() if number_at < len(record) else ""
            reference = record[reference_at].strip() if reference_at < len(record) else ""
            number = identity.compact(raw_number)
            masked = identity.mask(number)
            if not number:
                parsed.rejected.append(Rejected(line, "", _("no national register number")))
            elif not identity.is_national_number(number):
                parsed.rejected.append(
                    Rejected(line, masked, _("not a valid national register number"))
                )
            elif not reference:
                parsed.rejected.append(Rejected(line, masked, _("no register number")))
            elif len(reference) > MAX_REFERENCE:
                parsed.rejected.append(
                    Rejected(line, masked, _("register number longer than 64 characters"))
                )
            elif number in seen:
                parsed.rejected.append(
                    Rejected(line, masked, _("same person as line %(line)s", line=seen[number]))
                )
            else:
                seen[number] = line
                parsed.rows.append((line, number, reference))
    except csv.Error:
        raise RegisterFileError(
            _("The file is not a readable CSV file. Export the register as CSV (UTF-8) and "
              "try again.")
        ) from None
    if header is None:
        raise RegisterFileError(_("The file is empty."))
    return parsed


async def _grant_pending(db: AsyncSession, register: Recognition) -> int:
    """Gives ``register`` to every linked user listed in it who lacks it; refreshes the
    reference of those who have it. Returns how many were given."""
    missing = (
        await db.execute(
            select(User.id, RegisterEntry.reference)
            .join(RegisterEntry, RegisterEntry.nrn_hmac == User.eid_nrn_hmac)
            .outerjoin(
                UserRecognition,
                and_(
                    UserRecognition.user_id == User.id,
                    UserRecognition.recognition == register.value,
                ),
            )
            .where(RegisterEntry.register == register.value, UserRecognition.user_id.is_(None))
        )
    ).all()
    now = utcnow()
    for user_id, reference in missing:
        db.add(UserRecognition(user_id=user_id, recognition=register.value,
                               reference=reference, granted_at=now))
    changed = (
        await db.execute(
            select(UserRecognition, RegisterEntry.reference)
            .join(User, User.id == UserRecognition.user_id)
            .join(RegisterEntry, RegisterEntry.nrn_hmac == User.eid_nrn_hmac)
            .where(
                UserRecognition.recognition == register.value,
                RegisterEntry.register == register.value,
                UserRecognition.reference != RegisterEntry.reference,
            )
        )
    ).all()
    for recognition, reference in changed:
        recognition.reference = reference
    return len(missing)


async def import_register(
    maker: async_sessionmaker[AsyncSession],
    secret: bytes,
    register: Recognition,
    filename: str,
    data: bytes,
    *,
    imported_by: int | None = None,
) -> ImportReport:
    """Imports ``data`` (CSV) into ``register`` in one transaction and grants what it
    gives. :class:`RegisterFileError` (nothing changed) when the file is unusable."""
    parsed = parse_register(data)
    hashed = {nrn_hmac(secret, number): reference for _line, number, reference in parsed.rows}
    async with transaction(maker) as db:
        record = RegisterImport(
            register=register.value,
            filename=filename[:255] or "-",
            rows=len(parsed.rows),
            rejected=len(parsed.rejected),
            imported_by=imported_by,
            imported_at=utcnow(),
        )
        db.add(record)
        await db.flush()
        known = {
            digest: (entry_id, reference)
            for entry_id, digest, reference in (
                await db.execute(
                    select(RegisterEntry.id, RegisterEntry.nrn_hmac, RegisterEntry.reference)
                    .where(RegisterEntry.register == register.value)
                )
            ).all()
        }
        now = utcnow()
        new_rows = [
            {"register": register.value, "nrn_hmac": digest, "reference": reference,
             "import_id": record.id, "imported_at": now}
            for digest, reference in hashed.items()
            if digest not in known
        ]
        changed_rows = [
            {"id": known[digest][0], "reference": reference, "import_id": record.id,
             "imported_at": now}
            for digest, reference in hashed.items()
            if digest in known and known[digest][1] != reference
        ]
        for start in range(0, len(new_rows), _CHUNK):
            await db.execute(insert(RegisterEntry), new_rows[start:start + _CHUNK])
        for start in range(0, len(changed_rows), _CHUNK):
            await db.execute(update(RegisterEntry), changed_rows[start:start + _CHUNK])
        granted = await _grant_pending(db, register)
        record.added = len(new_rows)
        record.updated = len(changed_rows)
        record.granted = granted
    return ImportReport(
        register=register,
        rows=len(parsed.rows),
        added=len(new_rows),
        updated=len(changed_rows),
        unchanged=len(hashed) - len(new_rows) - len(changed_rows),
        granted=granted,
        rejected=parsed.rejected,
        import_id=record.id,
    )


async def grant_for_user(db: AsyncSession, user: User) -> list[Recognition]:
    """Gives ``user`` (linked to an eID) every recognition the imported registers list for
    their number and they lack; returns those added."""
    if user.eid_nrn_hmac is None:
        return []
    entries = (
        await db.scalars(select(RegisterEntry).where(RegisterEntry.nrn_hmac == user.eid_nrn_hmac))
    ).all()
    held = set(
        (
            await db.scalars(
                select(UserRecognition.recognition).where(UserRecognition.user_id == user.id)
            )
        ).all()
    )
    added: list[Recognition] = []
    for entry in sorted(entries, key=lambda e: e.register):
        try:
            recognition = Recognition(entry.register)
        except ValueError:  # a register since removed from the catalogue
            continue
        if recognition.value in held:
            continue
        db.add(UserRecognition(user_id=user.id, recognition=recognition.value,
                               reference=entry.reference, granted_at=utcnow()))
        held.add(recognition.value)
        added.append(recognition)
    return added
