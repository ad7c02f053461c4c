"""Opening and closing a logged-in session; the one place that writes who is logged in.

The session remembers the user id, the instant of their last password change (a later change
ends this session everywhere) and how they proved who they are: ``password`` or ``eid``
(tools that require the eID accept only the latter).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from webclient.portal.models import User
from webclient.portal.sessions import restart_session

Method = Literal["password", "eid"]


async def log_in(request: web.Request, user: User, method: Method) -> None:
    await restart_session(
        request, uid=user.id, pwd=user.password_changed_at.timestamp(), method=method
    )


async def log_out(request: web.Request) -> None:
    session = await restart_session(request)
    session.invalidate()
