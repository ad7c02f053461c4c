"""Raw APDU exchanges with the virtual BELPIC card, checked against the applet manuals.

M17/M18 = BELPIC applet reference manuals 1.7/1.8; C17/C18 = card-content documents. Also
covers the PKCS#15 file builders and the latency/fault models of the emulator.
"""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import parser
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.card.constants import (
    ATR_APPLET_1_7,
    ATR_APPLET_1_8,
    BELPIC_APPLET_AID,
    ID_DF_AID,
    PKCS15_AID,
    AppletVersion,
    FileId,
    KeyRef,
)
from bridge.emulator.applet import (
    BelpicApplet,
    decode_pin_block,
    encode_pin_block,
    mask_pin_blocks,
    simple_tlv_records,
)
from bridge.emulator.latency import (
    FaultAction,
    FaultPlan,
    LatencyModel,
    clocks_per_etu,
    ins_is,
    t0_wire_bytes,
    ta1_of,
)
from bridge.emulator.pkcs15 import (
    certificate_length,
    ef_aodf,
    ef_cdf,
    ef_dir,
    ef_odf,
    ef_prkdf,
    ef_token_info,
    pad_certificate,
    standard_files,
)
from bridge.emulator.profile import CardProfile

SERIAL = bytes.fromhex("534C494E33660013931F1D9E2E2B1A21")
PIN = "1234"
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
SHA1_PREFIX = bytes.fromhex("3021300906052b0e03021a05000414")
MD5_PREFIX = bytes.fromhex("3020300c06082a864886f70d020505000410")
DIGEST = hashlib.sha256(b"to be signed").digest()
DIGEST_384 = hashlib.sha384(b"to be signed").digest()

# A small identity file: tags ascending, zero padding at the end (C18 §6.1).
IDENTITY = (
    bytes.fromhex("000102")
    + b"\x01\x0c592123456789"
    + b"\x02\x10"
    + SERIAL
    + b"\x07\x06Peeter"
    + b"\x08\x04Jan "
    + b"\x0a\x05Belg "
    + bytes(40)
)
# An address file whose tags 01..02 make more than 256 bytes (for READ RECORD chaining).
ADDRESS = b"\x00\x01\x01" + b"\x01\xc8" + b"S" * 200 + b"\x02\x96" + b"1" * 150 + bytes(20)
BIG_FILE = bytes(range(256)) * 3 + b"tail"  # 772 bytes


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> dict[KeyRef, rsa.RSAPrivateKey]:
    return {
        KeyRef.AUTHENTICATION: rsa.generate_private_key(65537, 2048),
        KeyRef.NON_REPUDIATION: rsa.generate_private_key(65537, 2048),
    }


@pytest.fixture(scope="module")
def ec_keys() -> dict[KeyRef, ec.EllipticCurvePrivateKey]:
    return {ref: ec.generate_private_key(ec.SECP384R1()) for ref in KeyRef}


def _files(applet: AppletVersion) -> dict[bytes, bytes]:
    files = standard_files(applet, SERIAL, {FileId.CERT_CA: b"\x30\x03\x02\x01\x01"})
    files[FileId.IDENTITY.path] = IDENTITY
    files[FileId.ADDRESS.path] = ADDRESS
    files[FileId.PHOTO.path] = BIG_FILE
    return files


@pytest.fixture
def profile17(rsa_keys: dict[KeyRef, rsa.RSAPrivateKey]) -> CardProfile:
    return CardProfile(
        "citizen 1.7", AppletVersion.V1_7, SERIAL, _files(AppletVersion.V1_7), dict(rsa_keys)
    )


@pytest.fixture
def profile18(ec_keys: dict[KeyRef, ec.EllipticCurvePrivateKey]) -> CardProfile:
    return CardProfile(
        "citizen 1.8", AppletVersion.V1_8, SERIAL, _files(AppletVersion.V1_8), dict(ec_keys)
    )


@pytest.fixture
def card17(profile17: CardProfile) -> BelpicApplet:
    return BelpicApplet(profile17)


@pytest.fixture
def card18(profile18: CardProfile) -> BelpicApplet:
    return BelpicApplet(profile18)


@pytest.fixture(params=["1.7", "1.8"])
def card(
    request: pytest.FixtureRequest, card17: BelpicApplet, card18: BelpicApplet
) -> BelpicApplet:
    return card17 if request.param == "1.7" else card18


# --- helpers ------------------------------------------------------------------------------


def send(card: BelpicApplet, apdu: str | bytes) -> bytes:
    raw = bytes.fromhex(apdu.replace(" ", "")) if isinstance(apdu, str) else apdu
    return card.process(raw)


def sw(response: bytes) -> str:
    return response[-2:].hex().upper()


def verify_apdu(pin: str = PIN) -> bytes:
    return bytes.fromhex("0020000108") + encode_pin_block(pin)


def mse(algorithm: int, key: int) -> bytes:
    return bytes((0x00, 0x22, 0x41, 0xB6, 0x05, 0x04, 0x80, algorithm, 0x84, key))


def pso(dtbs: bytes) -> bytes:
    return bytes((0x00, 0x2A, 0x9E, 0x9A, len(dtbs))) + dtbs


def get_response(card: BelpicApplet, first: bytes) -> bytes:
    """Follow ``61xx`` with GET RESPONSE until ``9000``; return data + final SW."""
    data, status = b"", first
    while status[-2] == 0x61:
        status = send(card, bytes((0x00, 0xC0, 0x00, 0x00, status[-1])))
        data += status[:-2]
    return data + status[-2:]


def sign(card: BelpicApplet, dtbs: bytes) -> bytes:
    return get_response(card, card.process(pso(dtbs)))


def rsa_recover(key: rsa.RSAPrivateKey, signature: bytes) -> bytes:
    numbers = key.public_key().public_numbers()
    return pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")


def pkcs1_v15_encoded(payload: bytes) -> bytes:
    return b"\x00\x01" + b"\xff" * (256 - 3 - len(payload)) + b"\x00" + payload


def ec_verify(key: ec.EllipticCurvePrivateKey, plain: bytes, digest: bytes) -> None:
    size = len(plain) // 2
    der = utils.encode_dss_signature(
        int.from_bytes(plain[:size], "big"), int.from_bytes(plain[size:], "big")
    )
    # Prehashed only needs a hash of the right size.
    by_size: dict[int, hashes.HashAlgorithm] = {
        20: hashes.SHA1(),  # noqa: S303
        28: hashes.SHA224(),
        32: hashes.SHA256(),
        48: hashes.SHA384(),
        64: hashes.SHA512(),
    }
    algorithm = by_size[len(digest)]
    key.public_key().verify(der, digest, ec.ECDSA(utils.Prehashed(algorithm)))


def select_path(card: BelpicApplet, file_id: FileId) -> bytes:
    return send(card, bytes((0x00, 0xA4, 0x08, 0x0C, len(file_id.path))) + file_id.path)


# --- ATR, reset, T=0 ----------------------------------------------------------------------


def test_atr_per_applet(card17: BelpicApplet, card18: BelpicApplet) -> None:
    assert card17.atr == ATR_APPLET_1_7 == card17.power_on()
    assert card18.atr == ATR_APPLET_1_8 == card18.reset()


