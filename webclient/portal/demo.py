"""The portal in demo mode: an SQLite file seeded with demo organisations, people and
professional registers, the mail catcher, trust in the test PKI.

Started by ``eid-bridge demo`` beside the bridge and its virtual card. The virtual cards'
national numbers are in the demo IPI register, so linking the virtual card to a new account
shows a recognition arriving.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridge.trust.anchors import TrustStore
from webclient.portal.access import Access
from webclient.portal.app import create_app
from webclient.portal.catalogue import Recognition
from webclient.portal.db import transaction, utcnow
from webclient.portal.keys import DB
from webclient.portal.mailcatcher import MailCatcher, catcher_app
from webclient.portal.migrate import aupgrade
from webclient.portal.models import (
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    OrganisationTool,
    RegisterEntry,
    ToolAccess,
    User,
    UserRecognition,
    UserRole,
)
from webclient.portal.security import hash_password, nrn_hmac
from webclient.portal.settings import PortalSettings

DEMO_PORT = 8080
DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed on the demo console
# The virtual cards' holders (bridge.emulator.profiles): citizen-1.8 and citizen-1.7.
VIRTUAL_CARD_NUMBERS = ("90021512469", "85073003328")


@dataclass(frozen=True)
class DemoPortal:
    origin: str
    mail_page: str
    users: tuple[str, ...]


def _secret(folder: Path) -> bytes:
    path = folder / "portal-demo-secret"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return base64.b64decode(path.read_text().strip())


async def seed(db: async_sessionmaker[AsyncSession], secret: bytes,
               national_numbers: Sequence[str] = VIRTUAL_CARD_NUMBERS) -> bool:
    """Demo data, once (an already seeded database is left as it is)."""
    async with transaction(db) as s:
        if await s.scalar(select(func.count()).select_from(User)):
            return False
        password = hash_password(DEMO_PASSWORD)
        now = utcnow()

        def person(username: str, first: str, last: str, role: UserRole = UserRole.USER,
                   language: str = "fr") -> User:
            return User(username=username, first_name=first, last_name=last,
                        email=f"{username}@demo.example", password_hash=password, role=role,
                        language=language, activated_at=now)

        people = {
            "admin": person("admin", "Alice", "Admin", UserRole.ADMIN, "en"),
            "helpdesk": person("helpdesk", "Hugo", "Helpdesk", UserRole.HELPDESK),
            "sophie.lambert": person("sophie.lambert", "Sophie", "Lambert"),
            "pieter.janssens": person("pieter.janssens", "Pieter", "Janssens", language="nl"),
            "lucas.martin": person("lucas.martin", "Lucas", "Martin"),
            "emma.claes": person("emma.claes", "Emma", "Claes", language="nl"),
        }
        s.add_all(people.values())
        agencies = [
            Organisation(enterprise_number="0417497106", name="Agence Immo Sablon SRL",
                         legal_form="SRL", street="Place du Grand Sablon 12", postcode="1000",
                         city="Bruxelles", email="info@sablon.demo.example"),
            Organisation(enterprise_number="0860244993", name="Vastgoed Schelde BV",
                         legal_form="BV", street="Meir 48", postcode="2000", city="Antwerpen",
                         email="info@schelde.demo.example"),
        ]
        s.add_all(agencies)
        await s.flush()
        sablon, schelde = agencies
        s.add_all([
            UserRecognition(user_id=people["sophie.lambert"].id, recognition=Recognition.IPI,
                            reference="IPI 512.345"),
            UserRecognition(user_id=people["pieter.janssens"].id, recognition=Recognition.CIB,
                            reference="CIB 10442"),
            UserRecognition(user_id=people["pieter.janssens"].id, recognition=Recognition.IPI,
                            reference="BIV 508.771"),
        ])
        memberships = [
            Membership(user_id=people["sophie.lambert"].id, organisation_id=sablon.id,
                       status=MembershipStatus.CONFIRMED, role=MembershipRole.MANAGER,
                       contact_email="sophie@sablon.demo.example", job_title="Gérante",
                       confirmed_at=now),
            Membership(user_id=people["lucas.martin"].id, organisation_id=sablon.id,
                       status=MembershipStatus.CONFIRMED, role=MembershipRole.EMPLOYEE,
                       contact_email="lucas@sablon.demo.example", job_title="Agent",
                       confirmed_at=now),
            Membership(user_id=people["emma.claes"].id, organisation_id=sablon.id,
                       status=MembershipStatus.PENDING, role=MembershipRole.EMPLOYEE,
                       contact_email="emma@sablon.demo.example", job_title="Assistante"),
            Membership(user_id=people["pieter.janssens"].id, organisation_id=schelde.id,
                       status=MembershipStatus.CONFIRMED, role=MembershipRole.MANAGER,
                       contact_email="pieter@schelde.demo.example", job_title="Zaakvoerder",
                       confirmed_at=now),
        ]
        s.add_all(memberships)
        await s.flush()
        for organisation, tools in ((sablon, ("cadastrefinder", "bceacp", "antiblanchiment")),
                                    (schelde, ("myrentpro", "cibweb"))):
            s.add_all(OrganisationTool(organisation_id=organisation.id, tool=code)
                      for code in tools)
        s.add_all(ToolAccess(membership_id=memberships[i].id, tool=code)
                  for i, code in ((0, "cadastrefinder"), (0, "bceacp"), (1, "cadastrefinder"),
                                  (3, "myrentpro"), (3, "cibweb")))
        for number in national_numbers:
            s.add(RegisterEntry(register=Recognition.IPI, nrn_hmac=nrn_hmac(secret, number),
                                reference=f"IPI 5{number[-5:]}"))
        return True


def _public(app: web.Application) -> web.Application:
    for route in app.router.routes():
        route.handler.access = Access.PUBLIC  # type: ignore[attr-defined]
    return app


@contextlib.asynccontextmanager
async def demo_portal(
    data_dir: Path,
    *,
    store: TrustStore,
    intermediates: Sequence[bytes],
    port: int = DEMO_PORT,
    national_numbers: Sequence[str] = VIRTUAL_CARD_NUMBERS,
) -> AsyncIterator[DemoPortal]:
    """The seeded demo portal on 127.0.0.1:``port`` with its mail catcher."""
    data_dir.mkdir(parents=True, exist_ok=True)
    origin = f"http://127.0.0.1:{port}"
    with MailCatcher() as catcher:
        settings = PortalSettings(
            database_url=f"sqlite+aiosqlite:///{data_dir / 'portal-demo.sqlite3'}",
            origin=origin, secret_key=_secret(data_dir), smtp_host=catcher.host,
            smtp_port=catcher.port, demo=True,
        )
        await aupgrade(settings.database_url)
        app = create_app(settings, store=store, intermediates=intermediates)
        app.add_subapp("/demo/mail/", _public(catcher_app(catcher)))
        await seed(app[DB], settings.secret_key, national_numbers)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield DemoPortal(origin, f"{origin}/demo/mail/",
                             ("sophie.lambert", "lucas.martin", "emma.claes", "pieter.janssens",
                              "helpdesk", "admin"))
        finally:
            await runner.cleanup()
