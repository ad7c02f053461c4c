"""BCE ACP: syndic registration requests, their history, and the signing state.

National register / BIS numbers are personal data: only a sealed copy (``security.seal``,
bound to the request id and the field) and a masked form for lists are stored.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from webclient.portal.db import Base, UtcDateTime, utcnow


class RequestKind(enum.StrEnum):
    APPOINTMENT = "appointment"
    """A new syndic (first registration or a successor filed on its own)."""
    CHANGE = "change"
    """The registered syndic's data changed (address, enterprise number, representative)."""
    END = "end"
    """End of the mandate (deregistration)."""
    END_AND_NEW = "end_and_new"
    """Outgoing syndic ended and incoming one registered in one movement: one request."""


class RequestStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    """Signed and paid; waiting for the enterprise counter."""
    REGISTERED = "registered"
    REJECTED = "rejected"


class SyndicKind(enum.StrEnum):
    NATURAL = "natural"
    LEGAL = "legal"


class AppointedBy(enum.StrEnum):
    GENERAL_ASSEMBLY = "general_assembly"
    JUDGE = "judge"
    """A provisional syndic appointed by a judge."""


class SyndicRequest(Base):
    __tablename__ = "syndic_requests"
    __table_args__ = (
        Index("ix_syndic_requests_org_status", "organisation_id", "status"),
        Index("ix_syndic_requests_status_submitted", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[RequestKind] = mapped_column(Enum(RequestKind, native_enum=False, length=16))
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, native_enum=False, length=16), default=RequestStatus.DRAFT)

    association_number: Mapped[str | None] = mapped_column(String(10), index=True)
    association_name: Mapped[str | None] = mapped_column(String(200))
    association_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    """Not yet in the BCE: the counter creates it (supplement)."""

    decision_date: Mapped[date | None] = mapped_column(Date)
    start_date: Mapped[date | None] = mapped_column(Date)
    """The mandate's start (appointment) or the effective date (change, end)."""
    appointed_by: Mapped[AppointedBy | None] = mapped_column(
        Enum(AppointedBy, native_enum=False, length=20))

    syndic_kind: Mapped[SyndicKind | None] = mapped_column(
        Enum(SyndicKind, native_enum=False, length=10))
    syndic_name: Mapped[str | None] = mapped_column(String(200))
    """Surname (natural person) or company name (legal person)."""
    syndic_first_names: Mapped[str | None] = mapped_column(String(200))
    syndic_profession: Mapped[str | None] = mapped_column(String(100))
    syndic_address: Mapped[str | None] = mapped_column(String(300))
    """Domicile or registered office."""
    syndic_legal_form: Mapped[str | None] = mapped_column(String(40))
    syndic_enterprise_number: Mapped[str | None] = mapped_column(String(10))
    syndic_person_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Natural person: their national register or BIS number, sealed."""
    syndic_person_masked: Mapped[str | None] = mapped_column(String(20))
    syndic_own_ipi: Mapped[bool] = mapped_column(Boolean, default=False)
    """Legal person holding its own IPI/BIV approval."""
    contact_details: Mapped[str | None] = mapped_column(Text)
    change_note: Mapped[str | None] = mapped_column(Text)
    """A change: what changed in the syndic's data."""
    """Phone/e-mail and where the internal rules and register of decisions are kept."""

    representative_named: Mapped[bool] = mapped_column(Boolean, default=False)
    """The appointment act names a representative of the legal-person syndic."""
    representative_name: Mapped[str | None] = mapped_column(String(200))
    representative_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    representative_masked: Mapped[str | None] = mapped_column(String(20))
    representative_authorised: Mapped[bool] = mapped_column(Boolean, default=False)
    """Authorised to practise real-estate activities (e.g. IPI/BIV approved)."""

    outgoing_name: Mapped[str | None] = mapped_column(String(200))
    """End / end + new: the syndic whose mandate ends."""
    outgoing_number: Mapped[str | None] = mapped_column(String(10))
    """Its enterprise number when it is a company (optional)."""

    act_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    act_filename: Mapped[str | None] = mapped_column(String(200))
    revocation_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    revocation_filename: Mapped[str | None] = mapped_column(String(200))

    due_date: Mapped[date | None] = mapped_column(Date)
    short_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    """Filed after the deadline: flagged for the counter, never refused."""
    fee: Mapped[int | None] = mapped_column(Integer)
    supplement: Mapped[int | None] = mapped_column(Integer)
    supplement_vat: Mapped[int | None] = mapped_column(Integer)
    fee_year: Mapped[int | None] = mapped_column(Integer)
    debit_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entries.id", ondelete="RESTRICT"))
    supplement_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entries.id", ondelete="RESTRICT"))

    signing_state: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Between "prepare" and "finish": the PDF with its reserved signature and attributes."""
    signing_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    signed_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    signer_name: Mapped[str | None] = mapped_column(String(200))
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    counter_reference: Mapped[str | None] = mapped_column(String(40), unique=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    retain_until: Mapped[date | None] = mapped_column(Date, index=True)
    """The counter keeps the file 5 years after it was filed; no deletion before."""

    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SyndicEvent(Base):
    """The request's history: created, submitted, registered, rejected, purged..."""

    __tablename__ = "syndic_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("syndic_requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
