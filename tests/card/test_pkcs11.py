"""The project's PKCS#11 backend (``bridge.card.pkcs11``) through OpenSC's opensc-pkcs11.so
and pcscd, with the virtual card.

OpenSC 0.23 limits what can be proved here (see ``test_opensc.py``): the 1.7 certificates
appear only after login, the non-repudiation key cannot sign (OpenSC's belpic driver refuses
it), and the 1.8 EC keys cannot sign at all. The tests assert those failure modes so that a
newer OpenSC, or a change in the backend's error mapping, is noticed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from bridge.card.constants import HashAlgorithm, KeyRef
from bridge.card.errors import (
    NoCard,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    PinIncorrectTriesUnknown,
    UnsupportedCard,
)
from bridge.card.pkcs11 import KEY_LABELS, Pkcs11Backend, Pkcs11Card, certificate_key_ref
from bridge.messages import explain
from tests.conftest import PcscCard
from tests.services import READER_0, READER_1, TEST_READER, Pcscd, wait_for_card

pytestmark = [pytest.mark.pcsc, pytest.mark.opensc]

InsertCard = Callable[[str], PcscCard]

OPENSC_MODULES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)
PIN = "1234"
LABELS = {"Authentication", "Signature", "CA", "Root"}
HASHES = {HashAlgorithm.SHA256: hashes.SHA256(), HashAlgorithm.SHA384: hashes.SHA384()}


def opensc_module() -> Path:
    module = next((Path(p) for p in OPENSC_MODULES if Path(p).exists()), None)
    if module is None:
        reason = "OpenSC's PKCS#11 module is not installed (Debian package opensc)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PKCS#11 tests: {reason}")
        pytest.skip(reason)
    return module


@pytest.fixture
def backend(
    pcscd: Pcscd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pkcs11Backend]:
    """A freshly initialised OpenSC module that sees only this run's vpcd reader.

    ``Pkcs11Backend.card()`` takes the first token, and OpenSC would also talk to the card
    in the other tester's reader: ``ignored_readers`` keeps it away. The config is read at
    C_Initialize, so the module is unloaded (C_Finalize) before and after."""
    module = opensc_module()
    other = READER_0 if TEST_READER == READER_1 else READER_1
    config = tmp_path / "opensc.conf"
    config.write_text(f'app default {{\n\tignored_readers = "{other}";\n}}\n')
    monkeypatch.setenv("OPENSC_CONF", str(config))
    pkcs11.unload(str(module))
    try:
        yield Pkcs11Backend(module)
    finally:
        pkcs11.unload(str(module))


def the_card(backend: Pkcs11Backend, card: PcscCard) -> Pkcs11Card:
    cards = backend.cards()
    assert len(cards) == 1, "OpenSC must see exactly the card in this run's reader"
    found = backend.card()
    assert found.serial, "the token has a serial"
    assert found.label == "BELPIC (Basic PIN)"
    return found


def verify(cert_der: bytes, signature: bytes, digest: bytes, algorithm: HashAlgorithm) -> None:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    prehashed = utils.Prehashed(HASHES[algorithm])
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, digest, padding.PKCS1v15(), prehashed)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, digest, ec.ECDSA(prehashed))


def commands(card: PcscCard, prefix: str) -> list[bytes]:
    return [command for command, _ in card.applet.log if command.hex().startswith(prefix)]


def certificates_by_label(card: PcscCard) -> dict[str, bytes]:
    credentials = card.built.credentials
    return {
        "Authentication": credentials.auth_cert_der,
        "Signature": credentials.signature_cert_der,
        "CA": credentials.ca_cert_der,
        "Root": credentials.root_cert_der,
    }


# --- certificates ------------------------------------------------------------------------


def test_certificates_of_applet_1_7_after_login(
    backend: Pkcs11Backend, vpcd_card: InsertCard
) -> None:
    """The 1.7 CDF flags the certificates private: OpenSC shows none before login."""
    card = vpcd_card("citizen-1.7")
    token = the_card(backend, card)
    assert token.certificates() == {}
    assert not commands(card, "0020")  # no VERIFY without a PIN

    found = token.certificates(pin=PIN)
    assert found == certificates_by_label(card)
    assert certificate_key_ref(found["Authentication"]) is KeyRef.AUTHENTICATION
    assert certificate_key_ref(found["Signature"]) is KeyRef.NON_REPUDIATION
    assert certificate_key_ref(found["Root"]) is None
    assert card.built.profile.pin_tries_left == 3


def test_certificates_of_applet_1_8_without_login(
    backend: Pkcs11Backend, vpcd_card: InsertCard
) -> None:
    card = vpcd_card("citizen-1.8")
    token = the_card(backend, card)
    assert token.certificates() == certificates_by_label(card)
    assert not commands(card, "0020")
    assert token.certificates(pin=PIN) == certificates_by_label(card)


# --- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [HashAlgorithm.SHA256, HashAlgorithm.SHA384])
def test_authentication_signature_verifies(
    backend: Pkcs11Backend, vpcd_card: InsertCard, algorithm: HashAlgorithm
) -> None:
    card = vpcd_card("citizen-1.7")
    token = the_card(backend, card)
    card.applet.clear_log()
    digest = hashlib.new(algorithm.value.replace("-", "").lower(), b"TLS handshake").digest()
    signature = token.sign(KeyRef.AUTHENTICATION, digest, algorithm, PIN)
    verify(card.built.credentials.auth_cert_der, signature, digest, algorithm)
    # CKM_RSA_PKCS: the backend sends DigestInfo || hash, OpenSC sets algorithm 01 (raw
    # PKCS#1) for key 82, and the card pads and signs.
    assert commands(card, "002241b6") == [bytes.fromhex("002241b6050480018482")]
    (pso,) = commands(card, "002a9e9a")
    assert pso[5:] == algorithm.digest_info_prefix + digest
    assert card.built.profile.pin_tries_left == 3


def test_non_repudiation_key_is_refused_by_opensc(
    backend: Pkcs11Backend, vpcd_card: InsertCard
) -> None:
    """The non-repudiation key is labelled "Signature" in OpenSC too; it is CKA_ALWAYS_AUTHENTICATE
    (PrKDF userConsent), so a PKCS#11 client must log in again (CKU_CONTEXT_SPECIFIC) after
    C_SignInit, which the backend does. OpenSC 0.23's belpic driver still sets the SE for key
    83 and then refuses ("No GUI for NonRep key present"), CKR_FUNCTION_NOT_SUPPORTED; the
    backend reports that as ``UnsupportedCard`` (this module cannot do that with this card)."""
    card = vpcd_card("citizen-1.7")
    token = the_card(backend, card)
    assert KEY_LABELS[KeyRef.NON_REPUDIATION] == "Signature"
    digest = hashlib.sha256(b"contract").digest()

    card.applet.clear_log()
    with pytest.raises(UnsupportedCard) as raised:
        token.sign(KeyRef.NON_REPUDIATION, digest, HashAlgorithm.SHA256, PIN)
    assert isinstance(raised.value.__cause__, p11.FunctionNotSupported)
    assert len(commands(card, "0020")) == 2  # login, then the context-specific VERIFY
    assert bytes.fromhex("002241b6050480018483") in commands(card, "002241b6")
    assert commands(card, "002a") == []

    # The same through python-pkcs11 directly, with the context-specific login.
    lib = pkcs11.lib(str(backend.module))
    (slot,) = lib.get_slots(token_present=True)
    with slot.get_token().open(user_pin=PIN) as session:
        key: Any = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="Signature")
        assert key[Attribute.ALWAYS_AUTHENTICATE] is True
        card.applet.clear_log()
        with pytest.raises(p11.FunctionNotSupported):
            key.sign(
                HashAlgorithm.SHA256.digest_info_prefix + digest,
                mechanism=Mechanism.RSA_PKCS,
                pin=PIN,
            )
        assert len(commands(card, "0020")) == 1  # the context-specific VERIFY
        assert commands(card, "002a") == []
    assert card.built.profile.pin_tries_left == 3


def test_applet_1_8_signing_fails_in_opensc_0_23(
    backend: Pkcs11Backend, vpcd_card: InsertCard
) -> None:
    """OpenSC 0.23 offers no ECDSA mechanism for Belpic: C_SignInit answers
    CKR_MECHANISM_INVALID after the login. Fails when a newer OpenSC signs: then verify."""
    card = vpcd_card("citizen-1.8")
    token = the_card(backend, card)
    digest = hashlib.sha384(b"challenge").digest()
    for key in (KeyRef.AUTHENTICATION, KeyRef.NON_REPUDIATION):
        card.applet.clear_log()
        with pytest.raises(UnsupportedCard) as raised:  # a newer OpenSC: verify the signature
            token.sign(key, digest, HashAlgorithm.SHA384, PIN)
        assert isinstance(raised.value.__cause__, p11.MechanismInvalid)
        assert commands(card, "0020") != []  # the login reached the card
        assert commands(card, "0022") == []
        assert commands(card, "002a") == []
    assert card.built.profile.pin_tries_left == 3


# --- PIN and card errors ---------------------------------------------------------------------


def test_wrong_pin_is_pin_incorrect(backend: Pkcs11Backend, vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.7")
    token = the_card(backend, card)
    digest = hashlib.sha256(b"x").digest()
    with pytest.raises(PinIncorrectTriesUnknown) as raised:
        token.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, "9999")
    assert "three wrong attempts" in explain(raised.value)
    assert card.built.profile.pin_tries_left == 2
    with pytest.raises(PinIncorrect):
        token.certificates(pin="4321")
    assert card.built.profile.pin_tries_left == 1
    # The right PIN signs and restores the counter.
    signature = token.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, PIN)
    verify(card.built.credentials.auth_cert_der, signature, digest, HashAlgorithm.SHA256)
    assert card.built.profile.pin_tries_left == 3


@pytest.mark.parametrize("profile", ["blocked-pin-1.7", "blocked-pin-1.8"])
def test_blocked_pin_is_pin_blocked(
    backend: Pkcs11Backend, vpcd_card: InsertCard, profile: str
) -> None:
    card = vpcd_card(profile)
    token = the_card(backend, card)
    with pytest.raises(PinBlocked):
        token.sign(KeyRef.AUTHENTICATION, hashlib.sha256(b"x").digest(), HashAlgorithm.SHA256, PIN)
    with pytest.raises(PinBlocked):
        token.certificates(pin=PIN)
    assert [response[-2:] for command, response in card.applet.log if command[1] == 0x20] == [
        b"\x69\x83",
        b"\x69\x83",
    ]


def test_no_card_is_no_card(backend: Pkcs11Backend) -> None:
    wait_for_card(TEST_READER, present=False)
    assert backend.cards() == []
    with pytest.raises(NoCard):
        backend.card()


class ModuleMustNotBeCalled:
    """A token stand-in: any use means the PIN reached the module."""

    label = "BELPIC (Basic PIN)"

    def open(self, **kwargs: object) -> None:
        raise AssertionError("the PIN reached the PKCS#11 module")


MALFORMED_PINS = ["12a4", "123", "1234567890123", "", " 1234", "\u0661\u0662\u0663\u0664"]


@pytest.mark.parametrize("pin", MALFORMED_PINS)
def test_malformed_pin_is_refused_before_the_module(pin: str) -> None:
    stub = Pkcs11Card(ModuleMustNotBeCalled())
    digest = hashlib.sha256(b"x").digest()
    with pytest.raises(PinFormatError):
        stub.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin)
    with pytest.raises(PinFormatError):
        stub.certificates(pin=pin)


def test_malformed_pin_sends_nothing_to_the_card(
    backend: Pkcs11Backend, vpcd_card: InsertCard
) -> None:
    card = vpcd_card("citizen-1.7")
    token = the_card(backend, card)
    digest = hashlib.sha256(b"x").digest()
    card.applet.clear_log()
    for pin in MALFORMED_PINS:
        with pytest.raises(PinFormatError):
            token.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin)
        with pytest.raises(PinFormatError):
            token.certificates(pin=pin)
    assert card.applet.log == []
    assert card.built.profile.pin_tries_left == 3


def test_card_is_chosen_by_reader(backend: Pkcs11Backend, vpcd_card: InsertCard) -> None:
    card = vpcd_card("citizen-1.8")
    token = backend.card(card.reader)
    assert token.certificates()["Authentication"] == card.built.credentials.auth_cert_der
    with pytest.raises(NoCard):
        backend.card("No Such Reader 42")
