"""``BelpicSession`` over the in-process transport with real virtual cards (applets 1.7 and 1.8).

Everything is checked against values: what the profile holds, what the card's APDU log shows,
what the card's counters say, signatures verified against the certificates. Sources: applet
manuals 1.7/1.8 §3-§6 (PIN, access conditions, commands), card content v5.4 (files), and
``shared/belpic.md`` §2 (files, READ BINARY), §4 (PIN, PIN pad), §5 (signatures), §7 (status
words) and §10 (APDU floor).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from bridge.card import pinpad
from bridge.card.apdu import SW, CommandApdu, Ins
from bridge.card.constants import (
    BELPIC_APPLET_AID,
    CERTIFICATE_FILES,
    FileId,
    HashAlgorithm,
    KeyRef,
)
from bridge.card.errors import (
    ApduError,
    CardDataError,
    CardMute,
    CardRemoved,
    CardReset,
    FileNotFound,
    IntegrityError,
    NoCard,
    PinBlocked,
    PinCancelled,
    PinFormatError,
    PinIncorrect,
    PinRequired,
    PinTimeout,
    UnsupportedCard,
)
from bridge.card.identity import DocumentType, parse_identity
from bridge.card.local import LocalReader, LocalTransport
from bridge.card.session import BelpicSession, basic_public_key, der_length, pin_block
from bridge.card.transport import Transport
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.latency import FaultPlan, starts_with
from bridge.emulator.pinpad_reader import (
    MODIFY_IOCTL,
    VERIFY_IOCTL,
    KeypadAction,
    PinpadReader,
    PinPrompt,
    PinPurpose,
    VerifyRequest,
    insert_pin,
    parse_verify_structure,
)
from bridge.emulator.pki import TestPki
from bridge.emulator.profile import CardProfile
from bridge.emulator.profiles import BuiltCard, build_card, card_number
from tests.conftest import InProcessCard

PIN = "1234"
VERSIONS = ("1.7", "1.8")
OpenCard = Callable[[str], InProcessCard]

READ_FILES = (FileId.IDENTITY, FileId.ADDRESS, FileId.PHOTO, *CERTIFICATE_FILES)
"""The 8 files of a cold read (belpic.md §10): identity, address, photo, 5 certificates."""


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_cards(test_pki: TestPki) -> dict[str, BuiltCard]:
    """Built once per module, for tests that do not change the profile (no PIN tries spent,
    no file changed). Each test still gets its own applet, reader and session."""
    return {name: build_card(name, test_pki) for name in ("citizen-1.7", "citizen-1.8")}


def open_profile(built: BuiltCard, reader: LocalReader | None = None) -> InProcessCard:
    applet = BelpicApplet(built.profile)
    reader = reader or LocalReader()
    reader.insert(applet)
    return InProcessCard(built, applet, reader, BelpicSession(reader.connect()))


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def citizen(shared_cards: dict[str, BuiltCard], version: str) -> InProcessCard:
    """A citizen card of the parametrised applet version on a shared (read-only) profile."""
    return open_profile(shared_cards[f"citizen-{version}"])


def copy_of(built: BuiltCard) -> BuiltCard:
    """The same card with its own file table, for tests that tamper with files."""
    profile = dataclasses.replace(built.profile, files=dict(built.profile.files))
    return dataclasses.replace(built, profile=profile)


def commands(applet: BelpicApplet, since: int = 0) -> list[bytes]:
    return [command for command, _ in applet.log[since:]]


def instructions(applet: BelpicApplet, since: int = 0) -> list[int]:
    return [command[1] for command in commands(applet, since)]


def public_key(cert_der: bytes) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key


HASHES: dict[HashAlgorithm, Callable[[], hashes.HashAlgorithm]] = {
    HashAlgorithm.SHA256: hashes.SHA256,
    HashAlgorithm.SHA384: hashes.SHA384,
    HashAlgorithm.SHA512: hashes.SHA512,
}


def digest_of(message: bytes, algorithm: HashAlgorithm) -> bytes:
    return hashlib.new(algorithm.value.replace("-", "").lower(), message).digest()


def verify_signature(
    cert_der: bytes, signature: bytes, digest: bytes, algorithm: HashAlgorithm
) -> None:
    """Raises InvalidSignature unless ``signature`` is the certificate key's signature of
    ``digest``: PKCS#1 v1.5 for RSA, DER ECDSA for EC."""
    key = public_key(cert_der)
    prehashed = utils.Prehashed(HASHES[algorithm]())
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, digest, padding.PKCS1v15(), prehashed)
    else:
        key.verify(signature, digest, ec.ECDSA(prehashed))


def security_environment(applet: BelpicApplet) -> object:
    """The card's SE, read afresh (not narrowed by an earlier assertion)."""
    return applet.security_environment


def is_read_binary(command: bytes) -> bool:
    return command[:2] == b"\x00\xb0"


def read_offset(command: bytes) -> int:
    return (command[2] << 8) | command[3]


# --- card data ---------------------------------------------------------------------------------


def test_card_data_fields(citizen: InProcessCard, version: str) -> None:
    profile = citizen.built.profile
    data = citizen.session.card_data

    assert data.serial == profile.serial
    assert data.serial_hex == profile.serial.hex().upper()
    assert data.applet_version == (0x17 if version == "1.7" else 0x18)
    assert data.life_cycle == 0x0F
    assert data.global_os_version == (0x0003 if version == "1.7" else 0x0001)
    assert data.pkcs1_support == (0x21 if version == "1.7" else 0x00)
    assert data.key_exchange_version == (0x01 if version == "1.7" else 0x02)
    assert data.applet_interface_version == 0
    assert (data.component_code, data.os_number, data.os_version) == (
        profile.component_code,
        profile.os_number,
        profile.os_version,
    )
    assert (data.softmask_number, data.softmask_version) == (
        profile.softmask_number,
        profile.softmask_version,
    )
    assert data.pin_tries_left is None  # only GET CARD DATA P2=01 carries it
    assert data.is_ec is (version == "1.8")
    assert citizen.session.applet_version == data.applet_version
    assert citizen.session.protocol.resend_delay == 0.0
    # One APDU, GET CARD DATA legacy layout, then cached.
    assert commands(citizen.applet) == [bytes.fromhex("80E400001C")]
    assert citizen.session.card_data is data
    assert len(citizen.applet.log) == 1


def test_card_data_life_cycle_is_read_from_the_card(make_card: Callable[[str], BuiltCard]) -> None:
    built = make_card("citizen-1.8")
    built.profile.life_cycle = 0x07
    assert open_profile(built).session.card_data.life_cycle == 0x07


def test_is_ec_from_the_1_8_atr_sends_nothing(shared_cards: dict[str, BuiltCard]) -> None:
    card = open_profile(shared_cards["citizen-1.8"])
    assert card.session.is_ec is True
    assert card.applet.log == []


def test_is_ec_on_a_known_rsa_atr_needs_no_apdu(shared_cards: dict[str, BuiltCard]) -> None:
    card = open_profile(shared_cards["citizen-1.7"])
    assert card.session.is_ec is False
    assert instructions(card.applet) == []


def test_card_data_reselects_the_applet_after_the_card_manager(citizen: InProcessCard) -> None:
    """Another application left the card manager selected (SELECT with an empty AID): the
    session selects the BELPIC applet and asks again."""
    citizen.session.protocol.send(CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C))
    citizen.applet.clear_log()

    data = citizen.session.card_data

    assert data.serial == citizen.built.profile.serial
    assert commands(citizen.applet) == [
        bytes.fromhex("80E400001C"),
        bytes.fromhex("00A4040C0F") + BELPIC_APPLET_AID,
        bytes.fromhex("80E400001C"),
    ]
    assert citizen.applet.log[0][1] == bytes.fromhex("6D00")


