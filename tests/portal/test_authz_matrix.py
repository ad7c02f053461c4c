"""The authorisation matrix: every route of the portal × every kind of visitor.

Each route declares one :class:`Access` level; this test asks every route as each visitor and
checks the access layer let exactly the right ones through (the ``X-Portal-Denied`` header
names a refusal, its absence means the handler ran). State-changing routes get a fresh data
set for each call, so one visitor's accepted action cannot change the next one's answer.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import delete
from yarl import URL

from tests.portal_harness import Portal
from webclient.portal.access import DENIED_HEADER, Access, access_of
from webclient.portal.db import Base, transaction, utcnow
from webclient.portal.models import (
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    SupportRequest,
    User,
    UserRole,
    WebSession,
)
from webclient.portal.security import sha256_hex

VISITORS = (
    "anonymous",
    "unactivated",
    "pending",
    "employee",
    "manager",
    "other_manager",
    "helpdesk",
    "admin",
)
ALLOWED: dict[Access, set[str]] = {
    Access.PUBLIC: set(VISITORS),
    Access.LOGGED_IN: set(VISITORS) - {"anonymous"},
    Access.ACTIVATED: set(VISITORS) - {"anonymous", "unactivated"},
    Access.MEMBER: {"pending", "employee", "manager"},
    Access.EMPLOYEE: {"employee", "manager"},
    Access.MANAGER: {"manager"},
    Access.HELPDESK: {"helpdesk", "admin"},
    Access.ADMIN: {"admin"},
}
# Why a visitor is refused, by level (the order of the access layer's checks).
ORG_LEVELS = {Access.MEMBER, Access.EMPLOYEE, Access.MANAGER}
CSRF = "matrix-csrf-token"
PARAM = re.compile(r"\{(\w+)(?::([^}]*))?\}")
CHOICES = re.compile(r"\(\?P<(\w+)>([\w-]+(?:\|[\w-]+)+)\)")
WORDS = re.compile(r"^\(?([\w-]+)(?:\|[\w-]+)*\)?$")


@dataclass
class Data:
    users: dict[str, User]
    organisation: Organisation
    other: Organisation
    memberships: dict[str, Membership]
    support_request: SupportRequest


def expected_refusal(level: Access, visitor: str) -> str | None:
    if visitor in ALLOWED[level]:
        return None
    if visitor == "anonymous":
        return "login"
    if visitor == "unactivated":
        return "activate"
    if level in ORG_LEVELS:
        if visitor == "pending":
            return "awaiting confirmation"
        if visitor == "employee":
            return "manager only"
        return "organisation"
    return "role"


async def reset(portal: Portal) -> Data:
    """Empty every table and write the data set, in one transaction (fast on both databases)."""
    now = utcnow()
    async with transaction(portal.db) as db:
        for table in reversed(Base.metadata.sorted_tables):
            await db.execute(delete(table))
        users = {
            name: User(
                username=name, first_name=name, last_name="Test", email=f"{name}@example.be",
                password_hash="-", password_changed_at=now, language="en",
                activated_at=None if name == "unactivated" else now,
                role={"helpdesk": UserRole.HELPDESK, "admin": UserRole.ADMIN}.get(
                    name, UserRole.USER
                ),
            )
            for name in VISITORS if name != "anonymous"
        }
        db.add_all(users.values())
        organisation, other = (
            Organisation(enterprise_number=number, name=name, legal_form="SRL", street="Rue 1",
                         postcode="1000", city="Bruxelles", email="org@example.be")
            for number, name in (("0403170701", "Immo SRL"), ("0202239951", "Other SRL"))
        )
        db.add_all([organisation, other])
        await db.flush()

        def member(user: str, org: Organisation, status: MembershipStatus,
                   role: MembershipRole) -> Membership:
            return Membership(user_id=users[user].id, organisation_id=org.id, status=status,
                              role=role, contact_email=f"{user}@example.be")

        confirmed, pending = MembershipStatus.CONFIRMED, MembershipStatus.PENDING
        memberships = {
            "manager": member("manager", organisation, confirmed, MembershipRole.MANAGER),
            "other_manager": member("other_manager", other, confirmed, MembershipRole.MANAGER),
            "pending": member("pending", organisation, pending, MembershipRole.EMPLOYEE),
            "employee": member("employee", organisation, confirmed, MembershipRole.EMPLOYEE),
        }
        db.add_all(memberships.values())
        request = SupportRequest(contact_email="x@example.be", question="?", support_code="ABCD")
        db.add(request)
    return Data(users, organisation, other, memberships, request)


async def sign_in(portal: Portal, data: Data, visitor: str) -> None:
    """A session for ``visitor`` written straight into the database (logging in through the
    form for each of several hundred requests would only test the login form)."""
    cookie = secrets.token_urlsafe(32)
    values: dict[str, Any] = {"csrf": CSRF}
    user = data.users.get(visitor)
    if user is not None:
        values.update(uid=user.id, pwd=user.password_changed_at.timestamp(), method="eid")
    async with transaction(portal.db) as db:
        db.add(WebSession(key=sha256_hex(cookie), data=json.dumps(values),
                          user_id=user.id if user else None,
                          expires_at=utcnow() + timedelta(hours=1)))
    portal.client.session.cookie_jar.clear()
    portal.client.session.cookie_jar.update_cookies(
        {"portal_session": cookie}, URL(portal.origin + "/")
    )


def fill(path: str, data: Data) -> str:
    values = {
        "org_id": str(data.organisation.id),
        "membership_id": str(data.memberships["employee"].id),
        "user_id": str(data.users["employee"].id),
        "request_id": str(data.support_request.id),
        "code": "cadastrefinder",
        "tool": "cadastrefinder",
    }

    def value(match: re.Match[str]) -> str:
        name, pattern = match.group(1), match.group(2)
        if name in values:
            return values[name]
        choice = WORDS.match(pattern or "")
        return choice.group(1) if choice else "1"  # ``{which:(act|summary)}`` → ``act``

    return PARAM.sub(value, path)


def routes(app: web.Application) -> Iterator[tuple[str, str, Access]]:
    seen = set()
    for route in app.router.routes():
        resource = route.resource
        if route.method == "HEAD" or resource is None or resource.canonical.startswith("/static"):
            continue
        level = access_of(route.handler)
        if level is None:
            continue
        template = resource.canonical
        # The canonical form drops a parameter's regex: put back word alternatives
        # (``{which:act|revocation|signed}``) so a path that matches can be made.
        pattern = resource.get_info().get("pattern")
        if isinstance(pattern, re.Pattern):
            for name, choices in CHOICES.findall(pattern.pattern):
                template = template.replace(f"{{{name}}}", f"{{{name}:{choices}}}")
        key = (route.method, template)
        if key not in seen:
            seen.add(key)
            yield route.method, template, level


async def ask(portal: Portal, method: str, path: str) -> tuple[int, str | None]:
    headers = {"X-CSRF-Token": CSRF, "Origin": portal.origin, "Accept": "text/html"}
    response = await portal.client.request(method, path, headers=headers,
                                           allow_redirects=False, data={})
    await response.read()
    return response.status, response.headers.get(DENIED_HEADER)


async def test_every_route_declares_a_level(sqlite_portal: Portal) -> None:
    app = sqlite_portal.app
    undeclared = [
        f"{r.method} {r.resource.canonical}" for r in app.router.routes()
        if r.resource is not None and not r.resource.canonical.startswith("/static")
        and r.method != "HEAD" and access_of(r.handler) is None
    ]
    assert undeclared == []


@pytest.mark.timeout(600)
async def test_authorisation_matrix(portal: Portal) -> None:
    app = portal.app
    table = sorted(routes(app))
    assert len(table) >= 3
    wrong: list[str] = []
    data = await reset(portal)
    dirty = False
    for visitor in VISITORS:
        for method, template, level in table:
            if dirty:
                data = await reset(portal)
            await sign_in(portal, data, visitor)
            status, denied = await ask(portal, method, fill(template, data))
            # A refused request never reached its handler: only an accepted change dirties.
            dirty = method != "GET" and denied is None
            expected = expected_refusal(level, visitor)
            if denied != expected or status >= 500:
                wrong.append(f"{method} {template} [{level.value}] as {visitor}: "
                             f"status {status}, refused {denied!r}, expected {expected!r}")
    assert not wrong, "\n".join(wrong)
