"""The BCE ACP service: drafts, review, signature, payment and filing; the counter's
decisions; retention.

Filing is one transaction: the signed PDF, the wallet debit (idempotency key
``bceacp:<request id>``) and the status change commit together or not at all, so an
insufficient balance leaves the draft exactly as it was and no money moves.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.card.constants import HashAlgorithm
from bridge.tokens.format import verify_digest_signature
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationPolicy
from bridge.trust.validate import Purpose, Verdict, avalidate
from webclient.portal import security
from webclient.portal.db import utcnow
from webclient.portal.i18n import current_language, money
from webclient.portal.i18n import gettext as _
from webclient.portal.models import Organisation, User
from webclient.portal.models.syndic import (
    RequestKind,
    RequestStatus,
    SyndicEvent,
    SyndicKind,
    SyndicRequest,
)
from webclient.portal.syndic import deadlines, fees, signing
from webclient.portal.syndic.bce import COUNTER, BceCounter
from webclient.portal.syndic.rules import (
    WITH_APPOINTMENT,
    WITH_INCOMING,
    WITH_OUTGOING,
    Checked,
    check_pdf,
    format_enterprise,
    lacks_representative,
    mask_person_number,
)
from webclient.portal.syndic.summary import SummaryContext, kind_text, render_summary
from webclient.portal.wallet import ledger

log = logging.getLogger("webclient.portal.syndic")

PRODUCT = "bceacp"
RETENTION_YEARS = 5
BRUSSELS = ZoneInfo("Europe/Brussels")
SIGNING_TTL = timedelta(minutes=15)
"""How long a prepared signature waits for the card."""


class RequestError(Exception):
    """A rule refused the step; ``message`` is for the user (translated), ``code`` for
    scripts."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RetentionError(RequestError):
    pass


def today_in_belgium() -> date:
    return datetime.now(BRUSSELS).date()


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# -- sealed numbers -----------------------------------------------------------------------


def _context(item: SyndicRequest, field: str) -> bytes:
    return f"syndic:{item.id}:{field}".encode("ascii")


def seal_number(secret: bytes, item: SyndicRequest, field: str, number: str) -> bytes:
    return security.seal(secret, number.encode("ascii"), _context(item, field))


def unseal_number(secret: bytes, item: SyndicRequest, field: str) -> str | None:
    sealed = getattr(item, f"{field}_sealed")
    if not sealed:
        return None
    return security.unseal(secret, sealed, _context(item, field)).decode("ascii")


# -- drafts -------------------------------------------------------------------------------


def _event(db: AsyncSession, item: SyndicRequest, actor: User | None, action: str,
           note: str | None = None) -> None:
    db.add(SyndicEvent(request_id=item.id, actor_id=actor.id if actor else None,
                       action=action, note=note, at=utcnow()))


async def create_draft(db: AsyncSession, organisation_id: int, user: User, kind: RequestKind
                       ) -> SyndicRequest:
    item = SyndicRequest(organisation_id=organisation_id, created_by=user.id, kind=kind,
                         status=RequestStatus.DRAFT)
    db.add(item)
    await db.flush()
    _event(db, item, user, "created", kind.value)
    return item


async def request_of(db: AsyncSession, organisation_id: int, request_id: int
                     ) -> SyndicRequest | None:
    """One of this organisation's requests (never another's, whatever id is asked)."""
    item = await db.get(SyndicRequest, request_id)
    if item is None or item.organisation_id != organisation_id:
        return None
    return item


async def requests_of(db: AsyncSession, organisation_id: int) -> Sequence[SyndicRequest]:
    return (await db.scalars(select(SyndicRequest).where(
        SyndicRequest.organisation_id == organisation_id).order_by(
        SyndicRequest.id.desc()))).all()


def _require_draft(item: SyndicRequest) -> None:
    if item.status is not RequestStatus.DRAFT:
        raise RequestError("NOT_DRAFT", _("This request was already filed; it can no longer be "
                                          "changed. Start a new request for a change."))