def test_state_after_reset(card: BelpicApplet) -> None:
    assert send(card, "00 B0 00 00 10") == bytes.fromhex("6986")  # MF current, no EF
    assert sw(send(card, "00 20 00 01")) == "63C3"  # no PIN verified
    assert sw(send(card, pso(DIGEST))) == "6985"  # no SE
    send(card, verify_apdu())
    send(card, mse(0x01, 0x82))
    card.reset()
    assert card.security_environment is None
    assert not card.pin_verified
    assert card.current_df == bytes.fromhex("3F00")
    assert card.current_file is None


def test_power_off_loses_rights_but_not_pin_counter(card17: BelpicApplet) -> None:
    send(card17, verify_apdu("9999"))
    send(card17, verify_apdu())
    card17.power_off()
    card17.power_on()
    assert sw(send(card17, "00 20 00 01")) == "63C3"
    send(card17, verify_apdu("9999"))
    card17.power_on()
    assert sw(send(card17, "00 20 00 01")) == "63C2"


# --- SELECT -------------------------------------------------------------------------------


@pytest.mark.parametrize("fid", ["3F00", "DF00", "DF01", "2F00"])
def test_select_by_fid_from_mf(card: BelpicApplet, fid: str) -> None:
    assert send(card, f"00 A4 02 0C 02 {fid}") == bytes.fromhex("9000")


def test_select_by_fid_is_relative_to_current_df(card: BelpicApplet) -> None:
    assert sw(send(card, "00 A4 02 0C 02 4031")) == "6A82"  # eid-mw expects this from the MF
    assert sw(send(card, "00 A4 02 0C 02 DF01")) == "9000"
    assert sw(send(card, "00 A4 02 0C 02 4031")) == "9000"
    assert card.current_file == FileId.IDENTITY.path
    assert sw(send(card, "00 A4 02 0C 02 5031")) == "6A82"  # lives in DF00
    assert sw(send(card, "00 A4 02 0C 02 DF00")) == "9000"  # MF child from DF01
    assert sw(send(card, "00 A4 02 0C 02 5031")) == "9000"
    assert sw(send(card, "00 A4 02 0C 02 2F00")) == "9000"  # MF child from DF00
    assert card.current_file == FileId.DIR.path


def test_eid_mw_path_walk(card: BelpicApplet) -> None:
    for fid in ("3F00", "DF01", "4031"):
        assert sw(send(card, f"00 A4 02 0C 02 {fid}")) == "9000"
    assert sw(send(card, "00 B0 00 00 03")) == "9000"


@pytest.mark.parametrize(
    "path", ["3F00DF014031", "DF014031", "3F00", "3F00DF00", "DF00", "3F002F00", "2F00"]
)
def test_select_by_path_with_and_without_mf(card: BelpicApplet, path: str) -> None:
    data = bytes.fromhex(path)
    assert send(card, bytes((0, 0xA4, 0x08, 0x0C, len(data))) + data) == bytes.fromhex("9000")


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00 A4 08 0C 06 3F00DF014039", "6A82"),
        ("00 A4 08 0C 04 3F00DF02", "6A82"),
        ("00 A4 08 0C 03 3F00DF", "6A87"),
        ("00 A4 02 0C 03 3F00DF", "6A87"),
        ("00 A4 02 0C 02 5039", "6A82"),
        ("00 A4 04 0C 03 A00000", "6A87"),
        ("00 A4 04 0C 05 A000000001", "6A82"),
        ("00 A4 01 0C 02 3F00", "6A86"),
        ("00 A4 02 04 02 3F00", "6A86"),
        ("00 A4 02 0C", "6A87"),
        ("00 A4 02 0C 02 3F", "6700"),
    ],
)
def test_select_errors(card: BelpicApplet, apdu: str, expected: str) -> None:
    assert sw(send(card, apdu)) == expected


@pytest.mark.parametrize("p2", ["00", "0C"])
def test_select_aids_never_return_fci(card: BelpicApplet, p2: str) -> None:
    applet = f"00 A4 04 {p2} 0F {BELPIC_APPLET_AID.hex()}"
    assert send(card, applet) == bytes.fromhex("9000")
    assert card.current_df == bytes.fromhex("3F00")
    assert send(card, f"00 A4 04 {p2} 0C {PKCS15_AID.hex()}") == bytes.fromhex("9000")
    assert send(card, "00 A4 02 0C 02 5032") == bytes.fromhex("9000")  # TokenInfo under DF00
    assert send(card, f"00 A4 04 {p2} 0C {ID_DF_AID.hex()}") == bytes.fromhex("9000")
    assert send(card, "00 A4 02 0C 02 4035") == bytes.fromhex("9000")


def test_select_with_le_is_accepted(card: BelpicApplet) -> None:
    assert send(card, f"00 A4 04 00 0F {BELPIC_APPLET_AID.hex()} 00") == bytes.fromhex("9000")


def test_empty_aid_selects_card_manager(card: BelpicApplet) -> None:
    send(card, verify_apdu())
    assert sw(send(card, "00 A4 04 00 00")) == "9000"
    assert sw(send(card, "80 E4 00 00 1C")) == "6D00"
    assert sw(send(card, f"00 A4 04 00 0C {PKCS15_AID.hex()}")) == "6A82"
    assert sw(send(card, f"00 A4 04 00 0F {BELPIC_APPLET_AID.hex()}")) == "9000"
    assert sw(send(card, "80 E4 00 00 1C")) == "9000"
    assert card.pin_verified  # re-selecting the applet keeps the PIN state


# --- READ BINARY --------------------------------------------------------------------------


def test_read_binary_offsets_and_wrong_le(card: BelpicApplet) -> None:
    select_path(card, FileId.PHOTO)
    assert send(card, "00 B0 00 00 00") == BIG_FILE[:256] + b"\x90\x00"  # Le=00 is 256
    assert send(card, "00 B0 01 00 10") == BIG_FILE[256:272] + b"\x90\x00"
    assert send(card, "00 B0 03 00 00") == bytes.fromhex("6C04")  # 4 bytes left
    assert send(card, "00 B0 03 00 04") == b"tail\x90\x00"
    assert send(card, "00 B0 03 04 01") == bytes.fromhex("6B00")  # offset == size
    assert send(card, "00 B0 7F FF 01") == bytes.fromhex("6B00")
    assert send(card, "00 B0 80 00 01") == bytes.fromhex("6B00")  # P1 bit 8: no SFI


def test_read_binary_eof_at_multiple_of_chunk(card: BelpicApplet) -> None:
    """eid-mw reads 252-byte chunks and relies on 6B00 exactly at the end of the file."""
    card.profile.files[FileId.PHOTO.path] = bytes(504)
    select_path(card, FileId.PHOTO)
    assert sw(send(card, "00 B0 00 00 FC")) == "9000"
    assert sw(send(card, "00 B0 00 FC FC")) == "9000"
    assert sw(send(card, "00 B0 01 F8 FC")) == "6B00"


def test_read_binary_needs_current_ef(card: BelpicApplet) -> None:
    send(card, "00 A4 02 0C 02 DF01")
    assert sw(send(card, "00 B0 00 00 01")) == "6986"


def test_read_binary_with_data_is_wrong_length(card: BelpicApplet) -> None:
    select_path(card, FileId.ODF)
    assert sw(send(card, "00 B0 00 00 01 00")) == "6700"


