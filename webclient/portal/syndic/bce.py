"""The enterprise counter, the boundary between the portal and the BCE/KBO.

Nobody can run the real Crossroads Bank for Enterprises here, so the portal files with a
:class:`BceCounter`; :class:`PortalCounter` is the counter inside the portal — its staff
work the back office (queue, check, registered/rejected). A connector to a real counter
implements the same protocol.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from webclient.portal.models.syndic import RequestKind, RequestStatus, SyndicRequest


class BceCounter(Protocol):
    async def is_known(self, db: AsyncSession, association_number: str) -> bool:
        """Whether the BCE already knows this association of co-owners."""

    async def file(self, db: AsyncSession, request: SyndicRequest) -> str:
        """Hand a signed, paid request to the counter; its reference there."""


class PortalCounter:
    """The in-portal counter: an association is known once a request for it was
    registered; filing puts the request in the back office's queue."""

    async def is_known(self, db: AsyncSession, association_number: str) -> bool:
        return bool(await db.scalar(select(exists().where(
            SyndicRequest.association_number == association_number,
            SyndicRequest.status == RequestStatus.REGISTERED,
            SyndicRequest.kind != RequestKind.END,
        ))))

    async def file(self, db: AsyncSession, request: SyndicRequest) -> str:
        assert request.submitted_at is not None
        return f"ACP-{request.submitted_at.year}-{request.id:06d}"


COUNTER: BceCounter = PortalCounter()