def test_file_read_reselects_the_applet_after_the_card_manager(citizen: InProcessCard) -> None:
    citizen.session.protocol.send(CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C))
    identity = citizen.session.read_identity()
    assert identity.national_number == citizen.built.person.national_number
    assert bytes.fromhex("00A4040C0F") + BELPIC_APPLET_AID in commands(citizen.applet)


# --- reading the card --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["citizen-1.7", "citizen-1.8", "foreigner-1.8"])
def test_read_all_returns_what_the_profile_holds(
    make_card: Callable[[str], BuiltCard], name: str
) -> None:
    card = open_profile(make_card(name))
    built, person, files = card.built, card.built.person, card.built.profile.files
    contents = card.session.read_all()

    identity = contents.identity
    assert identity.national_number == person.national_number
    assert identity.surname == person.surname
    assert identity.first_names == person.first_names
    assert identity.third_name_initial == person.third_name_initial
    assert identity.nationality == person.nationality
    assert identity.birth_location == person.birth_location
    assert identity.birth_date.to_date() == person.birth_date
    assert identity.sex == person.sex
    assert identity.delivery_municipality == person.municipality
    assert identity.chip_number == built.profile.serial
    assert identity.card_number == card_number(built.profile.serial)
    foreigner = built.scenario == "foreigner"
    assert identity.document_type == (DocumentType.FOREIGNER_EU if foreigner else DocumentType.EID)
    assert identity.validity_begin < identity.validity_end
    assert (identity.registration_date is not None) is foreigner

    assert contents.address.street_and_number == person.street_and_number
    assert contents.address.zip_code == person.zip_code
    assert contents.address.municipality == person.municipality

    assert contents.photo == files[FileId.PHOTO.path]
    assert contents.identity_file == files[FileId.IDENTITY.path]
    assert contents.address_file == files[FileId.ADDRESS.path]
    assert contents.identity_signature == files[FileId.IDENTITY_SIGNATURE.path]
    assert contents.address_signature == files[FileId.ADDRESS_SIGNATURE.path]

    credentials = built.credentials
    assert contents.certificates.authentication == credentials.auth_cert_der
    assert contents.certificates.signature == credentials.signature_cert_der
    assert contents.certificates.ca == credentials.ca_cert_der
    assert contents.certificates.root == credentials.root_cert_der
    assert contents.certificates.rrn == credentials.rrn_cert_der

    if built.profile.is_ec:
        assert contents.basic_key == files[FileId.BASIC_KEY.path]
        assert identity.basic_key_hash == hashlib.sha384(files[FileId.BASIC_KEY.path]).digest()
        assert identity.photo_hash == hashlib.sha384(contents.photo).digest()
    else:
        assert contents.basic_key is None
        assert identity.basic_key_hash is None
    # Personal data never shows in the repr.
    assert person.national_number not in repr(contents)
    assert person.street_and_number not in repr(contents)


def test_read_identity_address_photo_individually(citizen: InProcessCard) -> None:
    person, files = citizen.built.person, citizen.built.profile.files
    assert citizen.session.read_identity().surname == person.surname
    assert citizen.session.read_address().zip_code == person.zip_code
    assert citizen.session.read_photo() == files[FileId.PHOTO.path]


def test_read_file_keeps_the_padding(citizen: InProcessCard) -> None:
    """``read_file`` returns the whole EF: the address file is 117 bytes, zero-padded."""
    address = citizen.session.read_file(FileId.ADDRESS)
    assert address == citizen.built.profile.files[FileId.ADDRESS.path]
    assert len(address) == 117
    assert address.endswith(b"\x00")


