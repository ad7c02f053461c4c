"""The card layer through the real pcscd, with the virtual card behind vpcd."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from smartcard import scard

from bridge.card import pinpad
from bridge.card.apdu import Ins
from bridge.card.connect import open_card
from bridge.card.constants import FileId, HashAlgorithm, KeyRef
from bridge.card.errors import (
    CardMute,
    CardRemoved,
    NoCard,
    PinRequired,
    ReaderNotFound,
    SharingViolation,
)
from bridge.card.pcsc import PcscContext, PcscTransport
from bridge.card.readers import ReaderEvent, ReaderEventKind, ReaderMonitor, list_readers
from bridge.card.session import BelpicSession
from bridge.emulator.latency import FaultPlan, ins_is
from tests.conftest import PcscCard
from tests.services import TEST_READER, wait_for_card

pytestmark = pytest.mark.pcsc
InsertCard = Callable[[str], PcscCard]


def verify_signature(cert_der: bytes, signature: bytes, digest: bytes) -> None:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


@pytest.mark.parametrize("profile", ["citizen-1.7", "citizen-1.8"])
def test_read_and_sign_through_pcscd(vpcd_card: InsertCard, profile: str) -> None:
    card = vpcd_card(profile)
    with PcscTransport(card.reader) as transport:
        session = BelpicSession(transport)
        contents = session.read_all()
        digest = hashlib.sha256(b"login challenge").digest()
        signature = session.sign(
            KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin=card.built.profile.pin
        )
        serial = session.card_data.serial
    assert contents.identity.national_number == card.built.person.national_number
    assert contents.identity.surname == card.built.person.surname
    assert contents.address.zip_code == card.built.person.zip_code
    assert contents.certificates.authentication == card.built.credentials.auth_cert_der
    assert contents.certificates.rrn == card.built.credentials.rrn_cert_der
    assert serial == card.built.profile.serial
    verify_signature(card.built.credentials.auth_cert_der, signature, digest)


def test_list_readers_reports_card_and_atr(vpcd_card: InsertCard) -> None:
    states = {s.name: s for s in list_readers()}
    assert {"Virtual PCD 00 00", "Virtual PCD 00 01"} <= set(states)
    card = vpcd_card("citizen-1.7")
    state = {s.name: s for s in list_readers()}[card.reader]
    assert state.card_present
    assert state.atr == card.built.profile.atr


def test_open_card_picks_the_reader_with_the_card(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    with open_card(card.reader) as transport:
        assert transport.atr == card.built.profile.atr
    with pytest.raises(ReaderNotFound):
        open_card("No Such Reader 99")


def test_empty_reader_gives_no_card(pcscd: object) -> None:
    wait_for_card(TEST_READER, present=False)
    with pytest.raises(NoCard):
        PcscTransport(TEST_READER)
    with pytest.raises(NoCard):
        open_card(TEST_READER)


def test_unknown_reader_is_reader_not_found(pcscd: object) -> None:
    with pytest.raises(ReaderNotFound):
        PcscTransport("Unplugged Reader 00 00")


def test_card_pulled_during_read_then_reinserted(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    card.vpcd.faults = FaultPlan().remove_at(
        3, lambda apdu: apdu[1] == Ins.READ_BINARY and card.applet.current_file == FileId.PHOTO.path
    )
    with PcscTransport(card.reader) as transport:
        session = BelpicSession(transport)
        with pytest.raises(CardRemoved):
            session.read_photo()
    wait_for_card(card.reader, present=False)
    again = vpcd_card("citizen-1.8")
    with PcscTransport(again.reader) as transport:
        assert BelpicSession(transport).read_photo() == again.built.profile.files[FileId.PHOTO.path]


def test_card_pulled_during_signature_signs_nothing(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.7")
    card.vpcd.faults = FaultPlan().remove_at(1, ins_is(Ins.PERFORM_SECURITY_OPERATION))
    with PcscTransport(card.reader) as transport:
        session = BelpicSession(transport)
        with pytest.raises(CardRemoved):
            session.sign(
                KeyRef.NON_REPUDIATION,
                hashlib.sha256(b"contract").digest(),
                HashAlgorithm.SHA256,
                pin="1234",
            )
        # The card never saw the PSO: nothing was signed.
        assert not any(cmd[1] == Ins.PERFORM_SECURITY_OPERATION for cmd, _ in card.applet.log)
        assert session.needs_pin(KeyRef.AUTHENTICATION)


def test_mute_card(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    with PcscTransport(card.reader) as transport:
        card.vpcd.mute = True
        started = time.monotonic()
        with pytest.raises(CardMute):
            BelpicSession(transport).read_identity()
        assert time.monotonic() - started < 30


def test_exclusive_use_by_another_program_is_a_sharing_violation(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    context = PcscContext()
    rc, handle, _protocol = scard.SCardConnect(
        context.handle, card.reader, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T0
    )
    assert rc == scard.SCARD_S_SUCCESS
    try:
        with pytest.raises(SharingViolation):
            PcscTransport(card.reader)
    finally:
        scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
        context.close()
    with PcscTransport(card.reader) as transport:
        assert BelpicSession(transport).card_data.serial == card.built.profile.serial


def test_transaction_keeps_other_programs_out(vpcd_card: InsertCard) -> None:
    """Between our MSE:SET, VERIFY and PSO:CDS no other program's APDU reaches the card."""
    card = vpcd_card("citizen-1.8")
    other_done = threading.Event()
    with PcscTransport(card.reader) as ours, PcscTransport(card.reader) as theirs:
        session = BelpicSession(ours)
        session.card_data  # noqa: B018
        card.applet.clear_log()

        def other_program() -> None:
            with theirs.transaction():
                theirs.transmit(bytes.fromhex("80E400001C"))
            other_done.set()

        with ours.transaction():
            worker = threading.Thread(target=other_program)
            worker.start()
            time.sleep(0.3)
            assert not other_done.is_set()  # blocked by our transaction
            session.sign(KeyRef.NON_REPUDIATION, bytes(48), HashAlgorithm.SHA384, pin="1234")
        worker.join(5)
    assert other_done.is_set()
    instructions = [cmd[1] for cmd, _ in card.applet.log]
    assert instructions[:4] == [
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.VERIFY,
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.GET_RESPONSE,
    ]
    assert instructions[4] == Ins.GET_CARD_DATA