def test_read_whole_certificate_file_and_header(card17: BelpicApplet, card18: BelpicApplet) -> None:
    for card, padding_size in ((card17, 50), (card18, 1100)):
        select_path(card, FileId.CERT_CA)
        assert send(card, "00 B0 00 00 04")[:4] == bytes.fromhex("30030201")
        content = card.profile.files[FileId.CERT_CA.path]
        assert len(content) == 5 + padding_size


# --- READ RECORD (1.8) --------------------------------------------------------------------


def test_read_record_single_and_range(card18: BelpicApplet) -> None:
    select_path(card18, FileId.IDENTITY)
    assert send(card18, "80 B2 07 07 00") == b"\x07\x06Peeter\x90\x00"
    assert send(card18, "80 B2 07 08 00") == b"\x07\x06Peeter\x08\x04Jan \x90\x00"
    assert send(card18, "80 B2 03 07 00") == b"\x07\x06Peeter\x90\x00"  # absent tags skipped
    assert send(card18, "80 B2 07 07 04") == b"\x07\x06Pe\x90\x00"  # partial (case a)
    assert send(card18, "80 B2 07 07 09") == bytes.fromhex("6C08")
    assert send(card18, "80 B2 08 07 00") == bytes.fromhex("6A83")  # P2 < P1
    assert send(card18, "80 B2 12 12 00") == bytes.fromhex("6A83")  # tag not found


def test_read_record_chains_beyond_256_bytes(card18: BelpicApplet) -> None:
    select_path(card18, FileId.ADDRESS)
    first = send(card18, "80 B2 01 02 00")
    assert len(first) == 258
    assert sw(first) == "6162"  # 354 bytes: 256 now, 0x62 waiting
    whole = first[:-2] + get_response(card18, first)
    assert whole[:-2] == ADDRESS[3:357]
    assert sw(whole) == "9000"


def test_read_record_errors(card18: BelpicApplet) -> None:
    assert sw(send(card18, "80 B2 01 01 00")) == "6986"
    select_path(card18, FileId.PHOTO)
    assert sw(send(card18, "80 B2 01 01 00")) == "6981"


def test_read_record_not_on_1_7(card17: BelpicApplet) -> None:
    select_path(card17, FileId.IDENTITY)
    assert sw(send(card17, "80 B2 01 01 00")) == "6D00"


def test_simple_tlv_records_stop_at_padding() -> None:
    tags = [tag for tag, _ in simple_tlv_records(IDENTITY)]
    assert tags == [0x00, 0x01, 0x02, 0x07, 0x08, 0x0A]
    long_value = b"\x05\xff\x01" + b"x" * 256
    assert simple_tlv_records(long_value) == [(5, long_value)]


# --- GET CARD DATA ------------------------------------------------------------------------


def test_get_card_data_1_7_layout(card17: BelpicApplet) -> None:
    response = send(card17, "80 E4 00 00 1C")
    assert response == SERIAL + bytes.fromhex(
        "0102010101 17 0003 00 21 01 0F 9000".replace(" ", "")
    )


def test_get_card_data_1_8_layout(card18: BelpicApplet) -> None:
    response = send(card18, "80 E4 00 00 1C")
    assert response == SERIAL + bytes.fromhex(
        "0102010101 18 0001 00 00 02 0F 9000".replace(" ", "")
    )
    extended = send(card18, "80 E4 00 01 1F")
    assert extended == response[:-2] + bytes.fromhex("03FFFF9000")


def test_get_card_data_p2_01_reports_tries(card18: BelpicApplet) -> None:
    send(card18, verify_apdu("0000"))
    assert send(card18, "80 E4 00 01 1F")[28] == 2


def test_get_card_data_errors(card17: BelpicApplet, card18: BelpicApplet) -> None:
    assert send(card17, "80 E4 00 01 1F") == bytes.fromhex("6B00")  # 1.7: P2=00 only
    assert send(card17, "80 E4 01 00 1C") == bytes.fromhex("6B00")
    assert send(card17, "80 E4 00 00 FF") == bytes.fromhex("6C1C")  # commons-eid's Le
    assert send(card17, "80 E4 00 00") == bytes.fromhex("6C1C")
    assert send(card18, "80 E4 00 01 20") == bytes.fromhex("6C1F")
    assert send(card17, "00 E4 00 00 1C") == bytes.fromhex("6E00")


def test_get_card_data_short_le_chains(card17: BelpicApplet) -> None:
    """The minidriver asks 16 bytes and accepts ``61 0C`` (belpic.md §1.2)."""
    first = send(card17, "80 E4 00 00 10")
    assert first == SERIAL + bytes.fromhex("610C")
    assert get_response(card17, first)[:-2] == card17.card_data()[16:]


# --- GET RESPONSE -------------------------------------------------------------------------


def test_get_response_without_data(card: BelpicApplet) -> None:
    assert send(card, "00 C0 00 00 10") == bytes.fromhex("6985")


def test_get_response_wrong_le_keeps_the_chain(card18: BelpicApplet) -> None:
    send(card18, verify_apdu())
    send(card18, mse(0x02, 0x82))
    assert send(card18, pso(DIGEST_384)) == bytes.fromhex("6160")
    assert send(card18, "00 C0 00 00 00") == bytes.fromhex("6C60")
    first = send(card18, "00 C0 00 00 20")
    assert len(first) == 0x22
    assert sw(first) == "6140"
    rest = send(card18, "00 C0 00 00 40")
    assert sw(rest) == "9000"
    ec_verify(card18.profile.keys[KeyRef.AUTHENTICATION], first[:-2] + rest[:-2], DIGEST_384)  # type: ignore[arg-type]
    assert send(card18, "00 C0 00 00 10") == bytes.fromhex("6985")


def test_get_response_256_bytes(card17: BelpicApplet) -> None:
    send(card17, verify_apdu())
    send(card17, mse(0x08, 0x82))
    assert send(card17, pso(DIGEST)) == bytes.fromhex("6100")  # 256 bytes waiting
    response = send(card17, "00 C0 00 00 00")
    assert len(response) == 258
    assert sw(response) == "9000"


def test_other_command_discards_pending_output(card17: BelpicApplet) -> None:
    send(card17, verify_apdu())
    send(card17, mse(0x08, 0x82))
    send(card17, pso(DIGEST))
    send(card17, "80 E4 00 00 1C")
    assert sw(send(card17, "00 C0 00 00 00")) == "6985"


def test_get_response_wrong_p1p2(card: BelpicApplet) -> None:
    assert sw(send(card, "00 C0 01 00 10")) == "6B00"
    assert sw(send(card, "80 C0 00 00 10")) == "6E00"


# --- VERIFY -------------------------------------------------------------------------------


def test_verify_status_query_does_not_decrement(card: BelpicApplet) -> None:
    for _ in range(5):
        assert send(card, "00 20 00 01") == bytes.fromhex("63C3")
    assert send(card, "00 20 00 01 00") == bytes.fromhex("63C3")  # T=0 P3=00
    assert send(card, verify_apdu()) == bytes.fromhex("9000")
    assert send(card, "00 20 00 01") == bytes.fromhex("9000")