def test_certificates_are_cut_at_their_der_length(citizen: InProcessCard) -> None:
    """No READ BINARY reaches the zero padding after a certificate (C17/C18 §8: 50 or 1100
    zero bytes): each certificate costs one SELECT and ceil(length/256) READ BINARY."""
    files = citizen.built.profile.files
    for file in CERTIFICATE_FILES:
        stored = files[file.path]
        der = citizen.session.read_certificate(file)
        assert der is not None
        length = der_length(stored[:8])
        assert length is not None
        assert len(stored) > length  # the file does carry padding
        assert der == stored[:length]

        citizen.applet.clear_log()
        assert citizen.session.read_certificate(file) == der
        log = citizen.applet.log
        assert log[0][0] == bytes.fromhex("00A4080C06") + file.path
        reads = [(command, response) for command, response in log if is_read_binary(command)]
        assert len(reads) == len(log) - 1 == -(-length // 256)
        for command, response in reads:
            assert response[-2:] == b"\x90\x00"
            assert read_offset(command) + len(response) - 2 <= length
        assert sum(len(response) - 2 for _, response in reads) == length


def test_empty_certificate_slot_reads_as_none(make_card: Callable[[str], BuiltCard]) -> None:
    """Kids ID cards have no authentication/signature certificate: the file is all zeros
    (C18 §4.5, §8); one chunk tells, nothing more is read."""
    built = make_card("citizen-1.8")
    built.profile.files[FileId.CERT_AUTHENTICATION.path] = bytes(2500)
    card = open_profile(built)

    assert card.session.read_certificate(FileId.CERT_AUTHENTICATION) is None
    assert instructions(card.applet) == [Ins.SELECT, Ins.READ_BINARY]
    assert card.session.read_certificates().authentication is None


def test_missing_rrn_certificate_is_a_card_data_error(
    make_card: Callable[[str], BuiltCard],
) -> None:
    built = make_card("citizen-1.8")
    built.profile.files[FileId.CERT_RRN.path] = bytes(2500)
    with pytest.raises(CardDataError, match="CERT_RRN"):
        open_profile(built).session.read_certificates()


def test_unknown_length_file_reads_its_length_from_6cxx(citizen: InProcessCard) -> None:
    """The identity file is shorter than 256 bytes: READ BINARY Le=00 answers ``6Cxx`` and
    the protocol re-sends with the card's length (manuals §6.4)."""
    identity = citizen.built.profile.files[FileId.IDENTITY.path]
    assert citizen.session.read_file(FileId.IDENTITY) == identity
    log = citizen.applet.log
    assert [command for command, _ in log[1:]] == [
        bytes.fromhex("00B0000000"),
        bytes.fromhex("00B00000") + bytes([len(identity)]),
    ]
    assert log[1][1] == bytes([0x6C, len(identity)])


def test_file_of_exactly_512_bytes_ends_at_6b00(make_card: Callable[[str], BuiltCard]) -> None:
    """A size that is a multiple of the chunk: the next READ BINARY gets ``6B00`` (offset
    outside the EF), which means end of file (belpic.md §2.5)."""
    built = make_card("citizen-1.8")
    photo = bytes(range(256)) * 2
    built.profile.files[FileId.PHOTO.path] = photo
    card = open_profile(built)

    assert card.session.read_photo() == photo
    assert [read_offset(c) for c in commands(card.applet) if is_read_binary(c)] == [0, 256, 512]
    assert card.applet.log[-1][1] == bytes.fromhex("6B00")


def test_empty_file_is_an_error_not_an_empty_read(make_card: Callable[[str], BuiltCard]) -> None:
    built = make_card("citizen-1.8")
    built.profile.files[FileId.PHOTO.path] = b""
    with pytest.raises(ApduError) as caught:
        open_profile(built).session.read_photo()
    assert caught.value.sw == SW.WRONG_PARAMETERS


def _floor(profile: CardProfile) -> int:
    """APDUs of the cheapest cold read of the 8 files (belpic.md §10 floor: one SELECT per
    file, 256-byte chunks, certificates cut at their DER length).

    A certificate's length is in its first chunk, so it costs ceil(length/256) READ BINARY.
    Identity, address and photo have no length anywhere: reading them costs the chunks plus
    one exchange that discovers the end (the ``6Cxx`` answer before the last, short chunk,
    or the ``6B00`` after a file that ends on a chunk boundary) - no client can avoid it."""
    total = 0
    for file in READ_FILES:
        content = profile.files[file.path]
        total += 1  # SELECT
        if file in CERTIFICATE_FILES:
            length = der_length(content[:8])
            assert length is not None
            total += -(-length // 256)
        else:
            total += len(content) // 256 + 1 + (1 if len(content) % 256 else 0)
    return total


def test_cold_read_is_at_the_apdu_floor(citizen: InProcessCard) -> None:
    profile = citizen.built.profile
    session = citizen.session

    contents = session.read_all(verify=False)

    log = citizen.applet.log
    assert len(log) == session.protocol.stats.apdus == _floor(profile)
    selects = [c for c in commands(citizen.applet) if c[1] == Ins.SELECT]
    assert selects == [bytes.fromhex("00A4080C06") + file.path for file in READ_FILES]
    # One length discovery per file of unknown size: 6Cxx before a short last chunk, 6B00
    # after a file that ends on a chunk boundary; nothing else but 9000.
    sizes = [len(profile.files[f.path]) for f in (FileId.IDENTITY, FileId.ADDRESS, FileId.PHOTO)]
    statuses = [response[-2:] for _, response in log]
    assert sum(s[0] == 0x6C for s in statuses) == sum(size % 256 != 0 for size in sizes)
    assert statuses.count(b"\x6b\x00") == sum(size % 256 == 0 for size in sizes)
    assert all(s in (b"\x90\x00", b"\x6b\x00") or s[0] == 0x6C for s in statuses)
    # Bytes in: every byte of identity, address and photo, every certificate byte, and
    # nothing from the padding.
    cert_bytes = sum(
        len(der) for der in dataclasses.astuple(contents.certificates) if isinstance(der, bytes)
    )
    data_bytes = len(contents.identity_file) + len(contents.address_file) + len(contents.photo)
    assert session.protocol.stats.bytes_in == cert_bytes + data_bytes + 2 * len(log)


# --- integrity (National Register signatures) ---------------------------------------------------


def test_untouched_card_passes_integrity(citizen: InProcessCard) -> None:
    contents = citizen.session.read_all(verify=True)
    files = citizen.built.profile.files
    assert contents.identity_signature == files[FileId.IDENTITY_SIGNATURE.path]
    assert contents.address_signature == files[FileId.ADDRESS_SIGNATURE.path]
    if citizen.built.profile.is_ec:
        assert contents.basic_key == files[FileId.BASIC_KEY.path]
    read = {c[5:] for c in commands(citizen.applet) if c[1] == Ins.SELECT}
    assert FileId.IDENTITY_SIGNATURE.path in read
    assert FileId.ADDRESS_SIGNATURE.path in read
    assert (FileId.BASIC_KEY.path in read) is citizen.built.profile.is_ec


def _flip_in(content: bytes, needle: bytes) -> bytes:
    at = content.index(needle)
    return content[:at] + bytes([content[at] ^ 0x01]) + content[at + 1 :]


def _flip_at(content: bytes, offset: int) -> bytes:
    return content[:offset] + bytes([content[offset] ^ 0x01]) + content[offset + 1 :]


TAMPERING: dict[str, tuple[FileId, Callable[[BuiltCard, bytes], bytes]]] = {
    # A letter of the surname: the file still parses, only the signature tells.
    "identity": (FileId.IDENTITY, lambda b, c: _flip_in(c, b.person.surname.encode())),
    "address": (FileId.ADDRESS, lambda b, c: _flip_in(c, b.person.street_and_number.encode())),
    "photo": (FileId.PHOTO, lambda b, c: _flip_at(c, len(c) // 2)),
    "identity signature": (FileId.IDENTITY_SIGNATURE, lambda b, c: _flip_at(c, 10)),
    "address signature": (FileId.ADDRESS_SIGNATURE, lambda b, c: _flip_at(c, 10)),
}


@pytest.mark.parametrize("target", list(TAMPERING))
def test_one_tampered_byte_fails_integrity(
    shared_cards: dict[str, BuiltCard], version: str, target: str
) -> None:
    built = copy_of(shared_cards[f"citizen-{version}"])
    file, tamper = TAMPERING[target]
    original = built.profile.files[file.path]
    built.profile.files[file.path] = tamper(built, original)
    assert built.profile.files[file.path] != original

    card = open_profile(built)
    with pytest.raises(IntegrityError):
        card.session.read_all(verify=True)
    # Without verification the same card reads (the check is what fails, not the parsing).
    assert (
        open_profile(built).session.read_all(verify=False).photo
        == (built.profile.files[FileId.PHOTO.path])
    )


@pytest.mark.parametrize(
    "offset",
    [
        40,  # inside the X coordinate of the public point
        119,  # last byte of Y
        0,  # the DER header itself
    ],
)
def test_tampered_basic_key_fails_integrity(
    shared_cards: dict[str, BuiltCard], offset: int
) -> None:
    built = copy_of(shared_cards["citizen-1.8"])
    path = FileId.BASIC_KEY.path
    built.profile.files[path] = _flip_at(built.profile.files[path], offset)
    with pytest.raises(IntegrityError):
        open_profile(built).session.read_all(verify=True)


def test_applet_1_7_photo_hash_is_sha1(shared_cards: dict[str, BuiltCard]) -> None:
    """Applet 1.7 cards carry a SHA-1 photo hash (appendix 1 of the 1.7 content document);
    the RRN signature is RSA. Both are accepted, and a changed photo is caught by SHA-1."""
    built = shared_cards["citizen-1.7"]
    contents = open_profile(built).session.read_all(verify=True)
    assert len(contents.identity.photo_hash) == 20
    assert contents.identity.photo_hash == hashlib.sha1(contents.photo).digest()  # noqa: S324
    assert isinstance(public_key(contents.certificates.rrn), rsa.RSAPublicKey)

    tampered = copy_of(built)
    photo = tampered.profile.files[FileId.PHOTO.path]
    tampered.profile.files[FileId.PHOTO.path] = _flip_at(photo, 100)
    with pytest.raises(IntegrityError, match="SHA1"):
        open_profile(tampered).session.read_all(verify=True)


def test_applet_1_8_photo_hash_is_sha384(shared_cards: dict[str, BuiltCard]) -> None:
    contents = open_profile(shared_cards["citizen-1.8"]).session.read_all(verify=True)
    assert contents.identity.photo_hash == hashlib.sha384(contents.photo).digest()
    assert isinstance(public_key(contents.certificates.rrn), ec.EllipticCurvePublicKey)


# --- PIN ---------------------------------------------------------------------------------------


def test_pin_status_spends_no_try(local_card: OpenCard, version: str) -> None:
    card = local_card(f"citizen-{version}")
    status = card.session.pin_status()
    assert status.tries_left == 3
    assert not status.blocked
    assert card.applet.profile.pin_tries_left == 3
    if version == "1.8":
        assert commands(card.applet)[-1] == bytes.fromhex("80E400011F")
    else:
        assert commands(card.applet)[-1] == bytes.fromhex("00200001")  # VERIFY, Lc absent

    with pytest.raises(PinIncorrect):
        card.session.verify_pin("0000")
    assert card.session.pin_status().tries_left == 2
    assert card.session.pin_status().tries_left == 2
    assert card.applet.profile.pin_tries_left == 2


def test_wrong_pins_count_down_and_the_right_one_resets(local_card: OpenCard, version: str) -> None:
    card = local_card(f"citizen-{version}")
    with pytest.raises(PinIncorrect) as first:
        card.session.verify_pin("0000")
    assert first.value.tries_left == 2
    with pytest.raises(PinIncorrect) as second:
        card.session.verify_pin("9999")
    assert second.value.tries_left == 1
    assert card.applet.profile.pin_tries_left == 1

    card.session.verify_pin(PIN)

    assert card.applet.profile.pin_tries_left == 3
    assert card.applet.pin_verified
    assert not card.session.needs_pin(KeyRef.AUTHENTICATION)
    assert card.session.needs_pin(KeyRef.NON_REPUDIATION)
    status = card.session.pin_status()
    if version == "1.8":
        assert status.tries_left == 3
    else:
        assert status.verified  # 1.7's empty VERIFY answers 9000 once the PIN is verified


def test_wrong_pin_drops_the_verified_state(local_card: OpenCard, version: str) -> None:
    card = local_card(f"citizen-{version}")
    card.session.verify_pin(PIN)
    with pytest.raises(PinIncorrect):
        card.session.verify_pin("0000")
    assert not card.applet.pin_verified
    assert card.session.needs_pin(KeyRef.AUTHENTICATION)


def test_blocked_card(local_card: OpenCard, version: str) -> None:
    card = local_card(f"blocked-pin-{version}")
    status = card.session.pin_status()
    assert status.tries_left == 0
    assert status.blocked
    with pytest.raises(PinBlocked):
        card.session.verify_pin(PIN)
    assert card.applet.log[-1][1] == bytes.fromhex("6983")
    with pytest.raises(PinBlocked):
        card.session.change_pin(PIN, "5678")
    assert card.applet.profile.pin == PIN


def test_one_try_left_then_blocked(local_card: OpenCard, version: str) -> None:
    card = local_card(f"one-try-left-{version}")
    assert card.session.pin_status().tries_left == 1
    with pytest.raises(PinIncorrect) as last:
        card.session.verify_pin("0000")
    assert last.value.tries_left == 0
    with pytest.raises(PinBlocked):
        card.session.verify_pin(PIN)  # even the right PIN: the counter is at 0
    assert card.session.pin_status().blocked


@pytest.mark.parametrize(
    "bad_pin", ["12a4", "123", "1234567890123", "", "12 4", "１２３４", "-123"]
)
def test_malformed_pin_never_reaches_the_card(citizen: InProcessCard, bad_pin: str) -> None:
    session, applet = citizen.session, citizen.applet
    digest = hashlib.sha256(b"x").digest()
    _ = session.card_data  # the version is known: nothing else may go out
    before = len(applet.log)

    with pytest.raises(PinFormatError):
        session.verify_pin(bad_pin)
    with pytest.raises(PinFormatError):
        session.change_pin(PIN, bad_pin)
    with pytest.raises(PinFormatError):
        session.change_pin(bad_pin, PIN)
    with pytest.raises(PinFormatError):
        session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin=bad_pin)

    assert len(applet.log) == before
    assert applet.profile.pin_tries_left == 3


@pytest.mark.parametrize(
    ("pin", "block"),
    [
        ("1234", "241234FFFFFFFFFF"),
        ("12345", "2512345FFFFFFFFF"),
        ("123456789012", "2C123456789012FF"),
    ],
)
def test_pin_block_format(pin: str, block: str) -> None:
    assert pin_block(pin) == bytes.fromhex(block)


def test_change_pin_then_verify_with_the_new_one(local_card: OpenCard, version: str) -> None:
    card = local_card(f"citizen-{version}")
    card.session.change_pin(PIN, "98765432")
    assert card.applet.profile.pin == "98765432"
    assert card.applet.log[-1][0][:5] == bytes.fromhex("0024000110")

    with pytest.raises(PinIncorrect) as old:
        card.session.verify_pin(PIN)
    assert old.value.tries_left == 2
    card.session.verify_pin("98765432")
    assert card.applet.profile.pin_tries_left == 3


def test_change_pin_with_a_wrong_current_pin(local_card: OpenCard, version: str) -> None:
    card = local_card(f"citizen-{version}")
    with pytest.raises(PinIncorrect) as wrong:
        card.session.change_pin("4321", "5678")
    assert wrong.value.tries_left == 2
    assert card.applet.profile.pin == PIN


def test_log_off_forgets_the_pin(citizen: InProcessCard) -> None:
    session, applet = citizen.session, citizen.applet
    session.verify_pin(PIN)
    session.log_off()
    assert applet.log[-1][0] == bytes.fromhex("80E60000")
    assert not applet.pin_verified
    assert session.needs_pin(KeyRef.AUTHENTICATION)
    with pytest.raises(PinRequired):
        session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256)


# --- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
def test_authentication_signature_verifies_with_the_auth_certificate(
    citizen: InProcessCard, version: str, algorithm: HashAlgorithm
) -> None:
    digest = digest_of(b"challenge from a web site", algorithm)
    _ = citizen.session.card_data
    mark = len(citizen.applet.log)

    signature = citizen.session.sign(KeyRef.AUTHENTICATION, digest, algorithm, pin=PIN)

    credentials = citizen.built.credentials
    verify_signature(credentials.auth_cert_der, signature, digest, algorithm)
    with pytest.raises(InvalidSignature):
        verify_signature(credentials.signature_cert_der, signature, digest, algorithm)
    # MSE:SET, VERIFY, PSO:CDS, GET RESPONSE: the floor of belpic.md §10.
    sent = commands(citizen.applet, mark)
    assert [c[1] for c in sent] == [
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.VERIFY,
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.GET_RESPONSE,
    ]
    expected_reference = {
        # RSA: reference 01 with a host-side DigestInfo for every hash, valid on 1.1 and 1.7
        ("1.7", HashAlgorithm.SHA256): 0x01,
        ("1.7", HashAlgorithm.SHA384): 0x01,
        ("1.7", HashAlgorithm.SHA512): 0x01,
        ("1.8", HashAlgorithm.SHA256): 0x01,
        ("1.8", HashAlgorithm.SHA384): 0x02,
        ("1.8", HashAlgorithm.SHA512): 0x04,
    }[(version, algorithm)]
    assert sent[0] == bytes(
        [0x00, 0x22, 0x41, 0xB6, 0x05, 0x04, 0x80, expected_reference, 0x84, 0x82]
    )
    if version == "1.8":
        assert len(signature) == der_length(signature[:4])  # DER ECDSA-Sig-Value
    else:
        assert len(signature) == 256


def test_non_repudiation_signature_verifies_with_the_signature_certificate(
    citizen: InProcessCard,
) -> None:
    digest = digest_of(b"contract.pdf", HashAlgorithm.SHA256)
    signature = citizen.session.sign(KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA256, pin=PIN)
    credentials = citizen.built.credentials
    verify_signature(credentials.signature_cert_der, signature, digest, HashAlgorithm.SHA256)
    with pytest.raises(InvalidSignature):
        verify_signature(credentials.auth_cert_der, signature, digest, HashAlgorithm.SHA256)


def test_non_repudiation_asks_for_the_pin_every_time(citizen: InProcessCard) -> None:
    session, applet = citizen.session, citizen.applet
    digest = digest_of(b"first document", HashAlgorithm.SHA256)
    _ = session.card_data
    before = len(applet.log)
    with pytest.raises(PinRequired):
        session.sign(KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA256)
    assert len(applet.log) == before  # asked before sending anything

    session.sign(KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA256, pin=PIN)
    assert session.needs_pin(KeyRef.NON_REPUDIATION)

    mark = len(applet.log)
    with pytest.raises(PinRequired):
        session.sign(KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA256)
    assert len(applet.log) == mark

    second = digest_of(b"second document", HashAlgorithm.SHA256)
    signature = session.sign(KeyRef.NON_REPUDIATION, second, HashAlgorithm.SHA256, pin=PIN)
    verify_signature(
        citizen.built.credentials.signature_cert_der, signature, second, HashAlgorithm.SHA256
    )
    # MSE:SET, VERIFY and PSO:CDS with nothing in between ("PIN just before").
    assert instructions(applet, mark) == [
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.VERIFY,
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.GET_RESPONSE,
    ]


def test_authentication_needs_the_pin_once(citizen: InProcessCard) -> None:
    session, applet = citizen.session, citizen.applet
    assert session.needs_pin(KeyRef.AUTHENTICATION)
    first = digest_of(b"login 1", HashAlgorithm.SHA256)
    session.sign(KeyRef.AUTHENTICATION, first, HashAlgorithm.SHA256, pin=PIN)
    assert not session.needs_pin(KeyRef.AUTHENTICATION)

    mark = len(applet.log)
    second = digest_of(b"login 2", HashAlgorithm.SHA256)
    signature = session.sign(KeyRef.AUTHENTICATION, second, HashAlgorithm.SHA256)

    sent = commands(applet, mark)
    assert [c[1] for c in sent] == [Ins.PERFORM_SECURITY_OPERATION, Ins.GET_RESPONSE]
    assert sent[0][:4] == bytes.fromhex("002A9E9A")
    verify_signature(
        citizen.built.credentials.auth_cert_der, signature, second, HashAlgorithm.SHA256
    )


def test_pin_mixed_authentication_needs_the_pin_after_a_non_repudiation_signature(
    citizen: InProcessCard,
) -> None:
    """Verify, Sign(non-rep), ..., Sign(auth) is refused by the card (manuals §5.1.3): the
    session asks for the PIN again instead of sending a doomed signature."""
    session, applet = citizen.session, citizen.applet
    digest = digest_of(b"x", HashAlgorithm.SHA256)
    session.sign(KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA256, pin=PIN)
    assert session.needs_pin(KeyRef.AUTHENTICATION)
    mark = len(applet.log)
    with pytest.raises(PinRequired):
        session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256)
    assert len(applet.log) == mark

    # The card agrees: without a new VERIFY the authentication key is locked.
    algorithm = 0x08 if not citizen.built.profile.is_ec else 0x01
    mse = bytes([0x04, 0x80, algorithm, 0x84, KeyRef.AUTHENTICATION])
    proto = session.protocol
    assert proto.send(CommandApdu(0, Ins.MANAGE_SECURITY_ENVIRONMENT, 0x41, 0xB6, mse)).sw == SW.OK
    pso = CommandApdu(0, Ins.PERFORM_SECURITY_OPERATION, 0x9E, 0x9A, digest)
    assert proto.send(pso).sw == SW.SECURITY_STATUS_NOT_SATISFIED

    signature = session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin=PIN)
    verify_signature(
        citizen.built.credentials.auth_cert_der, signature, digest, HashAlgorithm.SHA256
    )


