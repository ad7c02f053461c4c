"""The attack suite, part 2, and the operations end to end: a real daemon on loopback, the
virtual card in pcscd's vpcd reader, the scripted user, tokens checked by the project's
relying-party validator with the test PKI's OCSP responder on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509

from bridge.card.apdu import Ins
from bridge.card.constants import FileId, HashAlgorithm
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.latency import FaultPlan, ins_is
from bridge.emulator.pinpad_reader import PinpadReader
from bridge.emulator.profiles import BuiltCard
from bridge.emulator.vpcd import VPCD_PORT, VpcdCard
from bridge.service.cards import LocalSource
from bridge.tokens.format import verify_digest_signature
from bridge.tokens.nonces import MemoryNonceStore
from bridge.tokens.validator import TokenValidator
from bridge.trust.anchors import TrustStore
from bridge.ui.base import KeyChoice, Operation
from bridge.ui.scripted import ScriptedUI
from tests.bridge_harness import PORTAL, BridgeFactory, InProcess, ServicePki, pcsc_source
from tests.services import READER_INDEX, TEST_READER, Pcscd, wait_for_card

pytestmark = pytest.mark.pcsc

CERT_FILES = {
    bytes.fromhex("5038"),
    bytes.fromhex("5039"),
    bytes.fromhex("503A"),
    bytes.fromhex("503B"),
    bytes.fromhex("503C"),
}


def selected_files(applet: BelpicApplet) -> set[bytes]:
    """File ids the host selected, from the card's own APDU log."""
    chosen: set[bytes] = set()
    for command, _ in applet.log:
        if len(command) > 5 and command[1] == Ins.SELECT:
            data = command[5 : 5 + command[4]]
            chosen.add(data[-2:])
    return chosen


@dataclasses.dataclass
class Inserted:
    applet: BelpicApplet
    vpcd: VpcdCard
    built: BuiltCard | None

    def pull(self) -> None:
        self.vpcd.remove()
        wait_for_card(TEST_READER, present=False)

    def put_back(self) -> None:
        self.vpcd.insert()
        wait_for_card(TEST_READER, present=True)


@pytest.fixture
def insert(pcscd: Pcscd, service_pki: ServicePki) -> Iterator[Callable[..., Inserted]]:
    cards: list[Inserted] = []

    def put(name: str | BelpicApplet) -> Inserted:
        if isinstance(name, BelpicApplet):
            built, applet = None, name
        else:
            built = service_pki.card(name)
            applet = BelpicApplet(built.profile)
        card = VpcdCard(applet, port=VPCD_PORT + READER_INDEX)
        card.insert()
        wait_for_card(TEST_READER, present=True)
        inserted = Inserted(applet, card, built)
        cards.append(inserted)
        return inserted

    yield put
    for card in cards:
        card.vpcd.remove()
    if cards:
        wait_for_card(TEST_READER, present=False)


def nonce() -> str:
    return base64.b64encode(hashlib.sha256(str(time.monotonic_ns()).encode()).digest()).decode()


def validator(pki: ServicePki, store: MemoryNonceStore, origin: str = PORTAL) -> TokenValidator:
    return TokenValidator(
        TrustStore.for_test_pki(pki.pki),
        origin=origin,
        nonces=store,
        intermediates=pki.ca_certificates,
    )