def test_reset_by_another_program_needs_the_pin_again(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    digest = hashlib.sha256(b"x").digest()
    with PcscTransport(card.reader) as ours, PcscTransport(card.reader) as theirs:
        session = BelpicSession(ours)
        session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin="1234")
        assert not session.needs_pin(KeyRef.AUTHENTICATION)
        theirs.reconnect(reset=True)
        # Our handle sees the reset: the session re-attaches, and the card wants the PIN.
        with pytest.raises(PinRequired):
            session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256)
        signature = session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin="1234")
    verify_signature(card.built.credentials.auth_cert_der, signature, digest)


def test_vpcd_reader_has_no_pinpad(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    with PcscTransport(card.reader) as transport:
        assert pinpad.detect(transport) == pinpad.NO_PINPAD
        with pytest.raises(PinRequired):
            BelpicSession(transport).verify_pin(None)


def test_monitor_reports_insert_and_remove_without_polling(
    vpcd_card: InsertCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: queue.Queue[ReaderEvent] = queue.Queue()
    waits = 0
    real_wait = scard.SCardGetStatusChange

    def counting_wait(*args: object) -> object:
        nonlocal waits
        waits += 1
        return real_wait(*args)

    monkeypatch.setattr(scard, "SCardGetStatusChange", counting_wait)
    monitor = ReaderMonitor(events.put)
    monitor.start()
    try:
        seen = {events.get(timeout=5).reader for _ in range(2)}
        assert {"Virtual PCD 00 00", "Virtual PCD 00 01"} <= seen | {TEST_READER}
        # pcscd may still be settling the previous test's card removal: wait until the
        # monitor has been asleep for half a second, then measure a quiet period.
        deadline = time.monotonic() + 10
        settled = waits
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if waits == settled:
                break
            settled = waits
        while not events.empty():
            events.get()
        idle_waits = waits
        time.sleep(2.0)
        assert waits == idle_waits, "the monitor woke up while nothing happened"

        card = vpcd_card("citizen-1.8")
        event = events.get(timeout=5)
        while event.reader != card.reader:
            event = events.get(timeout=5)
        assert event.kind is ReaderEventKind.CARD_INSERTED
        assert event.atr == card.built.profile.atr

        card.vpcd.remove()
        event = events.get(timeout=5)
        while event.reader != card.reader:
            event = events.get(timeout=5)
        assert event.kind is ReaderEventKind.CARD_REMOVED
    finally:
        monitor.stop()
    assert monitor._thread is not None
    assert not monitor._thread.is_alive()


def test_is_present_follows_the_card_without_an_apdu(vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    transport = PcscTransport(card.reader)
    try:
        assert transport.is_present()
        card.vpcd.remove()
        wait_for_card(TEST_READER, present=False)
        assert not transport.is_present()
        card.vpcd.insert()
        wait_for_card(TEST_READER, present=True)
        assert not transport.is_present()  # a card is back, but this handle's card left
        card.applet.clear_log()
        assert PcscTransport(card.reader).is_present()
        assert card.applet.log == []
    finally:
        transport.close()
    assert not transport.is_present()