def test_wrong_digest_length_sends_nothing(citizen: InProcessCard) -> None:
    session, applet = citizen.session, citizen.applet
    _ = session.card_data
    before = len(applet.log)
    for algorithm, length in (
        (HashAlgorithm.SHA256, 48),
        (HashAlgorithm.SHA384, 32),
        (HashAlgorithm.SHA512, 63),
        (HashAlgorithm.SHA256, 0),
    ):
        with pytest.raises(ValueError, match=algorithm.value):
            session.sign(KeyRef.AUTHENTICATION, bytes(length), algorithm, pin=PIN)
    with pytest.raises(ValueError, match="only the authentication and signature keys"):
        session.sign(KeyRef.BASIC, bytes(48), HashAlgorithm.SHA384, pin=PIN)
    assert len(applet.log) == before
    assert applet.profile.pin_tries_left == 3


def test_sign_with_a_wrong_pin_sends_no_pso(local_card: OpenCard, version: str) -> None:
    card = local_card(f"citizen-{version}")
    with pytest.raises(PinIncorrect) as wrong:
        card.session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256, pin="0000")
    assert wrong.value.tries_left == 2
    assert Ins.PERFORM_SECURITY_OPERATION not in instructions(card.applet)
    assert card.session.needs_pin(KeyRef.AUTHENTICATION)


