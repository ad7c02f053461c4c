"""``BelpicSession``: what a Belgian eID card does, by name.

Follows the applet reference manuals 1.7 and 1.8 (section 6 commands, section 5.1 access
conditions) and the card content document (files); ``shared/belpic.md`` is the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from bridge.card import pinpad
from bridge.card.apdu import CLA_ISO, CLA_PROPRIETARY, SW, CommandApdu, Ins, is_pin_retry
from bridge.card.constants import (
    ATR_APPLET_1_0,
    ATR_APPLET_1_1,
    ATR_APPLET_1_8,
    ATR_APPLET_BETA,
    BELPIC_APPLET_AID,
    CERTIFICATE_FILES,
    PIN_REFERENCE,
    AppletVersion,
    EcAlgorithm,
    FileId,
    HashAlgorithm,
    KeyRef,
    RsaAlgorithm,
)
from bridge.card.errors import (
    ApduError,
    CardDataError,
    CardReset,
    ConditionsNotSatisfied,
    FileNotFound,
    IntegrityError,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    PinRequired,
    SecurityStatusNotSatisfied,
    TransportError,
    UnsupportedCard,
)
from bridge.card.identity import Address, Identity, check_photo, parse_address, parse_identity
from bridge.card.protocol import SLOW_APPLET_RESEND_DELAY, BelpicProtocol, error_for
from bridge.card.transport import Transport

T = TypeVar("T")

MAX_CHUNK = 256
"""READ BINARY Le=00 reads 256 bytes (manuals 6.4). eid-mw uses 252 for an old Mac reader;
a setting could lower it, but no supported reader needs that today."""
MAX_OFFSET = 0x7FFF
RSA_ATRS = (ATR_APPLET_1_1, ATR_APPLET_1_0, ATR_APPLET_BETA)
PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12


# --- card data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CardData:
    """GET CARD DATA (manual 1.7 table 32, 1.8 table 47; applet 1.1 layout per the SDK)."""

    serial: bytes
    component_code: int
    os_number: int
    os_version: int
    softmask_number: int
    softmask_version: int
    applet_version: int
    global_os_version: int
    applet_interface_version: int
    pkcs1_support: int
    key_exchange_version: int
    life_cycle: int
    pin_tries_left: int | None = None

    @classmethod
    def parse(cls, data: bytes) -> CardData:
        if len(data) < 22:
            raise CardDataError(f"GET CARD DATA answered {len(data)} bytes, expected 28")
        version = data[21]
        # Bytes 0-21 are the same on every applet (serial, chip and OS data, version).
        common: dict[str, Any] = {
            "serial": data[0:16],
            "component_code": data[16],
            "os_number": data[17],
            "os_version": data[18],
            "softmask_number": data[19],
            "softmask_version": data[20],
            "applet_version": version,
        }
        if version < AppletVersion.V1_7:
            # Applet 1.1: bytes 21-22 applet version, 23-24 interface, 25-26 PKCS#15, 27 life
            # cycle; the global OS version and PKCS#1 bytes do not exist.
            return cls(
                **common,
                global_os_version=0,
                applet_interface_version=int.from_bytes(data[23:25], "big"),
                pkcs1_support=0,
                key_exchange_version=0,
                life_cycle=data[27] if len(data) > 27 else 0,
            )
        if len(data) < 28:
            raise CardDataError(f"GET CARD DATA answered {len(data)} bytes, expected 28")
        tries = data[28] if len(data) >= 29 and data[28] != 0xFF else None
        return cls(
            **common,
            global_os_version=int.from_bytes(data[22:24], "big"),
            applet_interface_version=data[24],
            pkcs1_support=data[25],
            key_exchange_version=data[26],
            life_cycle=data[27],
            pin_tries_left=tries,
        )

    @property
    def serial_hex(self) -> str:
        return self.serial.hex().upper()

    @property
    def is_ec(self) -> bool:
        return self.applet_version >= AppletVersion.V1_8


@dataclass(frozen=True)
class PinStatus:
    tries_left: int | None
    """``None`` where the applet cannot tell without spending a try (applet 1.1)."""
    verified: bool = False

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0


@dataclass(frozen=True)
class CardCertificates:
    """DER certificates as stored on the card (padding removed). The authentication and
    signature certificates are absent on Kids ID cards."""

    authentication: bytes | None
    signature: bytes | None
    ca: bytes
    root: bytes
    rrn: bytes


@dataclass(frozen=True)
class CardContents:
    card_data: CardData | None
    identity: Identity
    address: Address
    photo: bytes
    certificates: CardCertificates
    identity_file: bytes
    identity_signature: bytes | None
    address_file: bytes
    address_signature: bytes | None
    basic_key: bytes | None

    def __repr__(self) -> str:  # never print personal data
        return f"CardContents(identity={self.identity!r}, photo=<{len(self.photo)} bytes>)"


# --- helpers -----------------------------------------------------------------------------


def pin_block(pin: str) -> bytes:
    """GlobalPlatform format-2 PIN block (manuals section 3.2): ``2L`` then BCD digits,
    padded with ``F`` to 8 bytes. Checked here so a malformed PIN never reaches the card."""
    if not pin.isascii() or not pin.isdigit():
        raise PinFormatError("the PIN must contain digits only")
    if not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
        raise PinFormatError(f"the PIN must have {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")
    nibbles = "2" + format(len(pin), "X") + pin
    return bytes.fromhex(nibbles.ljust(16, "F"))


def der_length(header: bytes) -> int | None:
    """Total length of the DER SEQUENCE starting ``header``, or ``None`` for an empty
    (all-zero) certificate slot. Cards pad certificate files with zeros (content doc 8)."""
    if not header or header[0] == 0x00:
        return None
    if header[0] != 0x30 or len(header) < 2:
        raise CardDataError("certificate file does not start with a DER SEQUENCE")
    first = header[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 3 or len(header) < 2 + count:
        raise CardDataError("certificate file has an unsupported DER length")
    return 2 + count + int.from_bytes(header[2 : 2 + count], "big")


def trim_ecdsa_signature(stored: bytes) -> bytes:
    """EC signature files are fixed-size and zero-padded; the DER value says its length."""
    length = der_length(stored)
    if length is None or length > len(stored):
        raise CardDataError("signature file holds no DER signature")
    return stored[:length]


# --- the session ---------------------------------------------------------------------------


class BelpicSession:
    """One card session over a transport. Not thread-safe: one owner (the card worker)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.protocol = BelpicProtocol(transport)
        self._card_data: CardData | None = None
        # What this session knows of the card's volatile state, to skip redundant APDUs.
        self._security_environment: tuple[int, int] | None = None
        self._auth_pin_verified = False
        self._pinpad: pinpad.PinpadCapabilities | None = None

    # -- state ---------------------------------------------------------------------------

    def _forget_state(self) -> None:
        self._security_environment = None
        self._auth_pin_verified = False

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """Run a multi-APDU operation under the PC/SC transaction; a transport failure
        leaves no stale belief about the card's state."""
        try:
            with self.transport.transaction():
                yield
        except TransportError:
            self._forget_state()
            raise

    def _recovering(self, action: Callable[[], T]) -> T:
        """Another application reset the card: re-attach once and redo the operation."""
        try:
            with self._operation():
                return action()
        except CardReset:
            self.transport.reconnect(reset=False)
            self._forget_state()
            with self._operation():
                return action()

    # -- identification ------------------------------------------------------------------

    @property
    def card_data(self) -> CardData:
        if self._card_data is None:
            self._card_data = self._recovering(self._get_card_data)
        return self._card_data

    def _get_card_data(self, *, extended: bool = False) -> CardData:
        command = CommandApdu(
            CLA_PROPRIETARY,
            Ins.GET_CARD_DATA,
            0,
            1 if extended else 0,
            le=0x1F if extended else 0x1C,
        )
        response = self.protocol.send(command)
        if response.sw in (
            SW.INS_NOT_AVAILABLE,
            SW.CLA_NOT_SUPPORTED,
            SW.FILE_NOT_FOUND,
            SW.CONDITIONS_OF_USE_NOT_SATISFIED,
        ):
            # Something else is selected (card manager?): select the applet and ask again.
            self._select_applet()
            response = self.protocol.send(command)
        if response.sw != SW.OK:
            raise error_for(response.sw, "GET CARD DATA")
        data = CardData.parse(response.data)
        if data.applet_version >= AppletVersion.V1_7:
            # eid-mw's delay after 6Cxx is for cards reporting global OS version 0001 (V1).
            self.protocol.resend_delay = 0.0
        else:
            self.protocol.resend_delay = SLOW_APPLET_RESEND_DELAY
        return data

    @property
    def applet_version(self) -> int:
        return self.card_data.applet_version

    @property
    def is_ec(self) -> bool:
        if self._card_data is None:
            # The known ATRs settle it without an APDU (commons-eid decides EC by ATR too);
            # only an unknown ATR needs GET CARD DATA.
            if self.transport.atr == ATR_APPLET_1_8:
                return True
            if self.transport.atr in RSA_ATRS:
                return False
        return self.card_data.is_ec

    def _select_applet(self) -> None:
        command = CommandApdu(CLA_ISO, Ins.SELECT, 0x04, 0x0C, BELPIC_APPLET_AID)
        response = self.protocol.send(command)
        if response.sw != SW.OK:
            raise UnsupportedCard(f"no Belgian eID applet (SELECT answered {response.sw:04X})")

    # -- files ---------------------------------------------------------------------------

    def select(self, file: FileId) -> None:
        """SELECT by absolute path, MF included, as every real client sends it."""
        command = CommandApdu(CLA_ISO, Ins.SELECT, 0x08, 0x0C, file.path)
        response = self.protocol.send(command)
        if response.sw in (SW.FILE_NOT_FOUND, SW.INS_NOT_AVAILABLE, SW.CLA_NOT_SUPPORTED):
            self._select_applet()
            response = self.protocol.send(command)
        if response.sw == SW.FILE_NOT_FOUND:
            raise FileNotFound(response.sw, f"SELECT {file.name}")
        if response.sw != SW.OK:
            raise error_for(response.sw, f"SELECT {file.name}")

    def _read_binary(self, offset: int, length: int) -> bytes | None:
        """One READ BINARY; ``None`` at end of file. ``6Cxx`` (short file) is re-sent by the
        protocol with the right Le."""
        command = CommandApdu(CLA_ISO, Ins.READ_BINARY, offset >> 8, offset & 0xFF, le=length)
        response = self.protocol.send(command)
        if response.sw == SW.WRONG_PARAMETERS and offset > 0:
            return None  # offset == file size: the previous chunk ended the file exactly
        if response.sw != SW.OK:
            raise error_for(response.sw, "READ BINARY")
        return response.data

    def _read_selected(self, known_length: int | None = None) -> bytes:
        data = b""
        while known_length is None or len(data) < known_length:
            if len(data) > MAX_OFFSET:
                raise CardDataError("file longer than READ BINARY can address")
            want = MAX_CHUNK if known_length is None else min(MAX_CHUNK, known_length - len(data))
            chunk = self._read_binary(len(data), want)
            if not chunk:
                break
            data += chunk
            if len(chunk) < want:
                break
        return data

    def read_file(self, file: FileId) -> bytes:
        """The whole transparent file, padding included."""

        def action() -> bytes:
            self.select(file)
            return self._read_selected()

        return self._recovering(action)

    def read_certificate(self, file: FileId) -> bytes | None:
        """A certificate, cut at its DER length so the zero padding is never read."""

        def action() -> bytes | None:
            self.select(file)
            first = self._read_binary(0, MAX_CHUNK) or b""
            total = der_length(first[:8])
            if total is None:
                return None
            if total <= len(first):
                return first[:total]
            return first + self._read_rest(len(first), total)

        return self._recovering(action)

    def _read_rest(self, offset: int, total: int) -> bytes:
        data = b""
        while offset + len(data) < total:
            want = min(MAX_CHUNK, total - offset - len(data))
            chunk = self._read_binary(offset + len(data), want)
            if not chunk:
                raise CardDataError("certificate file shorter than its DER length")
            data += chunk
        return data

    def read_certificates(self) -> CardCertificates:
        found = {file: self.read_certificate(file) for file in CERTIFICATE_FILES}
        for required in (FileId.CERT_CA, FileId.CERT_ROOT, FileId.CERT_RRN):
            if found[required] is None:
                raise CardDataError(f"the card has no {required.name} certificate")
        return CardCertificates(
            authentication=found[FileId.CERT_AUTHENTICATION],
            signature=found[FileId.CERT_SIGNATURE],
            ca=found[FileId.CERT_CA] or b"",
            root=found[FileId.CERT_ROOT] or b"",
            rrn=found[FileId.CERT_RRN] or b"",
        )

    def read_identity(self) -> Identity:
        return parse_identity(self.read_file(FileId.IDENTITY))

    def read_address(self) -> Address:
        return parse_address(self.read_file(FileId.ADDRESS))

    def read_photo(self) -> bytes:
        return self.read_file(FileId.PHOTO)

    def read_all(self, *, verify: bool = True) -> CardContents:
        """Identity, address, photo and certificates; with ``verify``, also the National
        Register signatures, checked (``IntegrityError`` when anything was tampered with)."""
        identity_file = self.read_file(FileId.IDENTITY)
        address_file = self.read_file(FileId.ADDRESS)
        photo = self.read_file(FileId.PHOTO)
        certificates = self.read_certificates()
        identity = parse_identity(identity_file)
        address = parse_address(address_file)
        identity_signature = address_signature = basic_key = None
        if verify:
            identity_signature = self.read_file(FileId.IDENTITY_SIGNATURE)
            address_signature = self.read_file(FileId.ADDRESS_SIGNATURE)
            if identity.basic_key_hash:
                basic_key = self.read_file(FileId.BASIC_KEY)
            verify_integrity(
                rrn_certificate=certificates.rrn,
                identity=identity,
                identity_file=identity_file,
                identity_signature=identity_signature,
                address_file=address_file,
                address_signature=address_signature,
                photo=photo,
                basic_key=basic_key,
            )
        return CardContents(
            card_data=self._card_data,
            identity=identity,
            address=address,
            photo=photo,
            certificates=certificates,
            identity_file=identity_file,
            identity_signature=identity_signature,
            address_file=address_file,
            address_signature=address_signature,
            basic_key=basic_key,
        )

    # -- PIN -----------------------------------------------------------------------------

    def pin_status(self) -> PinStatus:
        """Tries left without spending one: GET CARD DATA P2=01 byte 28 on applet 1.8, an
        empty VERIFY on 1.7. Applet 1.1 counts an empty VERIFY as a wrong PIN (manual 1.7
        compatibility note), so there the answer is "unknown"."""
        version = self.applet_version
        if version >= AppletVersion.V1_8:
            data = self._recovering(lambda: self._get_card_data(extended=True))
            if data.pin_tries_left is not None:
                return PinStatus(data.pin_tries_left)
        if version < AppletVersion.V1_7:
            return PinStatus(None)
        response = self._recovering(
            lambda: self.protocol.send(CommandApdu(CLA_ISO, Ins.VERIFY, 0x00, PIN_REFERENCE))
        )
        if response.sw == SW.OK:
            return PinStatus(None, verified=True)
        if is_pin_retry(response.sw):
            return PinStatus(response.sw & 0x0F)
        if response.sw == SW.AUTHENTICATION_METHOD_BLOCKED:
            return PinStatus(0)
        raise error_for(response.sw, "VERIFY (status)")

    def _verify(self, pin: str | None) -> None:
        """VERIFY with a PIN string, or on the reader's PIN pad when ``pin`` is None."""
        if pin is None:
            self._verify_on_pinpad()
            return
        block = pin_block(pin)
        response = self.protocol.send(CommandApdu(CLA_ISO, Ins.VERIFY, 0x00, PIN_REFERENCE, block))
        if response.sw != SW.OK:
            self._forget_state()  # a wrong PIN clears every access right (manuals 5.1)
            raise error_for(response.sw, "VERIFY")

    def _verify_on_pinpad(self) -> None:
        caps = self.pinpad()
        if caps.verify_ioctl is None:
            raise PinRequired("this reader has no PIN pad: type the PIN in the dialog")
        raw = self.transport.control(caps.verify_ioctl, pinpad.verify_structure())
        if len(raw) < 2:
            raise ApduError(0, "PIN-pad VERIFY")
        sw = (raw[-2] << 8) | raw[-1]
        if sw == SW.OK:
            return
        self._forget_state()
        pinpad.raise_for_reader_sw(sw)
        raise error_for(sw, "VERIFY")

    def verify_pin(self, pin: str | None) -> None:
        """Check the PIN (``None``: on the PIN pad). Raises ``PinIncorrect(tries_left)``,
        ``PinBlocked`` or ``PinFormatError``; never retries on its own."""
        self._recovering(lambda: self._verify(pin))
        self._auth_pin_verified = True

    def change_pin(self, old: str, new: str) -> None:
        data = pin_block(old) + pin_block(new)

        def action() -> None:
            response = self.protocol.send(
                CommandApdu(CLA_ISO, Ins.CHANGE_REFERENCE_DATA, 0x00, PIN_REFERENCE, data)
            )
            if response.sw != SW.OK:
                self._forget_state()
                raise error_for(response.sw, "CHANGE REFERENCE DATA")

        self._recovering(action)

    def pinpad(self) -> pinpad.PinpadCapabilities:
        if self._pinpad is None:
            self._pinpad = pinpad.detect(self.transport)
        return self._pinpad

    def needs_pin(self, key: KeyRef) -> bool:
        """Whether a signature with ``key`` will need the PIN now: always for the
        non-repudiation key ("PIN just before"), once per card session for authentication."""
        return key == KeyRef.NON_REPUDIATION or not self._auth_pin_verified

    def log_off(self) -> None:
        self._recovering(
            lambda: self.protocol.call(CommandApdu(CLA_PROPRIETARY, Ins.LOG_OFF, 0, 0), "LOG OFF")
        )
        self._forget_state()

    # -- signatures ----------------------------------------------------------------------

    def _algorithm(self, hash_algorithm: HashAlgorithm) -> tuple[int, bytes]:
        """MSE algorithm reference and what to send as DTBS for a hash of ``hash_algorithm``."""
        if self.is_ec:
            return {
                HashAlgorithm.SHA256: EcAlgorithm.ECDSA_SHA256,
                HashAlgorithm.SHA384: EcAlgorithm.ECDSA_SHA384,
                HashAlgorithm.SHA512: EcAlgorithm.ECDSA_SHA512,
            }[hash_algorithm], b""
        # Reference 01 with the DigestInfo prepended works on applets 1.1 and 1.7 alike
        # (manual 1.7 table 11), so no GET CARD DATA is needed to tell them apart; the
        # signature is the same PKCS#1 v1.5 value as with reference 08.
        return RsaAlgorithm.PKCS1, hash_algorithm.digest_info_prefix

    def _set_security_environment(self, key: KeyRef, algorithm: int) -> None:
        data = bytes([0x04, 0x80, algorithm, 0x84, key])
        self.protocol.call(
            CommandApdu(CLA_ISO, Ins.MANAGE_SECURITY_ENVIRONMENT, 0x41, 0xB6, data), "MSE:SET"
        )
        self._security_environment = (key, algorithm)

    def _compute_signature(self, dtbs: bytes) -> bytes:
        # Case 4 without Le: T=0 cards answer 61xx and the protocol fetches the signature.
        return self.protocol.call(
            CommandApdu(CLA_ISO, Ins.PERFORM_SECURITY_OPERATION, 0x9E, 0x9A, dtbs),
            "PSO:COMPUTE DIGITAL SIGNATURE",
        )

    def sign(
        self,
        key: KeyRef,
        digest: bytes,
        hash_algorithm: HashAlgorithm,
        *,
        pin: str | None = None,
        use_pinpad: bool = False,
    ) -> bytes:
        """Sign ``digest`` with the authentication or non-repudiation key.

        RSA cards return the PKCS#1 v1.5 signature; EC cards return ECDSA as DER (the card
        answers r||s). Without ``pin`` (and without ``use_pinpad``) the call raises
        ``PinRequired`` where the card needs one, before sending anything.
        """
        if key not in (KeyRef.AUTHENTICATION, KeyRef.NON_REPUDIATION):
            raise ValueError("only the authentication and signature keys sign")
        if len(digest) != hash_algorithm.digest_size:
            raise ValueError(
                f"a {hash_algorithm.value} hash has {hash_algorithm.digest_size} bytes"
            )
        if pin is not None:
            pin_block(pin)  # refuse a malformed PIN before any APDU
        algorithm, prefix = self._algorithm(hash_algorithm)
        wants_pin = self.needs_pin(key)
        if wants_pin and pin is None and not use_pinpad:
            raise PinRequired("the card needs the PIN for this signature")

        def action() -> bytes:
            auth_right_before = self._auth_pin_verified
            if self._security_environment != (key, algorithm) or wants_pin:
                self._set_security_environment(key, algorithm)
            if wants_pin:
                # MSE:SET -> VERIFY -> PSO:CDS, nothing in between ("PIN just before").
                self._verify(None if use_pinpad else pin)
            try:
                try:
                    raw = self._compute_signature(prefix + digest)
                except ConditionsNotSatisfied:
                    # The card lost its security environment (INTERNAL AUTHENTICATE, another
                    # application): set it again, once.
                    self._set_security_environment(key, algorithm)
                    raw = self._compute_signature(prefix + digest)
            except SecurityStatusNotSatisfied as exc:
                self._auth_pin_verified = False
                raise PinRequired("the card asks for the PIN again") from exc
            if key == KeyRef.NON_REPUDIATION:
                # "PIN mixed" (manuals 5.1.3): a VERIFY followed by a non-repudiation
                # signature counts for that signature only; an authentication right
                # obtained earlier survives it.
                self._auth_pin_verified = auth_right_before
            else:
                self._auth_pin_verified = True
            return raw

        raw = self._recovering(action)
        if self.is_ec:
            half = len(raw) // 2
            if len(raw) % 2 or half == 0:
                raise CardDataError("the card returned a malformed ECDSA signature")
            return utils.encode_dss_signature(
                int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            )
        return raw

    def internal_authenticate(self, challenge: bytes) -> bytes:
        """Applet 1.8: sign a 48-byte challenge with the card's basic key (proves the chip
        holds the key whose hash the identity file carries). Returns a DER ECDSA signature.
        It clears the security environment (manual 1.8 section 5.2)."""
        if not self.is_ec:
            raise UnsupportedCard("INTERNAL AUTHENTICATE with the basic key needs applet 1.8")
        if len(challenge) != 48:
            raise ValueError("the challenge is 48 bytes (a SHA-384 hash)")
        data = bytes([0x94, len(challenge)]) + challenge
        raw = self._recovering(
            lambda: self.protocol.call(
                CommandApdu(CLA_ISO, Ins.INTERNAL_AUTHENTICATE, 0x02, KeyRef.BASIC, data),
                "INTERNAL AUTHENTICATE",
            )
        )
        self._security_environment = None
        if len(raw) != 96:
            raise CardDataError("INTERNAL AUTHENTICATE answered a malformed signature")
        return utils.encode_dss_signature(
            int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")
        )