@pytest.mark.parametrize("profile", ["citizen-1.8", "citizen-1.7"])
async def test_authenticate_gives_a_token_the_relying_party_accepts(
    start_bridge: BridgeFactory,
    insert: Callable[..., Inserted],
    service_pki: ServicePki,
    profile: str,
) -> None:
    card = insert(profile)
    nonces = MemoryNonceStore()
    challenge = nonces.issue("session-1")
    async with start_bridge(pcsc_source()) as bridge:
        status, body = await bridge.post("/v1/authenticate", {"nonce": challenge})
        assert status == 200, body
    token = body["token"]
    assert token["format"] == "web-eid:1.0"
    assert token["algorithm"] == ("ES384" if profile.endswith("1.8") else "RS256")
    identity = await validator(service_pki, nonces).validate(token, session_id="session-1")
    assert card.built is not None
    person = card.built.person
    assert identity.national_number == person.national_number
    assert identity.surname == person.surname
    # The user saw one PIN dialog naming the page's origin, for a login.
    (asked,) = bridge.ui.pin_requests
    assert asked.origin == PORTAL
    assert asked.operation is Operation.AUTHENTICATE
    assert asked.key is KeyChoice.AUTHENTICATION
    assert asked.tries_left == 3


async def test_token_is_bound_to_the_calling_origin(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted], service_pki: ServicePki
) -> None:
    insert("citizen-1.8")
    other = "https://other.example"
    nonces = MemoryNonceStore()
    challenge = nonces.issue("s")
    async with start_bridge(pcsc_source(), allowed=(PORTAL, other)) as bridge:
        # The body cannot choose the origin: it comes from the Origin header.
        status, body = await bridge.post(
            "/v1/authenticate", {"nonce": challenge, "origin": PORTAL}, origin=other
        )
        assert status == 200
    from bridge.tokens.errors import TokenSignatureInvalid

    with pytest.raises(TokenSignatureInvalid):
        await validator(service_pki, nonces).validate(body["token"], session_id="s")
    again = nonces.issue("s")
    async with start_bridge(pcsc_source(), allowed=(PORTAL, other)) as bridge:
        status, body = await bridge.post("/v1/authenticate", {"nonce": again}, origin=other)
    identity = await validator(service_pki, nonces, other).validate(body["token"], session_id="s")
    assert identity.surname


