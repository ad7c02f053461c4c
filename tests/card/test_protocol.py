"""``BelpicProtocol``: T=0 response rules (``6Cxx`` resend, ``61xx`` chaining), the status-word
table and the wire statistics; against a scripted transport and against the virtual card.

Sources: applet manuals 1.7/1.8 §6.1 (GET RESPONSE, chaining), §6 status-byte tables;
``shared/belpic.md`` §2.5, §2.7 and §7.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.card import protocol as protocol_module
from bridge.card.apdu import SW, CommandApdu, Ins
from bridge.card.constants import FileId
from bridge.card.errors import (
    ApduError,
    CardError,
    ConditionsNotSatisfied,
    FileNotFound,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    SecurityStatusNotSatisfied,
)
from bridge.card.local import LocalReader
from bridge.card.protocol import MAX_CHAINED_RESPONSES, BelpicProtocol, error_for
from bridge.card.transport import Transport
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import BuiltCard, build_card


class ScriptedTransport(Transport):
    """Answers each transmitted APDU with the next scripted response and records the APDUs."""

    def __init__(self, *responses: bytes) -> None:
        self.reader = "scripted"
        self.responses = list(responses)
        self.sent: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return b"\x3b\x00"

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(bytes(apdu))
        if not self.responses:
            raise AssertionError(f"unexpected APDU {apdu.hex()}")
        return self.responses.pop(0)

    def close(self) -> None:
        pass


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


GET_CARD_DATA_FF = CommandApdu(0x80, Ins.GET_CARD_DATA, 0, 0, le=0xFF)


# --- 6Cxx: wrong Le -------------------------------------------------------------------------


def test_6cxx_resends_the_same_command_with_the_cards_length() -> None:
    data = bytes(range(28))
    transport = ScriptedTransport(h("6C1C"), data + h("9000"))
    proto = BelpicProtocol(transport)

    response = proto.send(GET_CARD_DATA_FF)

    assert transport.sent == [h("80E40000FF"), h("80E400001C")]
    assert response.data == data
    assert response.sw == SW.OK
    assert proto.stats.apdus == 2


def test_6c00_means_256_bytes() -> None:
    chunk = bytes(256)
    transport = ScriptedTransport(h("6C00"), chunk + h("9000"))
    response = BelpicProtocol(transport).send(CommandApdu(0, Ins.READ_BINARY, 0, 0, le=0x10))
    assert transport.sent[1] == h("00B0000000")  # Le byte 00 = 256
    assert response.data == chunk


def test_6cxx_is_not_resent_for_a_command_without_le() -> None:
    """Case-3 commands carry no Le to correct: the SW goes back to the caller unchanged."""
    transport = ScriptedTransport(h("6C05"))
    command = CommandApdu(0, Ins.SELECT, 0x08, 0x0C, FileId.IDENTITY.path)
    response = BelpicProtocol(transport).send(command)
    assert response.sw == 0x6C05
    assert transport.sent == [command.to_bytes()]


def test_6cxx_resend_waits_for_slow_applets(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("bridge.card.protocol.time.sleep", sleeps.append)
    proto = BelpicProtocol(ScriptedTransport(h("6C1C"), bytes(28) + h("9000")))
    proto.resend_delay = protocol_module.SLOW_APPLET_RESEND_DELAY
    proto.send(GET_CARD_DATA_FF)
    assert sleeps == [0.05]

    proto = BelpicProtocol(ScriptedTransport(h("6C1C"), bytes(28) + h("9000")))
    proto.send(GET_CARD_DATA_FF)  # resend_delay 0: applets 1.7 and 1.8 need no pause
    assert sleeps == [0.05]


def test_6cxx_then_61xx_is_followed_too() -> None:
    """The corrected command may itself answer with chained data."""
    transport = ScriptedTransport(h("6C1C"), bytes(16) + h("610C"), bytes(12) + h("9000"))
    response = BelpicProtocol(transport).send(GET_CARD_DATA_FF)
    assert transport.sent[2] == h("00C000000C")
    assert len(response.data) == 28
    assert response.sw == SW.OK


# --- 61xx: GET RESPONSE chaining --------------------------------------------------------------


def test_61xx_chains_beyond_256_bytes() -> None:
    first, second, last = bytes([1]) * 256, bytes([2]) * 256, bytes([3]) * 32
    transport = ScriptedTransport(
        h("6100"), first + h("6100"), second + h("6120"), last + h("9000")
    )
    proto = BelpicProtocol(transport)

    response = proto.send(CommandApdu(0, Ins.PERFORM_SECURITY_OPERATION, 0x9E, 0x9A, bytes(48)))

    assert response.data == first + second + last
    assert response.sw == SW.OK
    assert transport.sent[1:] == [h("00C0000000"), h("00C0000000"), h("00C0000020")]
    assert proto.stats.apdus == 4
    assert proto.stats.bytes_in == 2 + 258 + 258 + 34


def test_61xx_chain_ending_in_an_error_keeps_the_error() -> None:
    transport = ScriptedTransport(h("6110"), bytes(16) + h("6581"))
    response = BelpicProtocol(transport).send(CommandApdu(0, Ins.GET_RESPONSE, 0, 0, le=0x10))
    assert response.sw == SW.EEPROM_CORRUPTED
    assert response.data == bytes(16)


def test_endless_chaining_is_cut_off() -> None:
    transport = ScriptedTransport(*([h("6101")] + [b"\x00" + h("6101")] * 100))
    with pytest.raises(ApduError) as caught:
        BelpicProtocol(transport).send(CommandApdu(0, Ins.PERFORM_SECURITY_OPERATION, 0x9E, 0x9A))
    assert caught.value.sw == 0x6101
    assert len(transport.sent) == 1 + MAX_CHAINED_RESPONSES


# --- against the virtual card ---------------------------------------------------------------


@pytest.fixture(scope="module")
def built18(test_pki: TestPki) -> BuiltCard:
    return build_card("citizen-1.8", test_pki)


@pytest.fixture
def card18(built18: BuiltCard) -> Iterator[tuple[BelpicApplet, BelpicProtocol]]:
    applet = BelpicApplet(built18.profile)
    reader = LocalReader()
    reader.insert(applet)
    yield applet, BelpicProtocol(reader.connect())
    reader.remove()


def test_get_card_data_with_le_ff_on_the_card(
    card18: tuple[BelpicApplet, BelpicProtocol], built18: BuiltCard
) -> None:
    applet, proto = card18
    response = proto.send(GET_CARD_DATA_FF)
    assert [command for command, _ in applet.log] == [h("80E40000FF"), h("80E400001C")]
    assert applet.log[0][1] == h("6C1C")
    assert response.data[:16] == built18.profile.serial
    assert len(response.data) == 28


def test_read_record_chains_beyond_256_bytes_on_the_card(
    test_pki: TestPki,
) -> None:
    """READ RECORD Le=00 on 1.8 answers 256 bytes + ``61xx`` when the records are longer
    (M18 §6.8); the protocol fetches the rest."""
    built = build_card("citizen-1.8", test_pki)
    street, zip_code = b"S" * 200, b"1" * 150
    records = b"\x01\xc8" + street + b"\x02\x96" + zip_code
    built.profile.files[FileId.ADDRESS.path] = b"\x00\x01\x01" + records + bytes(20)
    applet = BelpicApplet(built.profile)
    reader = LocalReader()
    reader.insert(applet)
    proto = BelpicProtocol(reader.connect())
    proto.call(CommandApdu(0, Ins.SELECT, 0x08, 0x0C, FileId.ADDRESS.path), "SELECT")

    data = proto.call(CommandApdu(0x80, Ins.READ_RECORD, 0x01, 0x02, le=256), "READ RECORD")

    assert data == records
    assert len(data) == 354
    assert applet.log[-2][1][-2:] == h("6162")  # 256 bytes, then 98 more announced
    assert applet.log[-1][0] == h("00C0000062")


def test_pso_response_of_256_bytes_is_one_get_response(test_pki: TestPki) -> None:
    """RSA-2048 signature: ``61 00`` then GET RESPONSE Le=00 (belpic.md §5.5 example)."""
    built = build_card("citizen-1.7", test_pki)
    applet = BelpicApplet(built.profile)
    reader = LocalReader()
    reader.insert(applet)
    proto = BelpicProtocol(reader.connect())
    proto.call(CommandApdu(0, Ins.MANAGE_SECURITY_ENVIRONMENT, 0x41, 0xB6, h("0480088482")), "MSE")
    proto.call(CommandApdu(0, Ins.VERIFY, 0, 1, h("241234FFFFFFFFFF")), "VERIFY")
    applet.clear_log()

    signature = proto.call(
        CommandApdu(0, Ins.PERFORM_SECURITY_OPERATION, 0x9E, 0x9A, bytes(32)), "PSO"
    )

    assert len(signature) == 256
    assert [response[-2:] for _, response in applet.log] == [h("6100"), h("9000")]
    assert applet.log[1][0] == h("00C0000000")


# --- call() and the status-word table --------------------------------------------------------


def test_call_returns_data_on_9000() -> None:
    proto = BelpicProtocol(ScriptedTransport(h("0102 9000")))
    assert proto.call(CommandApdu(0, Ins.READ_BINARY, 0, 0, le=2), "READ BINARY") == h("0102")


def test_call_raises_the_typed_error_with_sw_and_command_name() -> None:
    proto = BelpicProtocol(ScriptedTransport(h("6A82")))
    with pytest.raises(FileNotFound) as caught:
        proto.call(CommandApdu(0, Ins.SELECT, 0x08, 0x0C, h("3F00DF01")), "SELECT DF(ID)")
    assert caught.value.sw == SW.FILE_NOT_FOUND
    assert caught.value.command == "SELECT DF(ID)"
    assert "6A82" in str(caught.value)


@pytest.mark.parametrize(
    ("sw", "command", "expected"),
    [
        (0x63C2, "VERIFY", PinIncorrect),
        (0x63C0, "CHANGE REFERENCE DATA", PinIncorrect),
        (0x6983, "VERIFY", PinBlocked),
        (0x6A82, "SELECT", FileNotFound),
        (0x6982, "PSO:COMPUTE DIGITAL SIGNATURE", SecurityStatusNotSatisfied),
        (0x6982, "READ BINARY", SecurityStatusNotSatisfied),
        (0x6985, "PSO:COMPUTE DIGITAL SIGNATURE", ConditionsNotSatisfied),
        (0x6985, "GET RESPONSE", ConditionsNotSatisfied),
        (0x6A80, "VERIFY", PinFormatError),
        (0x6A80, "CHANGE REFERENCE DATA", PinFormatError),
    ],
)
def test_error_for_typed_classes(sw: int, command: str, expected: type[CardError]) -> None:
    error = error_for(sw, command)
    assert type(error) is expected
    if isinstance(error, ApduError):
        assert error.sw == sw
        assert error.command == command


@pytest.mark.parametrize(
    ("sw", "tries"), [(0x63C3, 3), (0x63C2, 2), (0x63C1, 1), (0x63C0, 0), (0x63CF, 15)]
)
def test_error_for_pin_retry_counts(sw: int, tries: int) -> None:
    error = error_for(sw, "VERIFY")
    assert isinstance(error, PinIncorrect)
    assert error.tries_left == tries


@pytest.mark.parametrize(
    ("sw", "command"),
    [
        (0x6A80, "MSE:SET"),  # incorrect data outside PIN commands: not a PIN format error
        (0x6A80, "PSO:COMPUTE DIGITAL SIGNATURE"),
        (0x6B00, "READ BINARY"),
        (0x6700, "LOG OFF"),
        (0x6D00, "GET CARD DATA"),
        (0x6E00, "SELECT"),
        (0x6881, "SELECT"),
        (0x6581, "READ BINARY"),
        (0x6400, "VERIFY"),
        (0x6986, "READ BINARY"),
        (0x6A86, "SELECT"),
        (0x6A88, "MSE:SET"),
        (0x6283, "SELECT"),
        (0x6F00, "PSO:COMPUTE DIGITAL SIGNATURE"),
    ],
)
def test_error_for_other_status_words_are_plain_apdu_errors(sw: int, command: str) -> None:
    error = error_for(sw, command)
    assert type(error) is ApduError
    assert error.sw == sw
    assert error.command == command
    assert f"{sw:04X}" in str(error)


def test_pin_errors_are_not_apdu_errors() -> None:
    """Callers catch PIN problems without parsing status words."""
    assert not isinstance(error_for(0x63C1, "VERIFY"), ApduError)
    assert not isinstance(error_for(0x6983, "VERIFY"), ApduError)
    assert isinstance(error_for(0x6A80, "VERIFY"), ValueError)  # PinFormatError


# --- statistics --------------------------------------------------------------------------------


def test_stats_count_apdus_and_bytes_and_reset() -> None:
    transport = ScriptedTransport(h("9000"), h("6C02"), h("0102 9000"))
    proto = BelpicProtocol(transport)
    proto.send(CommandApdu(0, Ins.SELECT, 0x08, 0x0C, h("3F00DF014031")))
    proto.send(CommandApdu(0, Ins.READ_BINARY, 0, 0, le=256))

    assert proto.stats.apdus == 3
    assert proto.stats.bytes_out == 11 + 5 + 5
    assert proto.stats.bytes_in == 2 + 2 + 4
    proto.stats.reset()
    assert (proto.stats.apdus, proto.stats.bytes_out, proto.stats.bytes_in) == (0, 0, 0)