# --- integrity ------------------------------------------------------------------------------


def _hash_for_length(length: int) -> hashes.HashAlgorithm:
    try:
        return {20: hashes.SHA1(), 32: hashes.SHA256(), 48: hashes.SHA384()}[length]  # noqa: S303 - applet 1.7 photo hashes are SHA-1
    except KeyError:
        raise IntegrityError(f"unexpected hash length {length}") from None


def _verify_rrn(
    rrn: x509.Certificate, signature: bytes, data: bytes, candidates: list[hashes.HashAlgorithm]
) -> None:
    key = rrn.public_key()
    for algorithm in candidates:
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, data, padding.PKCS1v15(), algorithm)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(trim_ecdsa_signature(signature), data, ec.ECDSA(algorithm))
            else:
                raise IntegrityError("the RRN certificate has an unsupported key type")
            return
        except (InvalidSignature, CardDataError):
            continue
    raise IntegrityError("the National Register signature does not match the card data")


def verify_integrity(
    *,
    rrn_certificate: bytes,
    identity: Identity,
    identity_file: bytes,
    identity_signature: bytes,
    address_file: bytes,
    address_signature: bytes,
    photo: bytes,
    basic_key: bytes | None = None,
) -> None:
    """Check what the National Register signed (content doc 6.2.3-6.2.5): the identity file
    as stored; the address file without its trailing zeros followed by the identity
    signature file; the photo through its hash in the identity file; on applet 1.8 the
    basic public key through its hash. Raises ``IntegrityError``."""
    try:
        rrn = x509.load_der_x509_certificate(rrn_certificate)
    except ValueError as exc:
        raise IntegrityError("the RRN certificate cannot be read") from exc
    # Which hash the RRN used is not documented for RSA cards; like the eID Viewer, go by the
    # photo hash length and also try SHA-256 (re-signed CA3 cards keep a SHA-1 photo hash).
    photo_hash = identity.photo_hash or b""
    candidates = [_hash_for_length(len(photo_hash))] if photo_hash else []
    for extra in (hashes.SHA256(), hashes.SHA384(), hashes.SHA1()):  # noqa: S303 - legacy RRN signatures
        if all(type(extra) is not type(c) for c in candidates):
            candidates.append(extra)
    if isinstance(rrn.public_key(), ec.EllipticCurvePublicKey):
        candidates = [hashes.SHA384(), hashes.SHA256()]
    _verify_rrn(rrn, identity_signature, identity_file, candidates)
    _verify_rrn(
        rrn, address_signature, address_file.rstrip(b"\x00") + identity_signature, candidates
    )
    check_photo(identity, photo)
    if identity.basic_key_hash:
        if basic_key is None:
            raise IntegrityError("the basic public key file is missing")
        # The 4040 file is fixed-size; its DER value is what was hashed (content doc 6.2.7).
        try:
            key_der = basic_key[: der_length(basic_key) or len(basic_key)]
        except CardDataError as exc:
            raise IntegrityError("the basic public key file is damaged") from exc
        if hashlib.sha384(key_der).digest() != identity.basic_key_hash:
            raise IntegrityError("the basic public key does not match the identity file")


def basic_public_key(basic_key_file: bytes) -> ec.EllipticCurvePublicKey:
    key_der = basic_key_file[: der_length(basic_key_file) or len(basic_key_file)]
    key = serialization.load_der_public_key(key_der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CardDataError("the basic key file holds no EC public key")
    return key


__all__ = [
    "BelpicSession",
    "CardCertificates",
    "CardContents",
    "CardData",
    "PinBlocked",
    "PinIncorrect",
    "PinStatus",
    "basic_public_key",
    "pin_block",
    "verify_integrity",
]
