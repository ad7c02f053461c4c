"""Tokens made by virtual cards (in-process), checked against the test PKI and its real OCSP
responder on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from bridge.card.constants import KeyRef
from bridge.card.local import LocalReader
from bridge.card.session import BelpicSession
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.ocsp_server import OcspCrlServer
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import BuiltCard, build_card
from bridge.tokens.format import (
    AuthToken,
    algorithm_for_certificate,
    build_token,
    card_hash,
    digest_to_sign,
)
from bridge.trust.anchors import TrustStore
from tests.conftest import InProcessCard
from tests.services import revocation_service

ORIGIN = "https://portal.example.be"
APP_VERSION = "https://eid-bridge.example/releases/0.1.0"
PIN = "1234"


def make_token(
    session: BelpicSession,
    origin: str,
    nonce: str,
    *,
    key: KeyRef = KeyRef.AUTHENTICATION,
) -> AuthToken:
    """What the bridge does: read the certificate, sign the digest on the card, build."""
    certificates = session.read_certificates()
    certificate = (
        certificates.authentication if key is KeyRef.AUTHENTICATION else certificates.signature
    )
    assert certificate is not None
    algorithm = algorithm_for_certificate(certificate)
    signature = session.sign(
        key, digest_to_sign(origin, nonce, algorithm), card_hash(algorithm), pin=PIN
    )
    return build_token(certificate, algorithm, signature, APP_VERSION)


@dataclass
class Served:
    server: OcspCrlServer
    pki: TestPki
    store: TrustStore
    intermediates: tuple[bytes, ...]


@pytest.fixture(scope="package")
def served() -> Iterator[Served]:
    with revocation_service() as (server, pki, _cards):
        yield Served(server, pki, TrustStore.for_test_pki(pki), pki.issuing_ca_ders())


@pytest.fixture
def srv(served: Served) -> Iterator[Served]:
    served.server.reset()
    served.server.requests.clear()
    yield served
    served.server.reset()
    served.pki.clear_revocations()


@pytest.fixture
def served_card(srv: Served) -> Callable[[str], InProcessCard]:
    """Like ``local_card``, but the card's certificates come from the PKI whose OCSP
    responder runs, so validations check revocation for real."""

    def open_card(name: str) -> InProcessCard:
        built: BuiltCard = build_card(name, srv.pki)
        applet = BelpicApplet(built.profile)
        reader = LocalReader()
        reader.insert(applet)
        return InProcessCard(built, applet, reader, BelpicSession(reader.connect()))

    return open_card
