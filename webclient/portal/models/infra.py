"""State that would otherwise live in a process: sessions, eID challenges, throttling.

Kept in the database so that any portal process behind the load balancer serves any request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webclient.portal.db import Base, UtcDateTime, utcnow


class WebSession(Base):
    __tablename__ = "web_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the cookie's value: a database dump gives no usable cookie."""
    data: Mapped[str] = mapped_column(Text, default="{}")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AuthNonce(Base):
    """An eID login challenge, bound to the web session it was issued to."""

    __tablename__ = "auth_nonces"
    __table_args__ = (Index("ix_auth_nonces_session_nonce", "session_key", "nonce", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_key: Mapped[str] = mapped_column(String(512))
    nonce: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class ThrottleEvent(Base):
    """One counted attempt (failed login, wrong code...) under a key such as
    ``login:user:jdupont``; counted over a sliding window."""

    __tablename__ = "throttle_events"
    __table_args__ = (Index("ix_throttle_events_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