# --- PIN pad -------------------------------------------------------------------------------------


@pytest.fixture
def pinpad_card(
    shared_cards: dict[str, BuiltCard], version: str
) -> Iterator[tuple[InProcessCard, PinpadReader]]:
    pad = PinpadReader()
    reader = pad.create_reader()
    yield open_profile(shared_cards[f"citizen-{version}"], reader), pad
    assert shared_cards[f"citizen-{version}"].profile.pin_tries_left == 3  # left as found


def test_pinpad_detection(pinpad_card: tuple[InProcessCard, PinpadReader]) -> None:
    card, pad = pinpad_card
    caps = card.session.pinpad()
    assert caps.verify_ioctl == VERIFY_IOCTL
    assert caps.modify_ioctl == MODIFY_IOCTL
    assert caps.can_verify
    assert card.session.pinpad() is caps  # asked once per session
    assert pad.control_codes == [pinpad.CM_IOCTL_GET_FEATURE_REQUEST]
    assert pinpad.parse_features(pad.features()) == {
        pinpad.Feature.VERIFY_PIN_DIRECT: VERIFY_IOCTL,
        pinpad.Feature.MODIFY_PIN_DIRECT: MODIFY_IOCTL,
    }


def test_reader_without_control_has_no_pinpad(citizen: InProcessCard) -> None:
    assert citizen.session.pinpad() == pinpad.NO_PINPAD
    assert not citizen.session.pinpad().can_verify
    with pytest.raises(PinRequired):
        citizen.session.verify_pin(None)
    assert citizen.applet.log == []


def test_pinpad_verify_success(pinpad_card: tuple[InProcessCard, PinpadReader]) -> None:
    card, pad = pinpad_card
    pad.type(PIN)

    card.session.verify_pin(None)

    assert card.applet.pin_verified
    assert not card.session.needs_pin(KeyRef.AUTHENTICATION)
    assert pad.queued_entries == 0
    # The structure the session sent carries the official middleware's values (belpic.md
    # §4.8) and the reader asked for a 4-12 digit PIN.
    (request,) = pad.requests
    assert isinstance(request, VerifyRequest)
    fmt = request.pin_format
    assert (fmt.timeout, fmt.timeout2) == (0x1E, 0x1E)
    assert fmt.format_string == 0x89
    assert fmt.pin_block_string == 0x47
    assert fmt.pin_length_format == 0x04
    assert (fmt.min_digits, fmt.max_digits) == (4, 12)
    assert fmt.entry_validation == 0x02
    assert request.number_message == 1
    assert request.lang_id == 0x0409  # wLangId little-endian: English
    assert request.apdu_template == bytes.fromhex("002000010820" + "FF" * 7)
    (prompt,) = pad.prompts
    assert prompt.purpose is PinPurpose.VERIFY
    assert (prompt.min_digits, prompt.max_digits, prompt.timeout_seconds) == (4, 12, 30)
    # Exactly one VERIFY with an 8-byte block reached the card; nothing else.
    assert [c[:5] for c in commands(card.applet)] == [bytes.fromhex("0020000108")]
    assert PIN not in repr(pad)


