"""The portal under test: a real database (SQLite file or PostgreSQL), the real app served
on 127.0.0.1 by aiohttp's test server, a real SMTP catcher, the test PKI's trust.

``portal`` runs every test that uses it twice, on SQLite and on PostgreSQL. Helpers create
users, organisations and memberships directly in the database for tests that are not about
creating them.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationPolicy
from tests.bridge_harness import ServicePki
from webclient.portal.app import create_app
from webclient.portal.catalogue import Recognition
from webclient.portal.db import Base, make_engine, transaction, utcnow
from webclient.portal.keys import DB, VALIDATOR
from webclient.portal.mailcatcher import MailCatcher
from webclient.portal.models import (
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    User,
    UserRecognition,
    UserRole,
)
from webclient.portal.security import hash_password, nrn_hmac
from webclient.portal.settings import PortalSettings

SECRET = base64.b64decode("dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtISE=")
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# Hashing with argon2's defaults costs ~50 ms; users made directly share one hash.
_PASSWORD_HASH = hash_password(PASSWORD)


async def create_schema(url: str) -> None:
    import webclient.portal.models  # noqa: F401 - registers the tables

    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()


@dataclass
class Portal:
    client: TestClient[Any, Any]
    settings: PortalSettings
    mail: MailCatcher
    db: async_sessionmaker[AsyncSession]

    @property
    def app(self) -> web.Application:
        app: web.Application | None = self.client.app
        assert app is not None
        return app

    @property
    def origin(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def browser(self) -> Browser:
        """Another browser (its own cookie jar) on the same portal."""
        return Browser(self)

    # -- data made directly ----------------------------------------------------------------

    async def make_user(
        self,
        username: str,
        *,
        first_name: str = "Jan",
        last_name: str = "Peeters",
        email: str | None = None,
        activated: bool = True,
        role: UserRole = UserRole.USER,
        national_number: str | None = None,
        recognitions: tuple[Recognition, ...] = (),
        language: str = "en",
    ) -> User:
        async with transaction(self.db) as db:
            user = User(
                username=username,
                first_name=first_name,
                last_name=last_name,
                email=email or f"{username}@example.be",
                password_hash=_PASSWORD_HASH,
                role=role,
                language=language,
                activated_at=utcnow() if activated else None,
            )
            if national_number is not None:
                user.eid_nrn_hmac = nrn_hmac(SECRET, national_number)
                user.eid_linked_at = utcnow()
                user.birth_date = date(1980, 1, 1)
                user.sex = "M"
            db.add(user)
            await db.flush()
            for recognition in recognitions:
                db.add(UserRecognition(user_id=user.id, recognition=recognition.value,
                                       reference=f"{recognition.value}-{user.id}"))
        return user

    async def make_organisation(
        self, enterprise_number: str = "0403170701", name: str = "Immo Test SRL",
        *, manager: User | None = None,
    ) -> Organisation:
        async with transaction(self.db) as db:
            organisation = Organisation(
                enterprise_number=enterprise_number, name=name, legal_form="SRL",
                street="Rue de la Loi 16", postcode="1000", city="Bruxelles",
                email="info@immo.example.be",
                created_by=manager.id if manager else None,
            )
            db.add(organisation)
            await db.flush()
            if manager is not None:
                db.add(Membership(user_id=manager.id, organisation_id=organisation.id,
                                  status=MembershipStatus.CONFIRMED, role=MembershipRole.MANAGER,
                                  contact_email=manager.email, confirmed_at=utcnow()))
        return organisation

    async def make_membership(
        self, user: User, organisation: Organisation, *,
        status: MembershipStatus = MembershipStatus.CONFIRMED,
        role: MembershipRole = MembershipRole.EMPLOYEE,
    ) -> Membership:
        async with transaction(self.db) as db:
            membership = Membership(user_id=user.id, organisation_id=organisation.id,
                                    status=status, role=role, contact_email=user.email,
                                    confirmed_at=utcnow() if status is MembershipStatus.CONFIRMED
                                    else None)
            db.add(membership)
        return membership


class Browser:
    """One visitor: a cookie jar, the CSRF token read from the last page."""

    def __init__(self, portal: Portal, client: TestClient[Any, Any] | None = None) -> None:
        self.portal = portal
        if client is None:
            client = TestClient(portal.client.server)
            portal_clients.append(client)
        self.client = client
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        response = await self.client.get(path, **kwargs)
        if "text/html" in response.headers.get("Content-Type", ""):
            found = _CSRF.search(await response.text())
            if found:
                self.csrf = found.group(1)
        return response

    async def token(self) -> str:
        if not self.csrf:
            await self.get("/")
        return self.csrf

    async def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
                   ) -> ClientResponse:
        """A form post with the CSRF token, redirects not followed unless asked."""
        fields = {"_csrf": await self.token(), **(data or {})}
        kwargs.setdefault("allow_redirects", False)
        return await self.client.post(path, data=fields, **kwargs)

    async def post_json(self, path: str, body: Any, **kwargs: Any) -> ClientResponse:
        headers = {"X-CSRF-Token": await self.token(), **kwargs.pop("headers", {})}
        return await self.client.post(path, json=body, headers=headers, **kwargs)

    async def login(self, username: str, password: str = PASSWORD) -> ClientResponse:
        await self.get("/login")
        response = await self.post("/login", {"username": username, "password": password})
        assert response.status == 303, await response.text()
        await self.get("/")
        return response


portal_clients: list[TestClient[Any, Any]] = []


@pytest.fixture(scope="session")
def mail_catcher() -> Iterator[MailCatcher]:
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file, on tmpfs where there is one: the same SQLite, without waiting
    for the disk on every commit (the PostgreSQL cluster runs with fsync off likewise)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="portal-test-") as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / 'portal.sqlite3'}"
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'portal.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def portal_db_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


async def start_portal(
    url: str, service_pki: ServicePki, mail: MailCatcher, **overrides: Any
) -> AsyncIterator[Portal]:
    await create_schema(url)
    mail.clear()
    settings = PortalSettings(
        database_url=url,
        secret_key=SECRET,
        smtp_host=mail.host,
        smtp_port=mail.port,
        demo=True,
        **overrides,
    )
    app = create_app(
        settings,
        store=TrustStore.for_test_pki(service_pki.pki),
        intermediates=service_pki.ca_certificates,
        revocation=RevocationPolicy(),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    # The origin is known once the port is: tokens and forms are checked against it.
    settings.origin = str(server.make_url("")).rstrip("/")
    app[VALIDATOR].origin = settings.origin
    client = TestClient(server)
    await client.start_server()
    try:
        yield Portal(client, settings, mail, app[DB])
    finally:
        for extra in portal_clients:
            await extra.close()
        portal_clients.clear()
        await client.close()


@pytest.fixture
async def portal(
    portal_db_url: str, service_pki: ServicePki, mail_catcher: MailCatcher
) -> AsyncIterator[Portal]:
    """The portal on SQLite, then on PostgreSQL."""
    async for running in start_portal(portal_db_url, service_pki, mail_catcher):
        yield running


@pytest.fixture
async def sqlite_portal(
    sqlite_url: str, service_pki: ServicePki, mail_catcher: MailCatcher
) -> AsyncIterator[Portal]:
    """The portal on SQLite only (for tests whose subject is not the database)."""
    async for running in start_portal(sqlite_url, service_pki, mail_catcher):
        yield running


def browser(portal: Portal) -> Browser:
    """The portal's default client as a :class:`Browser`."""
    return Browser(portal, portal.client)


__all__ = ["PASSWORD", "SECRET", "Browser", "Portal", "browser", "create_schema"]