def test_wrong_pin_counts_down_to_blocked(card: BelpicApplet) -> None:
    assert send(card, verify_apdu("1111")) == bytes.fromhex("63C2")
    assert send(card, verify_apdu("1111")) == bytes.fromhex("63C1")
    assert send(card, verify_apdu("1111")) == bytes.fromhex("63C0")
    assert card.profile.pin_tries_left == 0
    assert send(card, verify_apdu()) == bytes.fromhex("6983")  # even the right PIN
    assert send(card, "00 20 00 01") == bytes.fromhex("6983")
    assert send(card, bytes.fromhex("0024000110") + encode_pin_block(PIN) * 2) == bytes.fromhex(
        "6983"
    )


def test_right_pin_resets_counter(card: BelpicApplet) -> None:
    send(card, verify_apdu("1111"))
    send(card, verify_apdu("1111"))
    assert send(card, verify_apdu()) == bytes.fromhex("9000")
    assert card.profile.pin_tries_left == 3


def test_blocked_profile_is_blocked_from_start(profile18: CardProfile) -> None:
    profile18.pin_tries_left = 0
    card = BelpicApplet(profile18)
    assert send(card, "00 20 00 01") == bytes.fromhex("6983")
    assert send(card, verify_apdu()) == bytes.fromhex("6983")
    assert send(card, "80 E4 00 01 1F")[28] == 0


def test_tries_persist_across_reinsertion(profile17: CardProfile) -> None:
    first = BelpicApplet(profile17)
    send(first, verify_apdu("1111"))
    send(first, verify_apdu())  # right PIN: the counter is back to 3, rights are volatile
    send(first, verify_apdu("1111"))
    second = BelpicApplet(profile17)
    assert send(second, "00 20 00 01") == bytes.fromhex("63C2")


@pytest.mark.parametrize(
    "block",
    [
        "141234FFFFFFFFFF",  # control nibble 1
        "231234FFFFFFFFFF",  # 3 digits
        "2D1234567890123F",  # 13 digits
        "241A34FFFFFFFFFF",  # not BCD
        "24123400FFFFFFFF",  # padding not F
        "241234FFFFFFFFF0",
    ],
)
def test_verify_bad_pin_block_format(card: BelpicApplet, block: str) -> None:
    assert send(card, "00 20 00 01 08" + block) == bytes.fromhex("6A80")
    assert card.profile.pin_tries_left == 3


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00 20 00 02 08 241234FFFFFFFFFF", "6A88"),
        ("00 20 01 01 08 241234FFFFFFFFFF", "6A86"),
        ("00 20 00 01 07 241234FFFFFFFF", "6700"),
        ("00 20 00 01 08", "6700"),
        ("00 20 00 01 08 241234FF", "6700"),
    ],
)
def test_verify_parameter_errors(card: BelpicApplet, apdu: str, expected: str) -> None:
    assert sw(send(card, apdu)) == expected
    assert card.profile.pin_tries_left == 3


@pytest.mark.parametrize("pin", ["12345", "123456789012"])
def test_longer_pins(profile17: CardProfile, pin: str) -> None:
    profile17.pin = pin
    card = BelpicApplet(profile17)
    assert send(card, verify_apdu(pin)) == bytes.fromhex("9000")


def test_pin_block_codec() -> None:
    assert encode_pin_block("1234") == bytes.fromhex("241234FFFFFFFFFF")
    assert encode_pin_block("12345") == bytes.fromhex("2512345FFFFFFFFF")
    assert decode_pin_block(encode_pin_block("123456789012")) == "123456789012"
    with pytest.raises(ValueError, match="4 to 12"):
        encode_pin_block("123")


# --- CHANGE REFERENCE DATA ----------------------------------------------------------------


def change_apdu(old: str, new: str) -> bytes:
    return bytes.fromhex("0024000110") + encode_pin_block(old) + encode_pin_block(new)


def test_change_pin(profile18: CardProfile) -> None:
    card = BelpicApplet(profile18)
    assert send(card, change_apdu(PIN, "98765")) == bytes.fromhex("9000")
    assert card.pin_verified  # the access right is granted
    assert profile18.pin == "98765"
    again = BelpicApplet(profile18)  # re-insert: PIN kept, rights gone
    assert not again.pin_verified
    assert send(again, verify_apdu(PIN)) == bytes.fromhex("63C2")
    assert send(again, verify_apdu("98765")) == bytes.fromhex("9000")


def test_change_pin_errors(card: BelpicApplet) -> None:
    assert send(card, change_apdu("0000", "5678")) == bytes.fromhex("63C2")
    assert card.profile.pin == PIN
    assert sw(send(card, bytes.fromhex("0024000108") + encode_pin_block(PIN))) == "6700"
    bad_new = (
        bytes.fromhex("0024000110") + encode_pin_block(PIN) + bytes.fromhex("2F12FFFFFFFFFFFF")
    )
    assert sw(send(card, bad_new)) == "6A80"
    assert sw(send(card, b"\x00\x24\x00\x03\x10" + bytes(16))) == "6A88"
    assert card.profile.pin_tries_left == 2


# --- MSE:SET ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [0x01, 0x02, 0x04, 0x08, 0x10, 0x20])
def test_mse_rsa_algorithms(card17: BelpicApplet, algorithm: int) -> None:
    assert send(card17, mse(algorithm, 0x83)) == bytes.fromhex("9000")


@pytest.mark.parametrize("algorithm", [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40])
def test_mse_ec_algorithms(card18: BelpicApplet, algorithm: int) -> None:
    assert send(card18, mse(algorithm, 0x82)) == bytes.fromhex("9000")


@pytest.mark.parametrize(
    ("version", "apdu", "expected"),
    [
        ("1.7", mse(0x40, 0x82), "6A80"),  # EC "hash not specified" is 1.8 only
        ("1.7", mse(0x03, 0x82), "6A80"),
        ("1.8", mse(0x80, 0x82), "6A80"),
        ("1.7", mse(0x01, 0x84), "6A88"),
        ("1.7", mse(0x01, 0x81), "6A88"),  # the 1.7 manual: 82 or 83 only
        ("1.8", mse(0x01, 0x87), "6A88"),
        ("1.7", "00 22 41 B6 04 04 80 01 84", "6700"),
        ("1.7", "00 22 41 B6 06 04 80 01 84 82 00", "6700"),
        ("1.7", "00 22 41 B6 05 04 81 01 84 82", "6A80"),
        ("1.7", "00 22 41 B6 05 04 80 01 85 82", "6A80"),
        ("1.7", "00 22 41 B6 05 03 80 01 84 82", "6A80"),
        ("1.7", "00 22 41 B8 05 04 80 01 84 82", "6B00"),
        ("1.7", "00 22 81 B6 05 04 80 01 84 82", "6B00"),
    ],
)
def test_mse_errors(
    card17: BelpicApplet, card18: BelpicApplet, version: str, apdu: str | bytes, expected: str
) -> None:
    card = card17 if version == "1.7" else card18
    send(card, mse(0x01, 0x82))
    assert sw(send(card, apdu)) == expected
    assert card.security_environment is None  # a failed MSE leaves no SE


def test_mse_basic_key_on_1_8_like_commons_eid(card18: BelpicApplet) -> None:
    assert send(card18, "00 22 41 B6 05 04 80 02 84 81") == bytes.fromhex("9000")
    send(card18, verify_apdu())
    assert sw(send(card18, pso(DIGEST_384))) == "6982"  # basic key: PSO:CDS NEV


# --- PSO:CDS ------------------------------------------------------------------------------