async def save_draft(db: AsyncSession, secret: bytes, item: SyndicRequest, checked: Checked,
                     uploads: dict[str, tuple[str, bytes]]) -> dict[str, str]:
    """Store what passed; returns the errors (the uploads' among them)."""
    _require_draft(item)
    errors = dict(checked.errors)
    for name, value in checked.values.items():
        setattr(item, name, value)
    if checked.person_number:
        item.syndic_person_sealed = seal_number(secret, item, "syndic_person",
                                                checked.person_number)
        item.syndic_person_masked = mask_person_number(checked.person_number)
    if item.syndic_kind is SyndicKind.LEGAL:
        item.syndic_person_sealed = item.syndic_person_masked = None
    if checked.representative_number:
        item.representative_sealed = seal_number(secret, item, "representative",
                                                 checked.representative_number)
        item.representative_masked = mask_person_number(checked.representative_number)
    if item.syndic_kind is SyndicKind.NATURAL:
        item.representative_sealed = item.representative_masked = None
    for field, (filename, content) in uploads.items():
        problem = check_pdf(content)
        if problem:
            errors[field] = problem
            continue
        setattr(item, f"{field}_pdf", content)
        setattr(item, f"{field}_filename", (filename or "document.pdf")[-200:])
    # Any edit invalidates a signature being prepared over the old data.
    item.signing_state = None
    item.updated_at = utcnow()
    return errors


async def earlier_lacking(db: AsyncSession, organisation_id: int, association: str | None
                          ) -> SyndicRequest | None:
    """The association's last registration through this organisation, when it misses a
    representative that today's rules require (completed at its next change)."""
    if not association:
        return None
    last = await db.scalar(select(SyndicRequest).where(
        SyndicRequest.organisation_id == organisation_id,
        SyndicRequest.association_number == association,
        SyndicRequest.status == RequestStatus.REGISTERED,
        SyndicRequest.kind.in_([RequestKind.APPOINTMENT, RequestKind.END_AND_NEW,
                                RequestKind.CHANGE]),
    ).order_by(SyndicRequest.start_date.desc(), SyndicRequest.id.desc()).limit(1))
    if last is None or not lacks_representative(
            last.syndic_kind, last.representative_named, last.syndic_own_ipi,
            last.representative_sealed is not None):
        return None
    return last


def missing(item: SyndicRequest) -> list[str]:
    """What the draft still lacks before it can be signed (for the user)."""
    gaps: list[str] = []
    if not item.association_number or not item.association_name:
        gaps.append(_("the association's enterprise number and name"))
    if not item.decision_date or not item.start_date:
        gaps.append(_("the decision date and the start or effective date"))
    if item.kind in WITH_APPOINTMENT:
        if item.appointed_by is None:
            gaps.append(_("who appointed the syndic"))
        if not item.act_pdf:
            gaps.append(_("the extract of the appointment act (PDF)"))
    if item.kind in WITH_OUTGOING:
        if not item.outgoing_name:
            gaps.append(_("the outgoing syndic"))
        if not item.revocation_pdf:
            gaps.append(_("the proof of the revocation (PDF)"))
    if item.kind is RequestKind.CHANGE and not item.change_note:
        gaps.append(_("what changed"))
    if item.kind in WITH_INCOMING:
        if item.syndic_kind is None or not item.syndic_name or not item.syndic_address:
            gaps.append(_("the syndic's identity and address"))
        elif item.syndic_kind is SyndicKind.NATURAL and not item.syndic_person_sealed:
            gaps.append(_("the syndic's national register or BIS number"))
        elif item.syndic_kind is SyndicKind.LEGAL:
            if not item.syndic_enterprise_number:
                gaps.append(_("the syndic company's enterprise number"))
            if lacks_representative(item.syndic_kind, item.representative_named,
                                    item.syndic_own_ipi, item.representative_sealed is not None
                                    and bool(item.representative_name)):
                gaps.append(_("the representative"))
            elif (not item.representative_named and not item.syndic_own_ipi
                  and not item.representative_authorised):
                gaps.append(_("a representative authorised for real-estate activities"))
    return gaps


# -- deadline and price ------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    due: date
    short_notice: bool
    late: bool


def timing(item: SyndicRequest, today: date) -> Timing | None:
    if item.decision_date is None or item.start_date is None:
        return None
    due = deadlines.deadline(item.decision_date, item.start_date)
    return Timing(due.due, due.short_notice, deadlines.is_late(due.due, today))


def price_of(item: SyndicRequest, table: fees.FeeTable, today: date) -> fees.Price:
    return fees.price(table, today.year, unknown_association=item.association_unknown)


# -- summary and signature ----------------------------------------------------------------


async def summary_pdf(db: AsyncSession, item: SyndicRequest, table: fees.FeeTable,
                      today: date, requester: User) -> bytes:
    organisation = await db.get(Organisation, item.organisation_id)
    assert organisation is not None
    when = timing(item, today)
    cost = price_of(item, table, today)
    return render_summary(item, SummaryContext(
        organisation_name=organisation.name, organisation_number=organisation.enterprise_number,
        requester=f"{requester.first_name} {requester.last_name}",
        due=when.due if when else None, late=when.late if when else False,
        price_total=cost.total, fee=cost.fee, supplement=cost.supplement + cost.supplement_vat,
    ))


