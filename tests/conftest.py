from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from bridge.card.local import LocalReader
from bridge.card.session import BelpicSession
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import BuiltCard, build_card
from bridge.emulator.vpcd import VPCD_PORT, VpcdCard
from tests.services import READER_INDEX, TEST_READER, Pcscd, ServiceMissing, wait_for_card


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    """The real PC/SC daemon with vpcd's two virtual readers."""
    service = Pcscd()
    try:
        service.start()
    except ServiceMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PC/SC tests: {exc}")
        pytest.skip(str(exc))
    yield service
    if service.owned:
        service.stop()


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """One test PKI for the whole run (its URLs point at the default OCSP/CRL port)."""
    return TestPki.generate()


CardBuilder = Callable[[str], BuiltCard]


@pytest.fixture
def make_card(test_pki: TestPki) -> CardBuilder:
    """Build a fresh virtual card for a profile name (``citizen-1.7``, ``revoked-1.8``...)."""
    return lambda name: build_card(name, test_pki)


@dataclass
class InProcessCard:
    built: BuiltCard
    applet: BelpicApplet
    reader: LocalReader
    session: BelpicSession


@pytest.fixture
def local_card(make_card: CardBuilder) -> Callable[[str], InProcessCard]:
    """A virtual card in an in-process reader, with a session on it."""

    def open_card(name: str) -> InProcessCard:
        built = make_card(name)
        applet = BelpicApplet(built.profile)
        reader = LocalReader()
        reader.insert(applet)
        return InProcessCard(built, applet, reader, BelpicSession(reader.connect()))

    return open_card


@dataclass
class PcscCard:
    built: BuiltCard
    applet: BelpicApplet
    vpcd: VpcdCard
    reader: str


@pytest.fixture
def vpcd_card(pcscd: Pcscd, make_card: CardBuilder) -> Iterator[Callable[[str], PcscCard]]:
    """Insert a virtual card into pcscd's vpcd reader; pulled at teardown."""
    inserted: list[VpcdCard] = []

    def insert(name: str) -> PcscCard:
        built = make_card(name)
        applet = BelpicApplet(built.profile)
        card = VpcdCard(applet, port=VPCD_PORT + READER_INDEX)
        card.insert()
        inserted.append(card)
        wait_for_card(TEST_READER, present=True)
        return PcscCard(built, applet, card, TEST_READER)

    yield insert
    for card in inserted:
        card.remove()
    if inserted:
        wait_for_card(TEST_READER, present=False)


# The bridge harness: one test PKI with its OCSP responder per run, shared by the service
# and browser tests (registered here once, so both directories get the same instance).
from tests.bridge_harness import in_process, service_pki, start_bridge  # noqa: E402, F401
from tests.portal_fixtures import postgres_server, postgres_url  # noqa: E402, F401
from tests.portal_harness import (  # noqa: E402, F401
    mail_catcher,
    portal,
    portal_db_url,
    sqlite_portal,
    sqlite_url,
)