def test_pso_needs_se_then_pin(card: BelpicApplet) -> None:
    assert sw(send(card, pso(DIGEST))) == "6985"
    send(card, mse(0x01, 0x82))
    assert sw(send(card, pso(SHA256_PREFIX + DIGEST))) == "6982"


def test_pso_wrong_p1p2(card17: BelpicApplet) -> None:
    send(card17, verify_apdu())
    send(card17, mse(0x08, 0x82))
    assert sw(send(card17, b"\x00\x2a\x9e\x9b\x20" + DIGEST)) == "6B00"


def test_rsa_pkcs1_with_digest_info(card17: BelpicApplet) -> None:
    send(card17, mse(0x01, 0x82))
    send(card17, verify_apdu())
    response = sign(card17, SHA256_PREFIX + DIGEST)
    assert sw(response) == "9000"
    assert len(response) == 258
    key = card17.profile.keys[KeyRef.AUTHENTICATION]
    assert isinstance(key, rsa.RSAPrivateKey)
    key.public_key().verify(
        response[:-2], DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
    )


def test_rsa_sha256_raw_hash(card17: BelpicApplet) -> None:
    send(card17, mse(0x08, 0x82))
    send(card17, verify_apdu())
    response = sign(card17, DIGEST)
    key = card17.profile.keys[KeyRef.AUTHENTICATION]
    assert isinstance(key, rsa.RSAPrivateKey)
    key.public_key().verify(response[:-2], b"to be signed", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(
    ("algorithm", "prefix", "digest"),
    [
        (0x02, SHA1_PREFIX, hashlib.sha1(b"x").digest()),  # noqa: S324
        (0x04, MD5_PREFIX, hashlib.md5(b"x").digest()),  # noqa: S324
    ],
)
def test_rsa_legacy_hashes(
    card17: BelpicApplet, algorithm: int, prefix: bytes, digest: bytes
) -> None:
    send(card17, mse(algorithm, 0x82))
    send(card17, verify_apdu())
    response = sign(card17, digest)
    key = card17.profile.keys[KeyRef.AUTHENTICATION]
    assert isinstance(key, rsa.RSAPrivateKey)
    assert rsa_recover(key, response[:-2]) == pkcs1_v15_encoded(prefix + digest)


@pytest.mark.parametrize(
    ("algorithm", "hash_algorithm"),
    [(0x10, hashes.SHA1()), (0x20, hashes.SHA256())],  # noqa: S303
)
def test_rsa_pss(
    card17: BelpicApplet, algorithm: int, hash_algorithm: hashes.HashAlgorithm
) -> None:
    digest_ = hashes.Hash(hash_algorithm)
    digest_.update(b"message")
    digest = digest_.finalize()
    send(card17, mse(algorithm, 0x82))
    send(card17, verify_apdu())
    response = sign(card17, digest)
    key = card17.profile.keys[KeyRef.AUTHENTICATION]
    assert isinstance(key, rsa.RSAPrivateKey)
    key.public_key().verify(
        response[:-2],
        digest,
        padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size),
        utils.Prehashed(hash_algorithm),
    )


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [(0x01, 246), (0x02, 32), (0x04, 20), (0x08, 31), (0x08, 33), (0x10, 32), (0x20, 20)],
)
def test_rsa_dtbs_length_checks(card17: BelpicApplet, algorithm: int, length: int) -> None:
    send(card17, mse(algorithm, 0x82))
    send(card17, verify_apdu())
    assert sw(send(card17, pso(bytes(length)))) == "6700"


def test_rsa_pkcs1_longest_dtbs(card17: BelpicApplet) -> None:
    send(card17, mse(0x01, 0x82))
    send(card17, verify_apdu())
    assert sw(send(card17, pso(bytes(245)))) == "6100"


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        (0x01, hashlib.sha256(b"m").digest()),
        (0x02, hashlib.sha384(b"m").digest()),
        (0x04, hashlib.sha512(b"m").digest()),
        (0x08, hashlib.sha3_256(b"m").digest()),
        (0x10, hashlib.sha3_384(b"m").digest()),
        (0x20, hashlib.sha3_512(b"m").digest()),
        (0x40, hashlib.sha1(b"m").digest()),  # noqa: S324
        (0x40, hashlib.sha224(b"m").digest()),
        (0x40, hashlib.sha384(b"m").digest()),
    ],
)
def test_ecdsa_plain_signature(card18: BelpicApplet, algorithm: int, digest: bytes) -> None:
    send(card18, mse(algorithm, 0x82))
    send(card18, verify_apdu())
    first = send(card18, pso(digest))
    assert first == bytes.fromhex("6160")  # 96 bytes r || s, never DER
    response = get_response(card18, first)
    assert sw(response) == "9000"
    assert len(response) == 98
    key = card18.profile.keys[KeyRef.AUTHENTICATION]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    ec_verify(key, response[:-2], digest)


@pytest.mark.parametrize(("algorithm", "length"), [(0x01, 48), (0x02, 32), (0x04, 48), (0x40, 33)])
def test_ecdsa_dtbs_length_checks(card18: BelpicApplet, algorithm: int, length: int) -> None:
    send(card18, mse(algorithm, 0x82))
    send(card18, verify_apdu())
    assert sw(send(card18, pso(bytes(length)))) == "6700"


def test_pso_accepts_le_from_non_t0_client(card18: BelpicApplet) -> None:
    send(card18, mse(0x02, 0x82))
    send(card18, verify_apdu())
    assert send(card18, pso(DIGEST_384) + b"\x00") == bytes.fromhex("6160")


# --- access conditions (M17/M18 §5.1) -----------------------------------------------------

STEPS = {
    "verify": verify_apdu(),
    "wrong_verify": verify_apdu("0000"),
    "read": bytes.fromhex("80E400001C"),
    "select": bytes.fromhex("00A4020C02DF00"),
    "mse_auth": b"",  # filled per version below
    "mse_nonrep": b"",
    "logoff": bytes.fromhex("80E60000"),
}


def run(card: BelpicApplet, script: str) -> list[str]:
    """Run ``step step …``; ``sign_auth``/``sign_nonrep`` sign with the SE set beforehand,
    ``bad_sign`` sends a DTBS of the wrong length. Returns the status words."""
    algorithm = 0x02 if card.is_1_8 else 0x08
    digest = DIGEST_384 if card.is_1_8 else DIGEST
    steps = dict(STEPS, mse_auth=mse(algorithm, 0x82), mse_nonrep=mse(algorithm, 0x83))
    results = []
    for step in script.split():
        if step in ("sign", "sign_auth", "sign_nonrep"):
            response = sign(card, digest)
        elif step == "bad_sign":
            response = send(card, pso(digest[:-1]))
        else:
            response = send(card, steps[step])
        results.append(sw(response))
    return results


def test_pin_once(card: BelpicApplet) -> None:
    script = "mse_auth verify sign read select sign logoff sign"
    assert run(card, script) == ["9000"] * 7 + ["6982"]


@pytest.mark.parametrize(
    ("script", "last"),
    [
        ("mse_nonrep verify sign", "9000"),
        ("verify mse_nonrep sign", "6982"),  # MSE between VERIFY and PSO
        ("mse_nonrep sign", "6982"),
        ("mse_nonrep verify sign sign", "6982"),
        ("mse_nonrep verify select select sign", "6982"),
        ("mse_auth verify sign mse_nonrep sign", "6982"),
        ("mse_nonrep verify logoff sign", "6982"),
    ],
)
def test_pin_just_before_both_versions(card: BelpicApplet, script: str, last: str) -> None:
    assert run(card, script)[-1] == last