def test_pinpad_wrong_pin(pinpad_card: tuple[InProcessCard, PinpadReader]) -> None:
    card, pad = pinpad_card
    pad.type("4321", PIN)
    with pytest.raises(PinIncorrect) as wrong:
        card.session.verify_pin(None)
    assert wrong.value.tries_left == 2
    assert card.applet.profile.pin_tries_left == 2
    card.session.verify_pin(None)  # restores the counter of the shared profile
    assert card.applet.profile.pin_tries_left == 3


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (KeypadAction.CANCEL, PinCancelled),
        (KeypadAction.TIMEOUT, PinTimeout),
        ("12", PinFormatError),  # too short: the reader answers 6403
        ("1234567890123", PinFormatError),  # more than the 12 digits allowed
    ],
)
def test_pinpad_refusals_never_reach_the_card(
    pinpad_card: tuple[InProcessCard, PinpadReader],
    entry: str | KeypadAction,
    error: type[Exception],
) -> None:
    card, pad = pinpad_card
    pad.type(entry)
    with pytest.raises(error):
        card.session.verify_pin(None)
    assert card.applet.log == []
    assert card.applet.profile.pin_tries_left == 3
    assert card.session.needs_pin(KeyRef.AUTHENTICATION)


def test_pinpad_nobody_types_is_a_timeout(
    pinpad_card: tuple[InProcessCard, PinpadReader],
) -> None:
    card, _ = pinpad_card
    with pytest.raises(PinTimeout):
        card.session.verify_pin(None)


def test_pinpad_keypad_callable(shared_cards: dict[str, BuiltCard]) -> None:
    seen: list[PinPurpose] = []

    def keypad(prompt: PinPrompt) -> str:
        seen.append(prompt.purpose)
        return PIN

    pad = PinpadReader(keypad=keypad)
    card = open_profile(shared_cards["citizen-1.8"], pad.create_reader())
    card.session.verify_pin(None)
    assert seen == [PinPurpose.VERIFY]
    assert card.applet.pin_verified


def test_pinpad_non_repudiation_signature(
    pinpad_card: tuple[InProcessCard, PinpadReader],
) -> None:
    card, pad = pinpad_card
    pad.type(PIN)
    digest = digest_of(b"signed on the PIN pad", HashAlgorithm.SHA384)
    _ = card.session.card_data
    mark = len(card.applet.log)

    signature = card.session.sign(
        KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA384, use_pinpad=True
    )

    verify_signature(
        card.built.credentials.signature_cert_der, signature, digest, HashAlgorithm.SHA384
    )
    assert instructions(card.applet, mark) == [
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.VERIFY,
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.GET_RESPONSE,
    ]


def test_pinpad_odd_and_long_pins(make_card: Callable[[str], BuiltCard], version: str) -> None:
    """The reader's nibble placement must give the card a valid block for any length."""
    pad = PinpadReader()
    card = open_profile(make_card(f"citizen-{version}"), pad.create_reader())
    for new in ("12345", "123456789012"):
        old = card.applet.profile.pin
        card.session.change_pin(old, new)
        pad.type(new)
        card.session.verify_pin(None)
        assert card.applet.pin_verified
        assert card.applet.profile.pin_tries_left == 3


@pytest.mark.parametrize(
    ("digits", "apdu"),
    [
        ("1234", "0020000108241234FFFFFFFFFF"),
        ("12345", "00200001082512345FFFFFFFFF"),
        ("987654321098", "00200001082C987654321098FF"),
    ],
)
def test_reader_inserts_digits_like_a_ccid_reader(digits: str, apdu: str) -> None:
    request = parse_verify_structure(pinpad.verify_structure())
    assert insert_pin(request.apdu_template, request.pin_format, digits) == bytes.fromhex(apdu)


def test_pinpad_modify_changes_the_pin(make_card: Callable[[str], BuiltCard]) -> None:
    pad = PinpadReader()
    card = open_profile(make_card("citizen-1.8"), pad.create_reader())
    caps = card.session.pinpad()
    assert caps.modify_ioctl is not None

    pad.type(PIN, "56789", "56781")  # confirmation differs
    response = card.session.transport.control(caps.modify_ioctl, pinpad.modify_structure())
    assert response == bytes.fromhex("6402")
    assert card.applet.log == []

    pad.type(PIN, KeypadAction.CANCEL)
    assert card.session.transport.control(caps.modify_ioctl, pinpad.modify_structure()) == (
        bytes.fromhex("6401")
    )

    pad.type(PIN, "56789", "56789")
    response = card.session.transport.control(caps.modify_ioctl, pinpad.modify_structure())
    assert response == bytes.fromhex("9000")
    assert card.applet.profile.pin == "56789"
    assert [p.purpose for p in pad.prompts[-3:]] == [
        PinPurpose.CURRENT,
        PinPurpose.NEW,
        PinPurpose.CONFIRM,
    ]
    card.session.verify_pin("56789")


def test_pinpad_rejects_a_malformed_structure(
    pinpad_card: tuple[InProcessCard, PinpadReader],
) -> None:
    card, pad = pinpad_card
    good = pinpad.verify_structure()
    for bad in (
        good[:10],  # truncated
        good[:-1],  # ulDataLength says 13, 12 follow
        good[:2] + b"\x88" + good[3:],  # binary PIN type
        good[:5] + b"\x0c\x0d" + good[7:],  # minimum 13 > maximum 12
        good[:3] + b"\x4f" + good[4:],  # 15-byte PIN block in an 8-byte field
    ):
        assert pad.control(VERIFY_IOCTL, bad) == bytes.fromhex("6B80")
    assert card.applet.log == []
    assert pad.prompts == []


def test_pinpad_on_a_pulled_card(pinpad_card: tuple[InProcessCard, PinpadReader]) -> None:
    card, pad = pinpad_card
    _ = card.session.pinpad()
    card.reader.remove()
    pad.type(PIN)
    with pytest.raises(CardRemoved):
        card.session.verify_pin(None)


# --- INTERNAL AUTHENTICATE ----------------------------------------------------------------------


