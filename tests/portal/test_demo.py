"""The demo portal: migrated and seeded once, served with its mail catcher page, and the
virtual card's holder in the demo IPI register."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bridge.trust.anchors import TrustStore
from tests.bridge_harness import ServicePki
from webclient.portal.db import make_engine, make_sessionmaker
from webclient.portal.demo import DEMO_PASSWORD, VIRTUAL_CARD_NUMBERS, demo_portal
from webclient.portal.models import Membership, RegisterEntry, User

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _counts(folder: Path) -> tuple[int, int, int]:
    engine = make_engine(f"sqlite+aiosqlite:///{folder / 'portal-demo.sqlite3'}")
    async with make_sessionmaker(engine)() as db:
        counts = tuple([
            int(await db.scalar(select(func.count()).select_from(model)) or 0)
            for model in (User, Membership, RegisterEntry)
        ])
    await engine.dispose()
    return counts  # type: ignore[return-value]


async def test_demo_portal_is_seeded_once_and_usable(
    tmp_path: Path, service_pki: ServicePki
) -> None:
    store = TrustStore.for_test_pki(service_pki.pki)
    port = _free_port()
    async with demo_portal(tmp_path, store=store, intermediates=service_pki.ca_certificates,
                           port=port) as portal:
        assert portal.origin == f"http://127.0.0.1:{port}"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            page = await (await http.get(f"{portal.origin}/login")).text()
            token = CSRF.search(page).group(1)  # type: ignore[union-attr]
            login = await http.post(
                f"{portal.origin}/login", allow_redirects=False,
                data={"_csrf": token, "username": "sophie.lambert", "password": DEMO_PASSWORD},
            )
            assert login.status == 303
            mails = await http.get(portal.mail_page)
            assert "mails are not sent" in await mails.text()
    first = await _counts(tmp_path)
    assert first[0] >= 6
    assert first[2] == len(VIRTUAL_CARD_NUMBERS)
    async with demo_portal(tmp_path, store=store, intermediates=service_pki.ca_certificates,
                           port=_free_port()):
        pass
    assert await _counts(tmp_path) == first