def test_pin_just_before_1_7_is_immediate(card17: BelpicApplet) -> None:
    assert run(card17, "mse_nonrep verify read sign") == ["9000", "9000", "9000", "6982"]


def test_pin_just_before_1_8_allows_one_command(card18: BelpicApplet) -> None:
    assert run(card18, "mse_nonrep verify read sign") == ["9000"] * 4
    assert run(card18, "mse_nonrep verify select sign") == ["9000"] * 4
    assert run(card18, "mse_nonrep verify read read sign")[-1] == "6982"


@pytest.mark.parametrize(
    ("script", "expected_last"),
    [
        # M17/M18 §5.1 "PIN Mixed" examples, with the MSE:SET that the manual implies.
        ("verify read mse_nonrep verify sign read mse_auth sign", "9000"),
        ("mse_auth verify sign mse_nonrep verify sign read mse_auth sign", "9000"),
        ("mse_nonrep verify sign read verify read mse_auth sign", "9000"),
        ("mse_nonrep verify sign read mse_auth sign", "6982"),
        ("mse_nonrep verify bad_sign read mse_auth sign", "6982"),
        ("verify read mse_nonrep wrong_verify sign read mse_auth sign", "6982"),
    ],
)
def test_pin_mixed(card: BelpicApplet, script: str, expected_last: str) -> None:
    assert run(card, script)[-1] == expected_last


def test_pin_mixed_read_then_nonrep_1_7(card17: BelpicApplet) -> None:
    # "Verify(PIN), Read, Sign(Keynon-rep) KO…, Sign(Keyauth) OK" (M17 §5.1)
    assert run(card17, "mse_nonrep verify read sign mse_auth sign")[-3:] == [
        "6982",
        "9000",
        "9000",
    ]


def test_wrong_pin_clears_all_rights(card: BelpicApplet) -> None:
    assert run(card, "mse_auth verify sign wrong_verify sign") == [
        "9000",
        "9000",
        "9000",
        "63C2",
        "6982",
    ]


# --- INTERNAL AUTHENTICATE ----------------------------------------------------------------


def internal_authenticate(challenge: bytes) -> bytes:
    return bytes((0x00, 0x88, 0x02, 0x81, len(challenge) + 2, 0x94, len(challenge))) + challenge


def test_internal_authenticate(card18: BelpicApplet) -> None:
    challenge = hashlib.sha384(b"nonce").digest()
    first = send(card18, internal_authenticate(challenge))
    assert first == bytes.fromhex("6160")
    response = send(card18, "00 C0 00 00 60")
    assert sw(response) == "9000"
    key = card18.profile.keys[KeyRef.BASIC]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    ec_verify(key, response[:-2], challenge)


def test_internal_authenticate_clears_se(card18: BelpicApplet) -> None:
    send(card18, verify_apdu())
    send(card18, mse(0x02, 0x82))
    send(card18, internal_authenticate(bytes(48)))
    assert card18.security_environment is None
    assert sw(send(card18, pso(DIGEST_384))) == "6985"


def test_internal_authenticate_failure_keeps_se(card18: BelpicApplet) -> None:
    send(card18, mse(0x02, 0x82))
    send(card18, internal_authenticate(bytes(47)))
    assert card18.security_environment is not None


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00 88 02 81 32 95 30" + "00" * 48, "6A80"),
        ("00 88 02 81 31 94 2F" + "00" * 47, "6A80"),
        ("00 88 02 81 32 94 2F" + "00" * 48, "6A80"),
        ("00 88 01 81 22 94 20" + "00" * 32, "6B00"),
        ("00 88 02 82 32 94 30" + "00" * 48, "6982"),
        ("00 88 02 84 32 94 30" + "00" * 48, "6A88"),
        ("00 88 02 81", "6700"),
        ("10 88 02 81 32 94 30" + "00" * 48, "6E00"),  # no input chaining
    ],
)
def test_internal_authenticate_errors(card18: BelpicApplet, apdu: str, expected: str) -> None:
    assert sw(send(card18, apdu)) == expected


def test_internal_authenticate_limit(profile18: CardProfile) -> None:
    profile18.internal_authenticate_limit = 2
    card = BelpicApplet(profile18)
    challenge = internal_authenticate(bytes(48))
    assert [sw(send(card, challenge)) for _ in range(3)] == ["6160", "6160", "6985"]
    send(card, verify_apdu())  # a successful VERIFY unblocks it (M18 §5.2)
    assert sw(send(card, challenge)) == "6160"


def test_internal_authenticate_not_on_1_7(card17: BelpicApplet) -> None:
    assert sw(send(card17, internal_authenticate(bytes(48)))) == "6D00"


# --- LOG OFF and the rest -----------------------------------------------------------------


@pytest.mark.parametrize("apdu", ["80 E6 00 00", "80 E6 00 00 00"])
def test_log_off_drops_rights(card: BelpicApplet, apdu: str) -> None:
    send(card, verify_apdu())
    assert send(card, apdu) == bytes.fromhex("9000")
    assert sw(send(card, "00 20 00 01")) == "63C3"


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [("80 E6 00 00 05", "6700"), ("80 E6 00 00 01 00", "6700"), ("80 E6 01 00", "6B00")],
)
def test_log_off_errors(card: BelpicApplet, apdu: str, expected: str) -> None:
    assert sw(send(card, apdu)) == expected


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00 84 00 00 08", "6D00"),  # GET CHALLENGE: not in either manual
        ("00 CA 01 00 00", "6D00"),
        ("80 A4 02 0C 02 3F00", "6E00"),
        ("84 A4 02 0C 02 3F00", "6E00"),
        ("10 A4 02 0C 02 3F00", "6E00"),
        ("FF CA 00 00 00", "6E00"),
        ("01 B0 00 00 10", "6881"),
        ("41 B0 00 00 10", "6881"),
        (f"01 A4 04 0C 0F {BELPIC_APPLET_AID.hex()}", "6999"),
        ("00 70 00 00 01", "6999"),  # MANAGE CHANNEL open
        ("00 70 80 01", "6881"),  # MANAGE CHANNEL close
        ("00 A4 02 0C 05 3F00", "6700"),  # Lc larger than the data
        ("00 A4 02 0C 01 3F00", "6A87"),  # parses as Lc=1 and Le
        ("00 A4 02", "6700"),
        ("", "6700"),
    ],
)
def test_class_instruction_and_length_errors(card: BelpicApplet, apdu: str, expected: str) -> None:
    assert sw(send(card, apdu)) == expected


def test_reset_retry_counter(card17: BelpicApplet, card18: BelpicApplet) -> None:
    assert sw(send(card17, "00 2C 00 01")) == "6D00"
    assert sw(send(card18, "00 2C 00 01")) == "6982"


# --- APDU log -----------------------------------------------------------------------------