def signing_label(item: SyndicRequest) -> str:
    """What the bridge's PIN dialog shows (at most 200 characters)."""
    text = _("BCE ACP request no. %(id)s: %(kind)s, association %(number)s",
             id=item.id, kind=kind_text(item.kind).lower(),
             number=format_enterprise(item.association_number))
    return text[:200]


@dataclass(frozen=True)
class Trust:
    store: TrustStore
    intermediates: tuple[bytes, ...]
    revocation: RevocationPolicy


def _holder_number(certificate: bytes) -> str | None:
    try:
        cert = x509.load_der_x509_certificate(certificate)
    except ValueError:
        return None
    values = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(values[0].value) if values else None


def _holder_name(certificate: bytes) -> str:
    cert = x509.load_der_x509_certificate(certificate)
    given = cert.subject.get_attributes_for_oid(NameOID.GIVEN_NAME)
    surname = cert.subject.get_attributes_for_oid(NameOID.SURNAME)
    return " ".join(str(a[0].value) for a in (given, surname) if a)[:200]


async def check_certificate(trust: Trust, certificate: bytes, chain: Sequence[bytes]
                            ) -> Verdict:
    return await avalidate(certificate, intermediates=(*chain, *trust.intermediates),
                           purpose=Purpose.NON_REPUDIATION, store=trust.store,
                           revocation=trust.revocation)


def _verdict_error(verdict: Verdict) -> RequestError:
    return RequestError(verdict.code, verdict.message(current_language()))


@dataclass(frozen=True)
class ToSign:
    hash: str
    """base64 of the digest the card signs."""
    hash_function: str
    label: str


async def start_signing(db: AsyncSession, secret: bytes, trust: Trust, item: SyndicRequest,
                        user: User, certificate: bytes, chain: Sequence[bytes],
                        table: fees.FeeTable, today: date) -> ToSign:
    """Check the signer and their certificate, the draft and the balance; prepare the PDF."""
    _require_draft(item)
    gaps = missing(item)
    if gaps:
        raise RequestError("INCOMPLETE", _("Complete the request first: %(gaps)s.",
                                           gaps=", ".join(gaps)))
    holder = _holder_number(certificate)
    if user.eid_nrn_hmac is None or holder is None or not security.same(
            security.nrn_hmac(secret, holder), user.eid_nrn_hmac):
        raise RequestError("NOT_YOUR_CARD", _("Sign with your own eID card: the card in the "
                                              "reader belongs to someone else."))
    verdict = await check_certificate(trust, certificate, chain)
    if not verdict.ok:
        raise _verdict_error(verdict)
    cost = price_of(item, table, today)
    available = await ledger.balance(db, item.organisation_id)
    if available < cost.total:
        raise InsufficientFunds(cost.total, available)
    pdf = await summary_pdf(db, item, table, today, user)
    state = await signing.prepare(pdf, certificate, tuple(chain), name=_holder_name(certificate),
                                  reason=signing_label(item))
    item.signing_state = state.to_bytes()
    item.signing_started_at = utcnow()
    return ToSign(base64.b64encode(state.digest_to_sign).decode("ascii"),
                  state.hash_function, signing_label(item))


class InsufficientFunds(RequestError):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__("INSUFFICIENT_BALANCE", _(
            "The organisation's wallet holds %(balance)s; this request costs %(price)s. Top up "
            "the wallet, then sign again: your draft is kept.",
            balance=money(available), price=money(needed)))
        self.needed = needed
        self.available = available


