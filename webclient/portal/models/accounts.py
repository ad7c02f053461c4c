"""Personal accounts and the single-use codes and links mailed to them."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from webclient.portal.db import Base, UtcDateTime, utcnow


class UserRole(enum.StrEnum):
    USER = "user"
    HELPDESK = "helpdesk"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    """Chosen at creation, lowercase, never changed afterwards."""
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    """The personal address, activated (or waiting for activation while ``activated_at`` is
    null). A new address replaces it only once its code was entered."""
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    """Sessions opened before this instant are refused (a password change logs out others)."""
    role: Mapped[UserRole] = mapped_column(
        Enum(UserRole, native_enum=False, length=16), default=UserRole.USER
    )
    language: Mapped[str] = mapped_column(String(2), default="fr")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    phone: Mapped[str | None] = mapped_column(String(40))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """A profile picture the user uploads (never the card's photo). Deferred: the user is
    loaded on every request, the picture only by ``GET /profile/photo`` (test
    ``photo_type`` to know whether there is one)."""
    photo_type: Mapped[str | None] = mapped_column(String(40))

    # The linked eID. The national register number is personal data: only a keyed hash (for
    # "one card, one account" and matching the professional registers) and a sealed copy
    # (AES-GCM, for the forms that must carry it, e.g. the BCE syndic registration) are kept.
    eid_nrn_hmac: Mapped[str | None] = mapped_column(String(64), unique=True)
    eid_nrn_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    eid_linked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    birth_date: Mapped[date | None] = mapped_column()
    sex: Mapped[str | None] = mapped_column(String(1))
    """``M`` or ``F``, from the national register number once the eID is linked."""

    @property
    def activated(self) -> bool:
        return self.activated_at is not None

    @property
    def eid_linked(self) -> bool:
        return self.eid_nrn_hmac is not None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


# Usernames are unique whatever their case: two registrations racing for "jdupont" and
# "JDupont" cannot both win (the loser gets a friendly "already taken").
Index("uq_users_username_lower", func.lower(User.username), unique=True)


class EmailCode(Base):
    """A code mailed to an address: account activation, or a new address to confirm."""

    __tablename__ = "email_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    """``activate`` or ``change_email``."""
    email: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PasswordReset(Base):
    """A single-use, expiring password-reset link; only the token's hash is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