def test_log_records_and_masks_pins(card: BelpicApplet) -> None:
    send(card, "80 E4 00 00 1C")
    send(card, verify_apdu("4321"))
    send(card, change_apdu("4321", "8765"))
    assert len(card.log) == 3
    assert card.log[0][0] == bytes.fromhex("80E400001C")
    assert card.log[0][1][-2:] == b"\x90\x00"
    verify_logged, change_logged = card.log[1][0], card.log[2][0]
    assert verify_logged == bytes.fromhex("0020000108") + b"\xff" * 8
    assert change_logged == bytes.fromhex("0024000110") + b"\xff" * 16
    everything = b"".join(c + r for c, r in card.log)
    for digits in (b"\x43\x21", b"\x87\x65"):
        assert digits not in everything
    assert PIN not in repr(card)
    card.clear_log()
    assert card.log == []


def test_mask_leaves_other_apdus() -> None:
    assert mask_pin_blocks(b"\x00\xb0\x00\x00\x10") == b"\x00\xb0\x00\x00\x10"
    assert mask_pin_blocks(b"\x00\x20\x00\x01") == b"\x00\x20\x00\x01"


def test_repeat_login_reads_no_certificate_file_is_observable(card: BelpicApplet) -> None:
    select_path(card, FileId.CERT_CA)
    card.clear_log()
    send(card, verify_apdu())
    assert not any(command[1] == 0xB0 for command, _ in card.log)


# --- robustness ---------------------------------------------------------------------------


KNOWN_HEADERS = [
    bytes((cla, ins))
    for cla, ins in (
        (0x00, 0xA4),
        (0x00, 0xB0),
        (0x80, 0xB2),
        (0x00, 0xC0),
        (0x00, 0x20),
        (0x00, 0x24),
        (0x00, 0x22),
        (0x00, 0x2A),
        (0x00, 0x88),
        (0x80, 0xE4),
        (0x80, 0xE6),
        (0x00, 0x70),
    )
]


APDUS = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda head, p1p2, body: head + p1p2 + body,
        st.sampled_from(KNOWN_HEADERS),
        st.binary(min_size=2, max_size=2),
        st.binary(max_size=260),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(APDUS, max_size=12))
def test_any_apdu_sequence_gets_a_status_word(
    rsa_keys: dict[KeyRef, rsa.RSAPrivateKey], apdus: list[bytes]
) -> None:
    card = BelpicApplet(
        CardProfile("fuzz", AppletVersion.V1_7, SERIAL, _files(AppletVersion.V1_7), dict(rsa_keys))
    )
    card.process(verify_apdu())
    for apdu in apdus:
        response = card.process(apdu)
        assert len(response) >= 2
        assert response[-2:] != b"\x64\x00"  # would mean an exception inside the emulator
        assert response[-2] in (0x90, 0x61, 0x62, 0x63, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C,
                                0x6D, 0x6E)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(APDUS, max_size=12))
def test_any_apdu_sequence_gets_a_status_word_1_8(
    ec_keys: dict[KeyRef, ec.EllipticCurvePrivateKey], apdus: list[bytes]
) -> None:
    card = BelpicApplet(
        CardProfile("fuzz", AppletVersion.V1_8, SERIAL, _files(AppletVersion.V1_8), dict(ec_keys))
    )
    for apdu in apdus:
        response = card.process(apdu)
        assert len(response) >= 2
        assert response[-2:] != b"\x64\x00"


# --- PKCS#15 files ------------------------------------------------------------------------


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


def test_dir_odf_aodf_match_the_documents() -> None:
    assert ef_dir() == h(
        "61 23 4F 0C A0 00 00 01 77 50 4B 43 53 2D 31 35 50 06 42 45 4C 50 49 43"
        "51 04 3F 00 DF 00 73 05 06 03 60 38 02"
    )
    assert ef_odf() == h(
        "A0 0A 30 08 04 06 3F 00 DF 00 50 35 A4 0A 30 08 04 06 3F 00 DF 00 50 37"
        "A8 0A 30 08 04 06 3F 00 DF 00 50 34"
    )
    assert ef_aodf() == h(
        "30 33 30 0F 0C 09 42 61 73 69 63 20 50 49 4E 03 02 06 C0 30 03 04 01 01 A1 1B 30 19"
        "03 02 02 0C 0A 01 00 02 01 04 02 01 08 80 01 01 04 01 FF 30 04 04 02 3F 00"
    )


def test_token_info() -> None:
    info = ef_token_info(SERIAL, AppletVersion.V1_8)
    assert info == h("30 27 02 01 00 04 10") + SERIAL + h(
        "80 06 42 45 4C 50 49 43 03 02 04 30 9E 04 00 04 00 00"
    )
    assert ef_token_info(SERIAL, AppletVersion.V1_7)[-4:] == h("00 03 00 00")
    with pytest.raises(ValueError, match="16 bytes"):
        ef_token_info(SERIAL[:8], AppletVersion.V1_7)


AUTH_KEY_COMMON = (
    "30 17 0C 0E 41 75 74 68 65 6E 74 69 63 61 74 69 6F 6E 03 02 06 C0 04 01 01"
    "30 0F 04 01 02 03 02 05 20 03 02 03 B8 02 02 00 82 A1 0E 30 0C 30 06 04 04 3F 00 DF 00"
)
NONREP_KEY_COMMON = (
    "30 15 0C 09 53 69 67 6E 61 74 75 72 65 03 02 06 C0 04 01 01 02 01 01"
    "30 10 04 01 03 03 03 06 00 40 03 02 03 B8 02 02 00 83 A1 0E 30 0C 30 06 04 04 3F 00 DF 00"
)


def test_prkdf_1_7_rsa_2048() -> None:
    assert ef_prkdf(AppletVersion.V1_7) == h(
        f"30 3A {AUTH_KEY_COMMON} 02 02 08 00 30 39 {NONREP_KEY_COMMON} 02 02 08 00"
    )
    assert ef_prkdf(AppletVersion.V1_1)[0x3A:0x3C] == h("04 00")  # the C17 example's 1024


def test_prkdf_1_8_ec_384() -> None:
    assert ef_prkdf(AppletVersion.V1_8) == h(
        f"A0 3A {AUTH_KEY_COMMON} 02 02 01 80 A0 39 {NONREP_KEY_COMMON} 02 02 01 80"
    )


CDF_17 = h(
    "30 2C 30 17 0C 0E 41 75 74 68 65 6E 74 69 63 61 74 69 6F 6E 03 02 06 C0 04 01 01"
    "30 03 04 01 02 A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 38"
    "30 27 30 12 0C 09 53 69 67 6E 61 74 75 72 65 03 02 06 C0 04 01 01"
    "30 03 04 01 03 A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 39"
    "30 23 30 0B 0C 02 43 41 03 02 06 C0 04 01 01 30 06 04 01 04 01 01 FF"
    "A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 3A"
    "30 25 30 0D 0C 04 52 6F 6F 74 03 02 06 C0 04 01 01 30 06 04 01 06 01 01 FF"
    "A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 3B"
)
CDF_18 = h(
    "30 2F 30 17 0C 0E 41 75 74 68 65 6E 74 69 63 61 74 69 6F 6E 03 02 06 40 04 01 01"
    "30 06 04 01 02 83 01 00 A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 38"
    "30 2A 30 12 0C 09 53 69 67 6E 61 74 75 72 65 03 02 06 40 04 01 01"
    "30 06 04 01 03 83 01 00 A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 39"
    "30 26 30 0B 0C 02 43 41 03 02 06 40 04 01 01 30 09 04 01 04 01 01 FF 83 01 00"
    "A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 3A"
    "30 28 30 0D 0C 04 52 6F 6F 74 03 02 06 40 04 01 01 30 09 04 01 06 01 01 FF 83 01 00"
    "A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 3B"
)