async def finish_signing(db: AsyncSession, trust: Trust, item: SyndicRequest, user: User,
                         signature: bytes, table: fees.FeeTable, today: date,
                         counter: BceCounter = COUNTER) -> SyndicRequest:
    """Embed the card's signature, verify everything, debit the wallet, file the request."""
    _require_draft(item)
    if item.signing_state is None or item.signing_started_at is None or (
            utcnow() - item.signing_started_at > SIGNING_TTL):
        raise RequestError("SIGNING_EXPIRED", _("The signature was not completed in time. "
                                                "Sign again."))
    state = signing.PreparedSignature.from_bytes(item.signing_state)
    if not verify_digest_signature(state.certificate, state.digest_to_sign,
                                   HashAlgorithm(state.hash_function), signature):
        raise RequestError("SIGNATURE_INVALID", _("The signature does not match the request. "
                                                  "Sign again with the same card."))
    signed = await signing.finish(state, signature)
    roots = [r.public_bytes(Encoding.DER) for r in trust.store.all_roots]
    check = await signing.verify(signed, roots=roots,
                                 intermediates=[*state.chain, *trust.intermediates])
    if not check.ok:
        log.warning("PAdES check failed for request %s: %s", item.id, check.summary)
        raise RequestError("SIGNATURE_INVALID", _("The signed document did not verify. Sign "
                                                  "again; if it keeps failing, contact the "
                                                  "helpdesk."))
    verdict = await check_certificate(trust, state.certificate, state.chain)
    if not verdict.ok:
        raise _verdict_error(verdict)

    when = timing(item, today)
    cost = price_of(item, table, today)
    association = f"{format_enterprise(item.association_number)} {item.association_name}"
    details = {"request_id": item.id, "association_number": item.association_number,
               "association_name": item.association_name, "kind": item.kind.value,
               "fee_year": cost.year}
    try:
        entry, _created = await ledger.debit(
            db, organisation_id=item.organisation_id, amount=cost.fee, product=PRODUCT,
            idempotency_key=f"bceacp:{item.id}", actor_id=user.id, vat_rate=0,
            description=f"BCE ACP {kind_text(item.kind)} — {association}"[:300],
            details=details)
        item.debit_entry_id = entry.id
        if cost.supplement:
            # The counter's fee carries no VAT; the supplement does: a separate entry.
            extra, _created = await ledger.debit(
                db, organisation_id=item.organisation_id,
                amount=cost.supplement + cost.supplement_vat, product=PRODUCT,
                idempotency_key=f"bceacp:{item.id}:supplement", actor_id=user.id,
                vat_rate=table.supplement_vat_rate,
                description=f"BCE ACP {_('association unknown to the BCE')} — "
                            f"{association}"[:300], details=details)
            item.supplement_entry_id = extra.id
    except ledger.InsufficientBalance as short:
        raise InsufficientFunds(cost.total, short.balance) from None

    now = utcnow()
    item.signed_pdf = signed
    item.signer_name = _holder_name(state.certificate)
    item.signed_at = now
    item.signing_state = None
    item.status = RequestStatus.SUBMITTED
    item.submitted_at = now
    item.submitted_by = user.id
    item.fee, item.supplement, item.supplement_vat = cost.fee, cost.supplement, cost.supplement_vat
    item.fee_year = cost.year
    if when is not None:
        item.due_date, item.short_notice, item.late = when.due, when.short_notice, when.late
    item.retain_until = add_years(today, RETENTION_YEARS)
    item.updated_at = now
    item.counter_reference = await counter.file(db, item)
    _event(db, item, user, "submitted", "late" if item.late else None)
    return item


# -- the counter's decisions ----------------------------------------------------------------


async def decide(db: AsyncSession, item: SyndicRequest, actor: User, *, registered: bool,
                 reason: str = "") -> None:
    if registered is False and not reason.strip():
        raise RequestError("REASON_REQUIRED", _("Give the reason for the rejection: the "
                                                "requester reads it."))
    done = await db.execute(update(SyndicRequest).where(
        SyndicRequest.id == item.id, SyndicRequest.status == RequestStatus.SUBMITTED,
    ).values(status=RequestStatus.REGISTERED if registered else RequestStatus.REJECTED,
             decided_at=utcnow(), decided_by=actor.id,
             rejection_reason=None if registered else reason.strip()[:2000],
             updated_at=utcnow()).execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise RequestError("NOT_SUBMITTED", _("This request is not waiting for a decision "
                                              "(any more)."))
    await db.refresh(item)
    _event(db, item, actor, "registered" if registered else "rejected",
           None if registered else reason.strip()[:2000])


async def delete_draft(db: AsyncSession, item: SyndicRequest, actor: User) -> None:
    _require_draft(item)
    await db.delete(item)


async def purge(db: AsyncSession, item: SyndicRequest, today: date) -> None:
    """Delete a filed request's file: refused before its retention period ends."""
    if item.status is RequestStatus.DRAFT:
        await db.delete(item)
        return
    if item.retain_until is None or today <= item.retain_until:
        raise RetentionError("RETAINED", _("This file must be kept until %(date)s (5 years).",
                                           date=str(item.retain_until)))
    await db.delete(item)


async def purge_expired(db: AsyncSession, today: date) -> int:
    """Delete every filed request whose 5 years are over; the number deleted."""
    ids = list(await db.scalars(select(SyndicRequest.id).where(
        SyndicRequest.status != RequestStatus.DRAFT,
        SyndicRequest.retain_until.is_not(None), SyndicRequest.retain_until < today)))
    if ids:
        await db.execute(delete(SyndicEvent).where(SyndicEvent.request_id.in_(ids)))
        await db.execute(delete(SyndicRequest).where(SyndicRequest.id.in_(ids)))
    return len(ids)