async def test_wrong_pin_twice_then_right(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    card = insert("citizen-1.8")
    ui = ScriptedUI(pins=["0000", "1111", "1234"])
    async with start_bridge(pcsc_source(), ui=ui) as bridge:
        status, body = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200, body
        shown = ui.pin_requests
        assert [r.tries_left for r in shown] == [3, 2, 1]
        assert [r.last_try for r in shown] == [False, False, True]
        assert shown[0].previous_error is None
        assert "2 attempt(s) left" in (shown[1].previous_error or "")
        # Three VERIFYs on the card, each the user's own answer; the counter is reset.
        verifies = [c for c, _ in card.applet.log if c[1] == Ins.VERIFY and len(c) > 5]
        assert len(verifies) == 3
    assert card.applet.profile.pin_tries_left == 3


async def test_malformed_pin_never_reaches_the_card(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    card = insert("citizen-1.7")
    ui = ScriptedUI(pins=["12a4", "123", "1234"])
    async with start_bridge(pcsc_source(), ui=ui) as bridge:
        status, _ = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200
    assert [r.tries_left for r in ui.pin_requests] == [3, 3, 3]
    assert "4 to 12 digits" in (ui.pin_requests[1].previous_error or "")
    verifies = [c for c, _ in card.applet.log if c[1] == Ins.VERIFY and len(c) > 5]
    assert len(verifies) == 1


async def test_blocked_card_explains_the_puk_route(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    insert("blocked-pin-1.8")
    async with start_bridge(pcsc_source()) as bridge:
        status, body, _ = await bridge.call(
            "POST", "/v1/authenticate", {"nonce": nonce()}, headers={"Accept-Language": "fr"}
        )
    assert status == 409
    assert body["error"]["code"] == "PIN_BLOCKED"
    assert "PUK" in body["error"]["message"]
    assert "commune" in body["error"]["message"]
    assert bridge.ui.pin_requests == []  # nobody is asked for a PIN that cannot work


async def test_last_try_is_warned_and_cancel_spends_nothing(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    card = insert("one-try-left-1.8")
    ui = ScriptedUI(pins=[None])
    async with start_bridge(pcsc_source(), ui=ui) as bridge:
        status, body = await bridge.post("/v1/authenticate", {"nonce": nonce()})
    assert (status, body["error"]["code"]) == (409, "PIN_CANCELLED")
    assert ui.pin_requests[0].last_try
    assert not [c for c, _ in card.applet.log if c[1] == Ins.VERIFY and len(c) > 5]


async def test_card_pulled_mid_sign_then_next_request_works(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    card = insert("citizen-1.8")
    async with start_bridge(pcsc_source()) as bridge:
        status, cert = await bridge.post("/v1/certificate")
        assert status == 200, cert
        digest = hashlib.sha384(b"contract").digest()
        request = {
            "certificate": cert["certificate"],
            "hash": base64.b64encode(digest).decode(),
            "hashFunction": "SHA-384",
            "label": "Contract 42",
        }
        card.vpcd.faults = FaultPlan().remove_at(1, ins_is(Ins.PERFORM_SECURITY_OPERATION))
        status, body = await bridge.post("/v1/sign", request)
        assert status == 409
        assert body["error"]["code"] == "CARD_REMOVED"
        assert "nothing was signed" in body["error"]["message"]
        wait_for_card(TEST_READER, present=False)
        card.vpcd.faults = None
        card.put_back()
        status, body = await bridge.post("/v1/sign", request)
        assert status == 200, body
        signature = base64.b64decode(body["signature"])
        assert verify_digest_signature(
            base64.b64decode(cert["certificate"]), digest, HashAlgorithm.SHA384, signature
        )


async def test_two_tabs_signing_at_once_are_served_in_turn(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    card = insert("citizen-1.7")
    ui = ScriptedUI(pins=["1234", "1234", "1234"], delay=0.2)
    async with start_bridge(pcsc_source(), ui=ui) as bridge:
        status, cert = await bridge.post("/v1/certificate")
        assert status == 200
        card.applet.clear_log()

        def request(text: str) -> dict[str, str]:
            return {
                "certificate": cert["certificate"],
                "hash": base64.b64encode(hashlib.sha256(text.encode()).digest()).decode(),
                "hashFunction": "SHA-256",
                "label": text,
            }

        (s1, b1), (s2, b2) = await asyncio.gather(
            bridge.post("/v1/sign", request("tab one")), bridge.post("/v1/sign", request("tab two"))
        )
    assert (s1, s2) == (200, 200), (b1, b2)
    assert {r.label for r in ui.pin_requests} == {"tab one", "tab two"}
    # The card saw MSE, VERIFY, PSO for one tab, then for the other: never interleaved.
    ins = [c[1] for c, _ in card.applet.log if c[1] in (0x22, 0x20, 0x2A) and len(c) > 5]
    assert ins == [0x22, 0x20, 0x2A, 0x22, 0x20, 0x2A]
    # The signature key asked for the PIN each time.
    assert all(r.key is KeyChoice.SIGNATURE for r in ui.pin_requests)


async def test_full_queue_and_a_page_that_gives_up(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    insert("citizen-1.8")
    ui = ScriptedUI(never_answer=True)
    async with start_bridge(pcsc_source(), ui=ui, queue_size=2) as bridge:
        first = asyncio.ensure_future(bridge.post("/v1/identity"))
        assert await asyncio.to_thread(ui.wait_for_requests, 1)
        waiting = [asyncio.ensure_future(bridge.post("/v1/identity")) for _ in range(2)]
        await asyncio.sleep(0.3)
        status, body = await bridge.post("/v1/identity")
        assert (status, body["error"]["code"]) == (503, "BUSY")
        # The waiting pages close their tabs: their jobs never reach the user.
        for task in waiting:
            task.cancel()
        first.cancel()
        await asyncio.sleep(0.5)
        assert len(ui.requests) == 1
        assert ui.cancelled == 1  # the open dialog was closed for the page that left
        # The bridge is free again.
        ui.never_answer = False
        status, body = await bridge.post("/v1/identity")
        assert status == 200, body


async def test_repeat_login_reads_no_certificate_file(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted], service_pki: ServicePki
) -> None:
    card = insert("citizen-1.8")
    async with start_bridge(pcsc_source()) as bridge:
        status, _ = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200
        assert CERT_FILES & selected_files(card.applet)
        card.applet.clear_log()
        status, body = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200
        assert not CERT_FILES & selected_files(card.applet)
        assert not [c for c, _ in card.applet.log if c[1] == Ins.READ_BINARY]
        # Nothing in the cache directory names the holder.
        assert card.built is not None
        surname = card.built.person.surname
        for path in bridge.cache_dir.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert base64.b64decode(body["token"]["unverifiedCertificate"]) not in data
                assert surname.encode() not in data


async def test_swapped_card_with_the_same_serial_is_caught(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted], service_pki: ServicePki
) -> None:
    first = insert("citizen-1.8")
    async with start_bridge(pcsc_source()) as bridge:
        status, _ = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200
        first.pull()
        # Another card claiming the same chip serial, with its own keys and certificates.
        other = service_pki.card("citizen-1.8").profile
        clone = BelpicApplet(dataclasses.replace(other, serial=first.applet.profile.serial))
        insert(clone)
        status, body = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200, body
        used = base64.b64decode(body["token"]["unverifiedCertificate"])
        assert (
            used == clone.profile.files[FileId.CERT_AUTHENTICATION.path].rstrip(b"\0")[: len(used)]
        )
        assert CERT_FILES & selected_files(clone)  # it re-read the certificates
        cached = bridge.daemon.services.cache.get(first.applet.profile.serial.hex().upper())
        assert cached is not None
        assert cached.authentication == used


@pytest.mark.parametrize(
    ("profile", "status_code"), [("revoked-1.8", "revoked"), ("expired-1.7", "expired")]
)
async def test_unusable_certificate_is_refused_before_the_pin(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted], profile: str, status_code: str
) -> None:
    insert(profile)
    async with start_bridge(pcsc_source()) as bridge:
        status, body = await bridge.post("/v1/authenticate", {"nonce": nonce()})
    assert status == 422
    assert body["error"]["code"] == "CERTIFICATE_REJECTED"
    assert body["error"]["details"]["certificateStatus"].lower().endswith(status_code)
    assert bridge.ui.pin_requests == []


async def test_identity_after_consent_only(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, applet, built = in_process("citizen-1.8")
    async with start_bridge(source, ui=ScriptedUI(consent=[False, True])) as bridge:
        status, body = await bridge.post("/v1/identity")
        assert (status, body["error"]["code"]) == (403, "USER_DENIED")
        assert applet.log == []
        status, body = await bridge.post("/v1/identity")
        assert status == 200
    assert body["holder"]["nationalNumber"] == built.person.national_number
    assert body["integrity"] == "verified"
    assert base64.b64decode(body["photo"])[:2] == b"\xff\xd8"
    assert [r.origin for r in bridge.ui.consent_requests] == [PORTAL, PORTAL]


async def test_sign_shows_the_label_and_checks_the_certificate(
    start_bridge: BridgeFactory, in_process: InProcess, service_pki: ServicePki
) -> None:
    source, _, _ = in_process("citizen-1.7")
    async with start_bridge(source) as bridge:
        status, cert = await bridge.post("/v1/certificate")
        assert status == 200
        assert x509.load_der_x509_certificate(base64.b64decode(cert["certificate"]))
        assert {a["hashFunction"] for a in cert["supportedSignatureAlgorithms"]} >= {"SHA-256"}
        digest = hashlib.sha256(b"deed").digest()
        status, body = await bridge.post(
            "/v1/sign",
            {
                "certificate": cert["certificate"],
                "hash": base64.b64encode(digest).decode(),
                "hashFunction": "SHA-256",
                "label": "Deed of sale\n\u202eexe.pdf  (2 pages)",
            },
        )
        assert status == 200, body
        (asked,) = bridge.ui.pin_requests
        assert asked.label == "Deed of sale exe.pdf (2 pages)"
        assert asked.digest_hex == digest.hex()
        # A certificate of another card is refused before any PIN.
        stranger = service_pki.card("citizen-1.7").credentials.signature_cert_der
        status, body = await bridge.post(
            "/v1/sign",
            {
                "certificate": base64.b64encode(stranger).decode(),
                "hash": base64.b64encode(digest).decode(),
                "hashFunction": "SHA-256",
                "label": "x",
            },
        )
        assert (status, body["error"]["code"]) == (409, "CERTIFICATE_NOT_ON_CARD")
        assert len(bridge.ui.pin_requests) == 1


async def test_pinpad_reader_takes_the_pin_after_consent(
    start_bridge: BridgeFactory, service_pki: ServicePki
) -> None:
    pad = PinpadReader()
    source = LocalSource(pad.create_reader())
    applet = BelpicApplet(service_pki.card("citizen-1.8").profile)
    source.insert(applet)
    pad.type("1111")  # a wrong PIN on the keypad first, then the right one
    pad.type("1234")
    ui = ScriptedUI(consent=[True, True])
    async with start_bridge(source, ui=ui) as bridge:
        status, body = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200, body
        readers = (await bridge.call("GET", "/v1/status"))[1]["readers"]
    # The user approved on screen, then typed on the reader; no PIN dialog field at all.
    assert ui.pin_requests == []
    assert [r.pinpad for r in ui.pinpad_prompts] == [True, True]
    assert [r.tries_left for r in ui.pinpad_prompts] == [3, 2]
    assert ui.pinpad_prompts[1].previous_error
    assert readers[0]["pinpad"] is True
    assert applet.profile.pin_tries_left == 3


async def test_readers_are_watched_only_while_a_page_listens(
    start_bridge: BridgeFactory, insert: Callable[..., Inserted]
) -> None:
    """libpcsclite wakes a waiting monitor every 60 s: an idle bridge runs none."""
    insert("citizen-1.8")
    source = pcsc_source()

    def watching() -> bool:
        return source.watching

    async def settles(expected: bool) -> bool:
        for _ in range(50):
            if watching() == expected:
                return True
            await asyncio.sleep(0.1)
        return False

    async with start_bridge(source) as bridge:
        assert not watching()
        url = bridge.base.replace("http", "ws") + "/v1/events"
        async with bridge.http.ws_connect(url, headers={"Origin": PORTAL}) as first:
            assert (await first.receive_json(timeout=5))["type"] == "hello"
            assert await settles(True)
            async with bridge.http.ws_connect(url, headers={"Origin": PORTAL}) as second:
                await second.receive_json(timeout=5)
            await asyncio.sleep(0.2)
            assert watching()  # one page still listens
        assert await settles(False), (len(bridge.daemon.hub.sockets), source._monitor)
        status, _ = await bridge.post("/v1/authenticate", {"nonce": nonce()})
        assert status == 200


async def test_personal_data_never_reaches_the_log(
    start_bridge: BridgeFactory, in_process: InProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source, _, built = in_process("citizen-1.7")
    wrong = "86420975"  # a wrong PIN no port number or timing can contain by chance
    async with start_bridge(source, ui=ScriptedUI(pins=[wrong, "1234"])) as bridge:
        assert (await bridge.post("/v1/identity"))[0] == 200
        assert (await bridge.post("/v1/authenticate", {"nonce": nonce()}))[0] == 200
        assert (await bridge.post("/v1/identity", origin="https://evil.example"))[0] == 403
    assert caplog.records  # the daemon did log (requests, refusals)
    text = caplog.text
    person = built.person
    for secret in (person.national_number, person.surname, person.street_and_number):
        assert secret not in text
    assert wrong not in text
