"""Professional registers (imported by an administrator) and the recognitions they give.

A register row names a person by national register number; only its keyed hash is kept, so
matching works without the number sitting in the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webclient.portal.db import Base, UtcDateTime, utcnow


class RegisterImport(Base):
    __tablename__ = "register_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    """Entries new in the register with this import (``rows`` - ``added`` were known)."""
    updated: Mapped[int] = mapped_column(Integer, default=0)
    """Known entries whose reference changed."""
    granted: Mapped[int] = mapped_column(Integer, default=0)
    """Recognitions given to already-linked users by this import."""
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RegisterEntry(Base):
    __tablename__ = "register_entries"
    __table_args__ = (UniqueConstraint("register", "nrn_hmac"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[str] = mapped_column(String(32))
    """A :class:`webclient.portal.catalogue.Recognition` value."""
    nrn_hmac: Mapped[str] = mapped_column(String(64), index=True)
    reference: Mapped[str] = mapped_column(String(64))
    """The register's own number for the person (IPI approval number...)."""
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("register_imports.id", ondelete="SET NULL")
    )
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UserRecognition(Base):
    __tablename__ = "user_recognitions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    recognition: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
