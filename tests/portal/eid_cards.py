"""Real ``web-eid:1.0`` tokens for portal tests, made by virtual cards in-process (what the
bridge does, without a browser): the certificates come from the test PKI the portal trusts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.card.constants import KeyRef
from bridge.card.local import LocalReader
from bridge.card.session import BelpicSession
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.profiles import BuiltCard
from bridge.tokens.format import algorithm_for_certificate, build_token, card_hash, digest_to_sign
from tests.bridge_harness import ServicePki
from tests.portal_harness import Browser

APP_VERSION = "https://eid-bridge.example/releases/0.1.0"
PIN = "1234"


@dataclass
class Card:
    built: BuiltCard
    session: BelpicSession

    @property
    def national_number(self) -> str:
        return self.built.person.national_number

    def token(self, origin: str, nonce: str) -> dict[str, Any]:
        """The token the bridge would return to a page of ``origin`` for ``nonce``."""
        certificate = self.session.read_certificates().authentication
        assert certificate is not None
        algorithm = algorithm_for_certificate(certificate)
        signature = self.session.sign(
            KeyRef.AUTHENTICATION, digest_to_sign(origin, nonce, algorithm),
            card_hash(algorithm), pin=PIN,
        )
        token: dict[str, Any] = build_token(certificate, algorithm, signature,
                                            APP_VERSION).to_json()
        return token


_cards: dict[tuple[int, str], Card] = {}


def card(service_pki: ServicePki, name: str = "citizen-1.7") -> Card:
    """A virtual card (kept for the session: making one generates keys)."""
    key = (id(service_pki), name)
    if key not in _cards:
        built = service_pki.card(name)
        reader = LocalReader()
        reader.insert(BelpicApplet(built.profile))
        _cards[key] = Card(built, BelpicSession(reader.connect()))
    return _cards[key]


async def challenge(visitor: Browser) -> str:
    response = await visitor.client.get("/api/eid/challenge")
    assert response.status == 200, await response.text()
    nonce: str = (await response.json())["nonce"]
    return nonce


async def present(visitor: Browser, path: str, the_card: Card, *, origin: str | None = None,
                  nonce: str | None = None, sign_nonce: str | None = None,
                  headers: dict[str, str] | None = None, **extra: Any) -> tuple[int, Any]:
    """The page's flow: challenge, the card signs, the token is posted to ``path``."""
    issued = nonce or await challenge(visitor)
    token = the_card.token(origin or visitor.portal.origin, sign_nonce or issued)
    response = await visitor.post_json(path, {"authToken": token, "nonce": issued, **extra},
                                       headers=headers or {})
    return response.status, await response.json()
