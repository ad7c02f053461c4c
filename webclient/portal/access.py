"""Who may call which route: every handler declares its :class:`Access`; nothing else is served.

The middleware loads the user from the session and, for routes under ``/org/{org_id}``, their
membership of that organisation. A route without a declaration answers 500 (and the app
refuses to start with one), so a new page cannot be left open by mistake. What is refused:

- not logged in → the login page (``next`` remembered) for a page, 401 for an API call;
- logged in, account not activated → the activation page;
- not a member of the organisation → 404 (whether it exists is nobody else's business);
- member, but without the needed role → 403.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy import select

from webclient.portal.db import transaction
from webclient.portal.keys import DB
from webclient.portal.models import Membership, MembershipRole, MembershipStatus, User, UserRole

USER = web.RequestKey("user", User)
MEMBERSHIP = web.RequestKey("membership", Membership)
AUTH_METHOD = web.RequestKey("auth_method", str)
DENIED_HEADER = "X-Portal-Denied"


class Access(enum.Enum):
    PUBLIC = "public"
    """Anyone, logged in or not."""
    LOGGED_IN = "logged_in"
    """Any logged-in account, activated or not (the activation page itself)."""
    ACTIVATED = "activated"
    MEMBER = "member"
    """Any membership of ``{org_id}``, even awaiting confirmation."""
    EMPLOYEE = "employee"
    """A confirmed membership of ``{org_id}`` (managers included)."""
    MANAGER = "manager"
    """A confirmed manager of ``{org_id}``."""
    HELPDESK = "helpdesk"
    ADMIN = "admin"


ORG_LEVELS = frozenset({Access.MEMBER, Access.EMPLOYEE, Access.MANAGER})
H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])


def requires(level: Access) -> Callable[[H], H]:
    def mark(handler: H) -> H:
        handler.access = level  # type: ignore[attr-defined]
        return handler

    return mark


def access_of(handler: object) -> Access | None:
    level = getattr(handler, "access", None)
    return level if isinstance(level, Access) else None


@dataclass
class Denied(Exception):
    status: int
    reason: str


MAX_ID = 2**31 - 1
"""Largest row id (PostgreSQL ``integer``): a longer number in a path is no row of ours."""


def parse_id(raw: str) -> int | None:
    """A path's row id, or ``None`` for anything that cannot name a row (so the database is
    never asked for ``abc`` or for a number beyond its integers, which PostgreSQL refuses)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def path_id(request: web.Request, name: str) -> int:
    """The row id in path parameter ``name``, or 404."""
    value = parse_id(request.match_info.get(name, ""))
    if value is None:
        raise web.HTTPNotFound()
    return value


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


async def load_user(request: web.Request) -> User | None:
    session = await get_session(request)
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    async with transaction(request.app[DB]) as db:
        user = await db.get(User, uid)
    if user is None or session.get("pwd") != user.password_changed_at.timestamp():
        # Deleted, or the password changed since this session logged in.
        session.invalidate()
        return None
    request[USER] = user
    method = session.get("method")
    request[AUTH_METHOD] = method if isinstance(method, str) else "password"
    return user


def current_user(request: web.Request) -> User | None:
    return request.get(USER)


async def _check(request: web.Request, level: Access) -> None:
    user = await load_user(request)
    if level is Access.PUBLIC:
        return
    if user is None:
        raise Denied(401, "login")
    if level is Access.LOGGED_IN:
        return
    if not user.activated:
        raise Denied(401, "activate")
    if level is Access.ACTIVATED:
        return
    if level is Access.HELPDESK:
        if user.role not in (UserRole.HELPDESK, UserRole.ADMIN):
            raise Denied(403, "role")
        return
    if level is Access.ADMIN:
        if user.role is not UserRole.ADMIN:
            raise Denied(403, "role")
        return
    org_id = parse_id(request.match_info.get("org_id", ""))
    if org_id is None:
        raise Denied(404, "organisation")
    async with transaction(request.app[DB]) as db:
        membership = await db.scalar(
            select(Membership).where(
                Membership.user_id == user.id, Membership.organisation_id == org_id
            )
        )
    if membership is None or membership.status is MembershipStatus.REFUSED:
        raise Denied(404, "organisation")
    request[MEMBERSHIP] = membership
    if level is Access.MEMBER:
        return
    if membership.status is not MembershipStatus.CONFIRMED:
        raise Denied(403, "awaiting confirmation")
    if level is Access.MANAGER and membership.role is not MembershipRole.MANAGER:
        raise Denied(403, "manager only")


def check_routes(app: web.Application) -> None:
    """Refuse to start with a route that declares no access level."""
    missing = [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in app.router.routes()
        if route.method != "HEAD"
        and access_of(route.handler) is None
        and not getattr(route.handler, "static", False)
        and route.resource is not None
        and not route.resource.canonical.startswith("/static")
    ]
    if missing:
        raise RuntimeError(f"routes without an access level: {', '.join(missing)}")


@web.middleware
async def access_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    route_handler = getattr(request.match_info, "handler", None)
    route = request.match_info.route
    if route.resource is not None and route.resource.canonical.startswith("/static"):
        return await handler(request)  # type: ignore[no-any-return]
    if isinstance(request.match_info.http_exception, web.HTTPException):
        await load_user(request)  # the 404 page still shows who is logged in
        return await handler(request)  # type: ignore[no-any-return]
    level = access_of(route_handler)
    if level is None:
        raise web.HTTPInternalServerError(reason="route without access level")
    try:
        await _check(request, level)
    except Denied as denied:
        # The header names the refusal for the authorisation tests and for support staff
        # reading a HAR file; it says nothing the status does not already imply.
        headers = {DENIED_HEADER: denied.reason}
        if denied.status == 401 and not _wants_json(request) and request.method == "GET":
            target = "/login" if denied.reason == "login" else "/activate"
            location = f"{target}?next={quote(request.path_qs, safe='')}"
            raise web.HTTPSeeOther(location, headers=headers) from None
        if denied.status == 401 and denied.reason == "activate" and not _wants_json(request):
            raise web.HTTPSeeOther("/activate", headers=headers) from None
        raise {401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound}[
            denied.status
        ](reason=denied.reason, headers=headers) from None
    return await handler(request)  # type: ignore[no-any-return]