def test_internal_authenticate_on_1_8(shared_cards: dict[str, BuiltCard]) -> None:
    card = open_profile(shared_cards["citizen-1.8"])
    session, applet = card.session, card.applet
    session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256, pin=PIN)
    assert applet.security_environment is not None
    challenge = hashlib.sha384(b"is this card genuine?").digest()

    signature = session.internal_authenticate(challenge)

    basic_file = card.built.profile.files[FileId.BASIC_KEY.path]
    key = basic_public_key(basic_file)
    key.verify(signature, challenge, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    with pytest.raises(InvalidSignature):
        key.verify(signature, bytes(48), ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    # The key is the one the signed identity file vouches for (tag 1A).
    identity = parse_identity(card.built.profile.files[FileId.IDENTITY.path])
    assert identity.basic_key_hash == hashlib.sha384(basic_file).digest()
    assert commands(applet)[-2][:7] == bytes.fromhex("0088028132" + "9430")
    # The card cleared its security environment; the session sets it again by itself.
    assert security_environment(applet) is None
    mark = len(applet.log)
    digest = digest_of(b"after internal authenticate", HashAlgorithm.SHA256)
    after = session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256)
    assert instructions(applet, mark) == [
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.GET_RESPONSE,
    ]
    verify_signature(card.built.credentials.auth_cert_der, after, digest, HashAlgorithm.SHA256)


def test_internal_authenticate_wants_48_bytes(shared_cards: dict[str, BuiltCard]) -> None:
    card = open_profile(shared_cards["citizen-1.8"])
    with pytest.raises(ValueError, match="48"):
        card.session.internal_authenticate(bytes(32))
    assert card.applet.log == []


def test_internal_authenticate_on_1_7_is_unsupported(shared_cards: dict[str, BuiltCard]) -> None:
    card = open_profile(shared_cards["citizen-1.7"])
    with pytest.raises(UnsupportedCard):
        card.session.internal_authenticate(bytes(48))
    assert Ins.INTERNAL_AUTHENTICATE not in instructions(card.applet)


# --- card pulled, mute, reset ---------------------------------------------------------------------


def test_card_pulled_at_the_signature(citizen: InProcessCard) -> None:
    session, reader, applet = citizen.session, citizen.reader, citizen.applet
    session.verify_pin(PIN)
    reader.faults = FaultPlan().remove_at(1, starts_with(b"\x00\x2a"))

    with pytest.raises(CardRemoved):
        session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256)

    assert reader.card is None
    assert not applet.powered
    assert session.needs_pin(KeyRef.AUTHENTICATION)  # the session forgot the PIN state
    with pytest.raises(CardRemoved):
        session.read_identity()

    # The same card goes back in: a new session works, the PIN state is gone with the power.
    reader.insert(applet)
    with pytest.raises(CardRemoved):
        session.read_identity()  # the old connection stays dead
    fresh = BelpicSession(reader.connect())
    assert fresh.read_identity().surname == citizen.built.person.surname
    with pytest.raises(PinRequired):
        fresh.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256)
    digest = digest_of(b"after re-insertion", HashAlgorithm.SHA256)
    signature = fresh.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin=PIN)
    verify_signature(
        citizen.built.credentials.auth_cert_der, signature, digest, HashAlgorithm.SHA256
    )


def test_card_pulled_while_reading_the_photo(
    citizen: InProcessCard, shared_cards: dict[str, BuiltCard], version: str
) -> None:
    reader, applet = citizen.reader, citizen.applet
    reader.faults = FaultPlan().remove_at(
        1,
        lambda apdu: (
            is_read_binary(apdu)
            and applet.current_file == FileId.PHOTO.path
            and read_offset(apdu) >= 1024
        ),
    )
    with pytest.raises(CardRemoved):
        citizen.session.read_photo()
    assert [read_offset(c) for c in commands(applet) if is_read_binary(c)] == [0, 256, 512, 768]

    other = "citizen-1.8" if version == "1.7" else "citizen-1.7"
    replacement = BelpicApplet(shared_cards[other].profile)
    reader.insert(replacement)
    session = BelpicSession(reader.connect())
    assert session.read_photo() == shared_cards[other].profile.files[FileId.PHOTO.path]
    assert session.card_data.serial == shared_cards[other].profile.serial


def test_no_card_in_the_reader() -> None:
    with pytest.raises(NoCard):
        LocalReader().connect()


def test_mute_card(citizen: InProcessCard) -> None:
    citizen.reader.mute = True
    with pytest.raises(CardMute):
        citizen.session.read_identity()
    with pytest.raises(CardMute):
        citizen.reader.connect()
    assert citizen.applet.log == []
    citizen.reader.mute = False
    assert citizen.session.read_identity().surname == citizen.built.person.surname


class ResettingTransport(Transport):
    """A transport on which another application resets the card: when ``reset_before``
    matches an outgoing APDU the card is reset (its volatile state is lost) and the transmit
    fails with ``CardReset``, as PC/SC answers SCARD_W_RESET_CARD."""

    def __init__(self, inner: LocalTransport, applet: BelpicApplet) -> None:
        self.inner = inner
        self.applet = applet
        self.reader = inner.reader
        self.reset_before: Callable[[bytes], bool] | None = None
        self.resets_left = 0
        self.reconnects = 0

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def arm(self, predicate: Callable[[bytes], bool], times: int = 1) -> None:
        self.reset_before = predicate
        self.resets_left = times

    def transmit(self, apdu: bytes) -> bytes:
        if self.resets_left and self.reset_before is not None and self.reset_before(apdu):
            self.resets_left -= 1
            self.applet.reset()
            raise CardReset("the card was reset by another application")
        return self.inner.transmit(apdu)

    def reconnect(self, *, reset: bool = False) -> None:
        self.reconnects += 1
        self.inner.reconnect(reset=reset)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def resettable(citizen: InProcessCard) -> tuple[InProcessCard, ResettingTransport]:
    transport = ResettingTransport(citizen.reader.connect(), citizen.applet)
    session = BelpicSession(transport)
    return dataclasses.replace(citizen, session=session), transport


def test_reset_while_reading_recovers_transparently(
    resettable: tuple[InProcessCard, ResettingTransport],
) -> None:
    card, transport = resettable
    transport.arm(lambda apdu: is_read_binary(apdu) and read_offset(apdu) == 512)

    photo = card.session.read_photo()

    assert photo == card.built.profile.files[FileId.PHOTO.path]
    assert transport.reconnects == 1
    selects = [c for c in commands(card.applet) if c[1] == Ins.SELECT]
    assert len(selects) == 2  # the file is selected again after the reset


def test_reset_before_the_signature_redoes_mse_verify_pso(
    resettable: tuple[InProcessCard, ResettingTransport],
) -> None:
    card, transport = resettable
    transport.arm(lambda apdu: apdu[:2] == b"\x00\x2a")
    digest = digest_of(b"reset in the middle", HashAlgorithm.SHA256)

    signature = card.session.sign(KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA256, pin=PIN)

    verify_signature(
        card.built.credentials.signature_cert_der, signature, digest, HashAlgorithm.SHA256
    )
    assert transport.reconnects == 1
    assert instructions(card.applet) == [
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.VERIFY,
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.VERIFY,
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.GET_RESPONSE,
    ]


def test_reset_loses_the_pin_and_the_session_asks_again(
    resettable: tuple[InProcessCard, ResettingTransport],
) -> None:
    """A reset clears the card's PIN state; the session cannot hide that, but it reports it
    as ``PinRequired`` (ask the user) rather than a raw status word."""
    card, transport = resettable
    session = card.session
    session.verify_pin(PIN)
    transport.arm(lambda apdu: apdu[:2] == b"\x00\x2a")

    with pytest.raises(PinRequired):
        session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256)

    assert transport.reconnects == 1
    assert session.needs_pin(KeyRef.AUTHENTICATION)
    digest = digest_of(b"with the PIN again", HashAlgorithm.SHA256)
    signature = session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin=PIN)
    verify_signature(card.built.credentials.auth_cert_der, signature, digest, HashAlgorithm.SHA256)


def test_reset_twice_in_a_row_is_reported(
    resettable: tuple[InProcessCard, ResettingTransport],
) -> None:
    card, transport = resettable
    transport.arm(lambda apdu: apdu[1] == Ins.SELECT, times=2)
    with pytest.raises(CardReset):
        card.session.read_identity()
    assert transport.reconnects == 1
    assert card.session.read_identity().surname == card.built.person.surname