def test_cdf_match_the_documents() -> None:
    assert ef_cdf(AppletVersion.V1_7) == CDF_17
    assert ef_cdf(AppletVersion.V1_8) == CDF_18


def test_cdf_without_user_certificates_is_zero_filled() -> None:
    no_nonrep = ef_cdf(AppletVersion.V1_8, frozenset({FileId.CERT_AUTHENTICATION}))
    assert len(no_nonrep) == len(CDF_18)
    assert no_nonrep.startswith(CDF_18[:0x31] + CDF_18[0x31 + 0x2C : 0x31 + 0x2C + 0x28])
    assert no_nonrep.endswith(bytes(0x2C))
    kids = ef_cdf(AppletVersion.V1_7, frozenset())
    assert kids.startswith(h("30 23 30 0B"))
    assert kids.endswith(bytes(0x2E + 0x29))


def _walk_der(data: bytes) -> int:
    """Parse ``data`` as a run of DER values (recursing into constructed ones); count them."""
    count, position = 0, 0
    while position < len(data):
        info, _header, _content, position = _parse_one(data, position)
        count += 1
        if info[1]:  # constructed
            count += _walk_der(_content)
    return count


def _parse_one(data: bytes, position: int) -> tuple[tuple[int, bool], bytes, bytes, int]:
    value = parser.parse(data[position:])
    class_, method, _tag, header, content, _trailer = value
    consumed = len(header) + len(content)
    return (class_, bool(method)), header, content, position + consumed


@pytest.mark.parametrize("applet", [AppletVersion.V1_7, AppletVersion.V1_8])
def test_pkcs15_files_are_der(applet: AppletVersion) -> None:
    for content in (
        ef_dir(),
        ef_odf(),
        ef_token_info(SERIAL, applet),
        ef_aodf(),
        ef_prkdf(applet),
        ef_cdf(applet),
    ):
        assert _walk_der(content) > 3


def test_certificate_padding() -> None:
    der = b"\x30\x82\x01\x00" + bytes(0x100)
    assert pad_certificate(der, AppletVersion.V1_7) == der + bytes(50)
    assert pad_certificate(der, AppletVersion.V1_8) == der + bytes(1100)
    assert pad_certificate(None, AppletVersion.V1_7) == bytes(1300)
    assert pad_certificate(b"", AppletVersion.V1_8) == bytes(2500)
    assert certificate_length(pad_certificate(der, AppletVersion.V1_8)) == len(der)
    assert certificate_length(bytes(2500)) == 0


def test_standard_files() -> None:
    cert = b"\x30\x03\x02\x01\x05"
    files = standard_files(AppletVersion.V1_8, SERIAL, {FileId.CERT_ROOT: cert})
    expected = {f.path for f in (FileId.DIR, FileId.ODF, FileId.TOKEN_INFO, FileId.AODF,
                                 FileId.PRKDF, FileId.CDF, FileId.CERT_AUTHENTICATION,
                                 FileId.CERT_SIGNATURE, FileId.CERT_CA, FileId.CERT_ROOT,
                                 FileId.CERT_RRN)}  # fmt: skip
    assert set(files) == expected
    assert files[FileId.CERT_ROOT.path] == cert + bytes(1100)
    assert files[FileId.CERT_AUTHENTICATION.path] == bytes(2500)
    assert files[FileId.CDF.path].startswith(h("30 26 30 0B"))  # no user certificates
    with pytest.raises(ValueError, match="not certificate files"):
        standard_files(AppletVersion.V1_8, SERIAL, {FileId.IDENTITY: cert})


# --- latency and faults -------------------------------------------------------------------


def test_ta1_speeds() -> None:
    assert ta1_of(ATR_APPLET_1_7) == 0x13
    assert clocks_per_etu(0x13) == 93
    assert ta1_of(ATR_APPLET_1_8) == 0x96
    assert clocks_per_etu(0x96) == 16
    assert ta1_of(bytes.fromhex("3B00")) == 0x11
    with pytest.raises(ValueError, match="RFU"):
        clocks_per_etu(0x70)


def test_cost_at_ta1_13_vs_96() -> None:
    slow, fast = LatencyModel.for_atr(ATR_APPLET_1_7), LatencyModel.for_atr(ATR_APPLET_1_8)
    read = bytes.fromhex("00B0000000"), bytes(256) + b"\x90\x00"
    wire = t0_wire_bytes(*read)
    assert wire == 5 + 1 + 256 + 2
    assert slow.byte_time == pytest.approx(12 * 93 / 3.5712e6)  # 312.5 µs
    assert slow.cost(*read) == pytest.approx(0.004 + wire * 12 * 93 / 3.5712e6)
    assert fast.cost(*read) == pytest.approx(0.004 + wire * 12 * 16 / 3.5712e6)
    assert slow.cost(*read) > 4 * fast.cost(*read)


def test_cost_of_signatures_and_pins() -> None:
    model = LatencyModel.for_atr(ATR_APPLET_1_7)
    signed = model.cost(pso(DIGEST), b"\x61\x00")
    refused = model.cost(pso(DIGEST), b"\x69\x82")
    assert signed - refused == pytest.approx(0.25)
    assert LatencyModel.for_atr(ATR_APPLET_1_8).signature == pytest.approx(0.08)
    assert model.cost(verify_apdu(), b"\x90\x00") > model.cost(b"\x00\x20\x00\x01", b"\x90\x00")
    assert t0_wire_bytes(pso(DIGEST) + b"\x00", b"\x61\x00") == 5 + 1 + 32 + 2  # no Le on T=0
    assert LatencyModel.for_atr(ATR_APPLET_1_7, per_apdu=0.0).per_apdu == 0.0


def test_zero_model() -> None:
    assert LatencyModel.zero().cost(pso(DIGEST), b"\x61\x00") == 0.0


def test_fault_plan_removes_card_at_nth_matching_apdu() -> None:
    plan = FaultPlan().remove_at(2, ins_is(0x2A))
    assert plan.on_apdu(pso(DIGEST)) is FaultAction.NONE
    assert plan.on_apdu(b"\x00\xb0\x00\x00\x10") is FaultAction.NONE
    assert plan.on_apdu(pso(DIGEST)) is FaultAction.REMOVE
    assert plan.on_apdu(b"\x80\xe4\x00\x00\x1c") is FaultAction.REMOVE  # it stays out
    assert plan.on_power_on() is FaultAction.REMOVE
    plan.reinsert()
    assert plan.on_apdu(pso(DIGEST)) is FaultAction.NONE
    assert plan.pending == 0


def test_fault_plan_mute() -> None:
    plan = FaultPlan().mute_at(1)
    assert plan.on_apdu(b"\x00\xa4") is FaultAction.MUTE
    assert plan.on_apdu(b"\x00\xa4") is FaultAction.NONE
    assert FaultPlan().mute_atr().on_power_on() is FaultAction.MUTE
    assert FaultPlan().on_power_on() is FaultAction.NONE
    with pytest.raises(ValueError, match="from 1"):
        FaultPlan().remove_at(0)
