"""PKCS#11 backend: the same certificates / PIN / sign operations through a PKCS#11 module
(the official ``beidpkcs11`` when installed, OpenSC's ``opensc-pkcs11.so`` otherwise).

Useful where another program must own the card (the official middleware's minidriver on a
locked-down Windows), and as an independent path in the diagnostics.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import utils
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11

from bridge.card.constants import HashAlgorithm, KeyRef
from bridge.card.errors import (
    CardError,
    CardRemoved,
    NoCard,
    PinBlocked,
    PinCancelled,
    PinFormatError,
    PinIncorrectTriesUnknown,
    TransportError,
    UnsupportedCard,
)
from bridge.card.session import pin_block

_CANDIDATES: dict[str, tuple[str, ...]] = {
    "linux": (
        "/usr/lib/x86_64-linux-gnu/libbeidpkcs11.so.0",
        "/usr/lib/aarch64-linux-gnu/libbeidpkcs11.so.0",
        "/usr/lib/libbeidpkcs11.so.0",
        "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
        "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
        "/usr/lib/opensc-pkcs11.so",
    ),
    "darwin": (
        "/Library/Belgium Identity Card/Pkcs11/libbeidpkcs11.dylib",
        "/usr/local/lib/beid-pkcs11.bundle/Contents/MacOS/libbeidpkcs11.dylib",
        "/Library/OpenSC/lib/opensc-pkcs11.so",
    ),
    "win32": (
        r"C:\Windows\System32\beidpkcs11.dll",
        r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
    ),
}

# Key labels used by both the official module and OpenSC for a BELPIC card.
KEY_LABELS = {KeyRef.AUTHENTICATION: "Authentication", KeyRef.NON_REPUDIATION: "Signature"}


def find_module() -> Path | None:
    """The official module if installed, else OpenSC's; ``None`` when neither is."""
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    for candidate in _CANDIDATES.get(platform, ()):
        path = Path(candidate)
        if path.exists():
            return path
    return None


def _map_error(exc: Exception) -> CardError:
    if isinstance(exc, p11.PinIncorrect):
        return PinIncorrectTriesUnknown()
    if isinstance(exc, p11.PinLocked):
        return PinBlocked()
    if isinstance(exc, (p11.PinLenRange, p11.PinInvalid)):
        return PinFormatError(str(exc) or "the module refused the PIN format")
    if isinstance(exc, p11.FunctionCancelled):
        return PinCancelled("PIN entry cancelled")
    if isinstance(exc, (p11.TokenNotPresent, p11.DeviceRemoved)):
        return CardRemoved("the card was removed")
    if isinstance(exc, (p11.FunctionNotSupported, p11.MechanismInvalid)):
        # e.g. OpenSC 0.23: no non-repudiation key, no EC signatures on applet 1.8.
        return UnsupportedCard(
            f"this PKCS#11 module cannot do that with this card ({type(exc).__name__})"
        )
    return TransportError(f"PKCS#11: {type(exc).__name__} {exc}")


def _always_authenticate(key: Any) -> bool:
    try:
        return bool(key[Attribute.ALWAYS_AUTHENTICATE])
    except p11.PKCS11Error:
        return False


@dataclass(frozen=True)
class Pkcs11Pin:
    """What PKCS#11 tells about the PIN without trying it (token flags)."""

    count_low: bool
    final_try: bool
    locked: bool