# --- applet 1.1 (no emulator: scripted card data) -------------------------------------------------


class CardDataOnly(Transport):
    """Answers GET CARD DATA with a fixed payload; any other APDU fails the test."""

    def __init__(self, data: bytes) -> None:
        self.reader = "scripted"
        self.data = data
        self.sent: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return bytes.fromhex("3B9813400AA503010101AD1311")

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(bytes(apdu))
        if apdu[:2] != b"\x80\xe4":
            raise AssertionError(f"unexpected APDU {apdu.hex()}")
        return self.data + b"\x90\x00"

    def close(self) -> None:
        pass


def test_applet_1_1_layout_and_no_pin_status_query() -> None:
    """Applet 1.1: bytes 21-22 applet version ``11 00`` (SDK); an empty VERIFY would spend a
    try there, so ``pin_status`` answers "unknown" without sending it."""
    serial = bytes(range(16))
    data = serial + bytes([1, 2, 3, 4, 5]) + bytes.fromhex("1100 0001 0002 0F")
    transport = CardDataOnly(data)
    session = BelpicSession(transport)

    card_data = session.card_data

    assert card_data.serial == serial
    assert card_data.applet_version == 0x11
    assert card_data.life_cycle == 0x0F
    assert not card_data.is_ec
    assert session.protocol.resend_delay == 0.05
    assert session.pin_status().tries_left is None
    assert transport.sent == [bytes.fromhex("80E400001C")]


# --- security environment lost, other applications, stale connections -----------------------------


def _other_application(session: BelpicSession, *apdus: str) -> None:
    """APDUs another PC/SC application sends to the shared card between our operations."""
    for apdu in apdus:
        session.protocol.transport.transmit(bytes.fromhex(apdu))


def test_lost_security_environment_is_set_again_once(citizen: InProcessCard) -> None:
    """PSO:CDS answers ``6985`` when the card has no SE (another application's failed
    MSE:SET cleared it, M18 §6.12): the session sets it again and signs."""
    session, applet = citizen.session, citizen.applet
    session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256, pin=PIN)
    _other_application(session, "002241B6050480FF8482")  # unknown algorithm: 6A80, SE cleared
    assert applet.security_environment is None
    mark = len(applet.log)
    digest = digest_of(b"after the other application", HashAlgorithm.SHA256)

    signature = session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256)

    verify_signature(
        citizen.built.credentials.auth_cert_der, signature, digest, HashAlgorithm.SHA256
    )
    assert instructions(applet, mark) == [
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.MANAGE_SECURITY_ENVIRONMENT,
        Ins.PERFORM_SECURITY_OPERATION,
        Ins.GET_RESPONSE,
    ]
    assert applet.log[mark][1] == bytes.fromhex("6985")


def test_lost_security_environment_and_pin_asks_for_the_pin(
    shared_cards: dict[str, BuiltCard],
) -> None:
    """Another application logged off and ran INTERNAL AUTHENTICATE (eID Viewer's
    authenticity check): SE and PIN state are both gone. The caller must learn that the PIN
    is needed, as it does when only the PIN is gone."""
    card = open_profile(shared_cards["citizen-1.8"])
    session = card.session
    session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256, pin=PIN)
    _other_application(session, "80E60000", "0088028132" + "9430" + "00" * 48)
    assert card.applet.security_environment is None
    assert not card.applet.pin_verified

    with pytest.raises(PinRequired):
        session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256)
    assert session.needs_pin(KeyRef.AUTHENTICATION)


def test_pin_logged_off_by_another_application_asks_for_the_pin(
    citizen: InProcessCard,
) -> None:
    session = citizen.session
    session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256, pin=PIN)
    _other_application(session, "80E60000")
    with pytest.raises(PinRequired):
        session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256)
    assert session.needs_pin(KeyRef.AUTHENTICATION)


def test_card_keeps_an_earlier_authentication_right_through_a_non_repudiation_signature(
    citizen: InProcessCard,
) -> None:
    """Manuals §5.1.3, required sequence: Verify, Sign(auth), Verify, Sign(non-rep), ...,
    Sign(auth) is OK on the card, and the session uses that right: no second PIN prompt."""
    session, applet = citizen.session, citizen.applet
    session.sign(KeyRef.AUTHENTICATION, bytes(32), HashAlgorithm.SHA256, pin=PIN)
    session.sign(KeyRef.NON_REPUDIATION, bytes(32), HashAlgorithm.SHA256, pin=PIN)
    assert not session.needs_pin(KeyRef.AUTHENTICATION)
    assert session.needs_pin(KeyRef.NON_REPUDIATION)
    digest = digest_of(b"after non-rep", HashAlgorithm.SHA256)
    signature = session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256)
    verify_signature(
        citizen.built.credentials.auth_cert_der, signature, digest, HashAlgorithm.SHA256
    )
    algorithm = 0x01 if citizen.built.profile.is_ec else 0x08
    proto = session.protocol
    mse = bytes([0x04, 0x80, algorithm, 0x84, KeyRef.AUTHENTICATION])
    assert proto.send(CommandApdu(0, Ins.MANAGE_SECURITY_ENVIRONMENT, 0x41, 0xB6, mse)).sw == SW.OK
    pso = CommandApdu(0, Ins.PERFORM_SECURITY_OPERATION, 0x9E, 0x9A, bytes(32))
    response = proto.send(pso)
    assert response.sw == SW.OK
    assert len(response.data) in (96, 256)
    assert applet.pin_verified


def test_missing_file_after_reselecting_the_applet(shared_cards: dict[str, BuiltCard]) -> None:
    """File 4040 exists on 1.8 only: on 1.7 the session re-selects the applet once (as
    eid-mw does on 6A82) and then reports the file missing."""
    card = open_profile(shared_cards["citizen-1.7"])
    with pytest.raises(FileNotFound):
        card.session.read_file(FileId.BASIC_KEY)
    assert commands(card.applet) == [
        bytes.fromhex("00A4080C06") + FileId.BASIC_KEY.path,
        bytes.fromhex("00A4040C0F") + BELPIC_APPLET_AID,
        bytes.fromhex("00A4080C06") + FileId.BASIC_KEY.path,
    ]


def test_pinpad_on_a_blocked_card(make_card: Callable[[str], BuiltCard]) -> None:
    pad = PinpadReader()
    card = open_profile(make_card("blocked-pin-1.8"), pad.create_reader())
    pad.type(PIN)
    with pytest.raises(PinBlocked):
        card.session.verify_pin(None)


def test_pinpad_on_a_stale_connection_after_a_card_swap(
    shared_cards: dict[str, BuiltCard],
) -> None:
    pad = PinpadReader()
    reader = pad.create_reader()
    first = open_profile(shared_cards["citizen-1.8"], reader)
    assert first.session.pinpad().can_verify
    reader.remove()
    second = BelpicApplet(shared_cards["citizen-1.7"].profile)
    reader.insert(second)
    pad.type(PIN)

    with pytest.raises(CardRemoved):
        first.session.verify_pin(None)
    assert second.log == []


def test_local_transport_is_present_follows_the_reader(local_card: Callable[[str], Any]) -> None:
    card = local_card("citizen-1.7")
    transport = card.session.transport
    assert transport.is_present()
    card.reader.remove()
    assert not transport.is_present()
    card.reader.insert(card.applet)
    assert not transport.is_present()
    assert card.reader.connect().is_present()
