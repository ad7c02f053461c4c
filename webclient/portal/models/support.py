"""Questions sent to the helpdesk from the contact page, with the bridge's diagnostics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webclient.portal.db import Base, UtcDateTime, utcnow


class SupportRequest(Base):
    __tablename__ = "support_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    contact_email: Mapped[str] = mapped_column(String(254))
    tool: Mapped[str | None] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(Text)
    screenshot: Mapped[bytes | None] = mapped_column(LargeBinary)
    screenshot_type: Mapped[str | None] = mapped_column(String(40))
    support_code: Mapped[str | None] = mapped_column(String(32), index=True)
    report: Mapped[str | None] = mapped_column(Text)
    """The redacted diagnostics report (JSON) the bridge produced, as sent by the page."""
    failing_checks: Mapped[int] = mapped_column(Integer, default=0)
    warning_checks: Mapped[int] = mapped_column(Integer, default=0)
    browser: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When a helpdesk user last closed or reopened the request."""
    language: Mapped[str] = mapped_column(String(2), default="fr")
    """The language the question was asked in (for the acknowledgement and the answer)."""

    @property
    def reference(self) -> str:
        """What the requester quotes: shown on the page and in the acknowledgement mail."""
        return f"SR-{self.id:06d}"