class Pkcs11Card:
    """One token (card) in a PKCS#11 module."""

    def __init__(self, token: Any) -> None:
        self._token = token

    @property
    def label(self) -> str:
        return str(self._token.label)

    @property
    def serial(self) -> str:
        return bytes(self._token.serial).decode("ascii", "replace").strip()

    def pin_state(self) -> Pkcs11Pin:
        flags = self._token.flags
        return Pkcs11Pin(
            count_low=bool(flags & TokenFlag.USER_PIN_COUNT_LOW),
            final_try=bool(flags & TokenFlag.USER_PIN_FINAL_TRY),
            locked=bool(flags & TokenFlag.USER_PIN_LOCKED),
        )

    @contextmanager
    def _session(self, pin: str | None) -> Iterator[Any]:
        if pin is not None:
            pin_block(pin)  # the same 4-12 digit rule, before anything reaches the module
        try:
            with self._token.open(user_pin=pin) as session:
                yield session
        except p11.PKCS11Error as exc:
            raise _map_error(exc) from exc

    def certificates(self, pin: str | None = None) -> dict[str, bytes]:
        """DER certificates by label. Some modules (OpenSC with the 1.7 CDF) show them only
        after login, hence the optional PIN."""
        with self._session(pin) as session:
            found: dict[str, bytes] = {}
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                found[str(obj[Attribute.LABEL])] = bytes(obj[Attribute.VALUE])
            return found

    def sign(self, key: KeyRef, digest: bytes, hash_algorithm: HashAlgorithm, pin: str) -> bytes:
        """Sign a precomputed hash: RSA PKCS#1 v1.5 (DigestInfo added here) or ECDSA returned
        as DER."""
        if len(digest) != hash_algorithm.digest_size:
            raise ValueError(
                f"a {hash_algorithm.value} hash has {hash_algorithm.digest_size} bytes"
            )
        label = KEY_LABELS[key]
        with self._session(pin) as session:
            try:
                private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
                # Modules flag the non-repudiation key CKA_ALWAYS_AUTHENTICATE: the PIN is
                # given again for each signature (context-specific login after C_SignInit).
                again = pin if _always_authenticate(private) else None
                if private.key_type == pkcs11.KeyType.EC:
                    raw = private.sign(digest, mechanism=Mechanism.ECDSA, pin=again)
                    half = len(raw) // 2
                    return utils.encode_dss_signature(
                        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
                    )
                data = hash_algorithm.digest_info_prefix + digest
                return bytes(private.sign(data, mechanism=Mechanism.RSA_PKCS, pin=again))
            except p11.PKCS11Error as exc:
                raise _map_error(exc) from exc


class Pkcs11Backend:
    def __init__(self, module: Path | str | None = None) -> None:
        path = Path(module) if module is not None else find_module()
        if path is None:
            raise TransportError("no PKCS#11 module for the Belgian eID is installed")
        self.module = path
        try:
            self._lib = pkcs11.lib(str(path))
        except (RuntimeError, OSError, p11.PKCS11Error) as exc:
            raise TransportError(f"cannot load the PKCS#11 module {path}: {exc}") from exc

    @property
    def description(self) -> str:
        return (
            f"{self._lib.manufacturer_id.strip()} {self._lib.library_description.strip()} "
            f"{self._lib.library_version[0]}.{self._lib.library_version[1]}"
        )

    def cards(self, reader: str | None = None) -> list[Pkcs11Card]:
        """Tokens with a card; ``reader`` keeps those whose slot names that reader."""
        try:
            slots = self._lib.get_slots(token_present=True)
            return [
                Pkcs11Card(slot.get_token())
                for slot in slots
                if reader is None or reader in str(slot.slot_description)
            ]
        except p11.PKCS11Error as exc:
            raise _map_error(exc) from exc

    def card(self, reader: str | None = None) -> Pkcs11Card:
        cards = self.cards(reader)
        if not cards:
            where = f" in '{reader}'" if reader else ""
            raise NoCard(f"the PKCS#11 module sees no card{where}")
        return cards[0]


def certificate_key_ref(der: bytes) -> KeyRef | None:
    """Which card key a certificate belongs to, from its key usage."""
    cert = x509.load_der_x509_certificate(der)
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if usage.content_commitment:
        return KeyRef.NON_REPUDIATION
    if usage.digital_signature and not usage.key_cert_sign:
        return KeyRef.AUTHENTICATION
    return None


__all__ = ["Pkcs11Backend", "Pkcs11Card", "Pkcs11Pin", "certificate_key_ref", "find_module"]
