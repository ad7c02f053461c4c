"""What the daemon does with the card, one function per API operation.

Each runs on the card worker thread (:mod:`bridge.service.worker`) with the request's
:class:`JobContext`, so dialogs and APDUs of two tabs never interleave. The PIN is asked in
the bridge's own dialog or on the reader's PIN pad, used for one VERIFY and dropped; a wrong
PIN is never retried by the bridge itself: the user sees the tries left and decides.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from bridge.card.constants import HashAlgorithm, KeyRef
from bridge.card.errors import (
    CardDataError,
    PinBlocked,
    PinCancelled,
    PinFormatError,
    PinIncorrect,
    PinIncorrectTriesUnknown,
)
from bridge.card.session import BelpicSession, CardCertificates, CardContents
from bridge.messages import explain
from bridge.service.certcache import CertificateCache
from bridge.service.errors import (
    CertificateNotOnCard,
    CertificateRejected,
    NoCertificate,
    UserDenied,
)
from bridge.service.worker import JobContext
from bridge.tokens.format import (
    algorithm_for_certificate,
    build_token,
    card_hash,
    digest_to_sign,
    signed_value,
    verify_digest_signature,
    verify_signature,
)
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationPolicy
from bridge.trust.validate import Purpose, avalidate
from bridge.ui.base import (
    ConsentRequest,
    KeyChoice,
    Operation,
    OriginApproval,
    PinRequest,
    UserInterface,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

HASHES: dict[str, HashAlgorithm] = {h.value: h for h in HashAlgorithm}
"""The hash functions a page may name (Web eID's names: ``SHA-256``...)."""


@dataclass
class Services:
    """What the operations need besides the card, built once by the daemon."""

    ui: UserInterface
    language: str
    store: TrustStore
    revocation: RevocationPolicy
    cache: CertificateCache
    app_version: str


# --- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedCertificates:
    certificates: CardCertificates
    serial: str
    from_cache: bool


def load_certificates(session: BelpicSession, cache: CertificateCache) -> LoadedCertificates:
    """The card's certificates from the encrypted cache when this card (by chip serial) was
    seen before, else read from the card. A cached copy is only a hint: callers check that
    the card's fresh signature verifies with it (:func:`confirm_certificates`)."""
    serial = session.card_data.serial_hex
    cached = cache.get(serial)
    if cached is not None:
        return LoadedCertificates(cached, serial, True)
    return LoadedCertificates(session.read_certificates(), serial, False)


def reread_certificates(
    session: BelpicSession, cache: CertificateCache, serial: str
) -> LoadedCertificates:
    log.warning("the cached certificates do not match the card's key: reading them again")
    cache.forget(serial)
    return LoadedCertificates(session.read_certificates(), serial, False)


_THREAD = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """An event loop kept by the worker thread for validations (``asyncio.run`` would make
    and tear down a fresh one for every login)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_THREAD, "loop", None)
    if loop is None or loop.is_closed():
        loop = _THREAD.loop = asyncio.new_event_loop()
    return loop


def check_certificate(
    services: Services, certificate: bytes, chain: CardCertificates, purpose: Purpose
) -> None:
    verdict = _thread_loop().run_until_complete(
        avalidate(
            certificate,
            intermediates=[chain.ca, chain.root],
            purpose=purpose,
            store=services.store,
            revocation=services.revocation,
        )
    )
    if not verdict.ok:
        raise CertificateRejected(
            verdict.code, {lang: verdict.message(lang) for lang in ("en", "fr", "nl")}
        )


# --- PIN ----------------------------------------------------------------------------------


def with_pin(
    ctx: JobContext,
    services: Services,
    request: PinRequest,
    attempt: Callable[[str | None], T],
) -> T:
    """Ask the PIN (dialog or PIN pad) and run ``attempt(pin)`` (``None``: PIN pad) until it
    succeeds, the user cancels, or the PIN blocks. Each retry is the user's own decision."""
    session = ctx.session()
    status = session.pin_status()
    if status.blocked:
        raise PinBlocked()
    use_pinpad = session.pinpad().can_verify
    tries, previous = status.tries_left, None
    ui, language = services.ui, services.language
    while True:
        ctx.check_cancelled()
        shown = dataclasses.replace(
            request, tries_left=tries, previous_error=previous, pinpad=use_pinpad
        )
        try:
            if use_pinpad:
                consent = ConsentRequest(
                    request.origin,
                    request.operation,
                    language,
                    label=request.label,
                    digest_hex=request.digest_hex,
                )
                if not ui.consent(consent, ctx.cancel):
                    ctx.check_cancelled()
                    raise UserDenied("the user refused")
                with ui.pinpad_prompt(shown, ctx.cancel):
                    return attempt(None)
            pin = ui.ask_pin(shown, ctx.cancel)
            if pin is None:
                ctx.check_cancelled()
                raise PinCancelled()
            try:
                return attempt(pin)
            finally:
                del pin
        except PinFormatError as exc:  # refused before any APDU: the tries are intact
            previous = explain(exc, language)
        except PinIncorrectTriesUnknown as exc:
            tries, previous = None, explain(exc, language)
        except PinIncorrect as exc:
            if exc.tries_left == 0:
                raise PinBlocked() from exc
            tries, previous = exc.tries_left, explain(exc, language)


# --- operations -------------------------------------------------------------------------------


def approve_origin(ctx: JobContext, services: Services, origin: str) -> bool:
    return services.ui.approve_origin(OriginApproval(origin, services.language), ctx.cancel)


def authenticate(ctx: JobContext, services: Services, origin: str, nonce: str) -> dict[str, Any]:
    """A Web eID ``web-eid:1.0`` token over ``origin`` and the relying party's ``nonce``."""
    session = ctx.session()
    loaded = load_certificates(session, services.cache)
    certificate = loaded.certificates.authentication
    if certificate is None:
        raise NoCertificate("this card has no authentication certificate")
    check_certificate(services, certificate, loaded.certificates, Purpose.AUTHENTICATION)
    algorithm = algorithm_for_certificate(certificate)
    hash_algorithm = card_hash(algorithm)
    digest = digest_to_sign(origin, nonce, algorithm)
    request = PinRequest(
        origin, Operation.AUTHENTICATE, KeyChoice.AUTHENTICATION, services.language
    )

    def attempt(pin: str | None) -> bytes:
        # A fresh VERIFY for every login, even when the card still holds the right from an
        # earlier one: a page must never log the user in without the user knowing.
        session.verify_pin(pin)
        return session.sign(KeyRef.AUTHENTICATION, digest, hash_algorithm)

    raw = with_pin(ctx, services, request, attempt)
    value = signed_value(origin, nonce, algorithm)
    token = build_token(certificate, algorithm, raw, services.app_version)
    if not verify_signature(certificate, value, algorithm, token.signature):
        if not loaded.from_cache:
            raise CardDataError("the card's signature does not match its own certificate")
        loaded = reread_certificates(session, services.cache, loaded.serial)
        certificate = loaded.certificates.authentication
        if certificate is None or algorithm_for_certificate(certificate) != algorithm:
            raise CardDataError("the card's certificates changed during the login")
        token = build_token(certificate, algorithm, raw, services.app_version)
        if not verify_signature(certificate, value, algorithm, token.signature):
            raise CardDataError("the card's signature does not match its own certificate")
        check_certificate(services, certificate, loaded.certificates, Purpose.AUTHENTICATION)
    if not loaded.from_cache:
        services.cache.put(loaded.serial, loaded.certificates)
    return token.to_json()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def signing_certificate(ctx: JobContext, services: Services, origin: str) -> dict[str, Any]:
    """The signature certificate and its chain, after the user agreed to share it."""
    if not services.ui.consent(
        ConsentRequest(origin, Operation.CERTIFICATE, services.language), ctx.cancel
    ):
        ctx.check_cancelled()
        raise UserDenied("the user refused")
    session = ctx.session()
    loaded = load_certificates(session, services.cache)
    certificate = loaded.certificates.signature
    if certificate is None:
        raise NoCertificate("this card has no signature certificate")
    if not loaded.from_cache:
        services.cache.put(loaded.serial, loaded.certificates)
    return {
        "certificate": _b64(certificate),
        "chain": [_b64(loaded.certificates.ca), _b64(loaded.certificates.root)],
        "supportedSignatureAlgorithms": supported_algorithms(certificate),
    }


def supported_algorithms(certificate: bytes) -> list[dict[str, str]]:
    """As Web eID's ``getSigningCertificate`` lists them."""
    key = x509.load_der_x509_certificate(certificate).public_key()
    crypto, padding_scheme = (
        ("ECC", "NONE")
        if isinstance(key, ec.EllipticCurvePublicKey)
        else (
            "RSA",
            "PKCS1.5",
        )
    )
    return [
        {"cryptoAlgorithm": crypto, "hashFunction": name, "paddingScheme": padding_scheme}
        for name in HASHES
    ]


def sign(
    ctx: JobContext,
    services: Services,
    origin: str,
    certificate: bytes,
    digest: bytes,
    hash_algorithm: HashAlgorithm,
    label: str,
) -> dict[str, Any]:
    session = ctx.session()
    loaded = load_certificates(session, services.cache)
    certs = loaded.certificates
    if certificate == certs.signature:
        key, purpose, choice = KeyRef.NON_REPUDIATION, Purpose.NON_REPUDIATION, KeyChoice.SIGNATURE
    elif certificate == certs.authentication:
        key, purpose, choice = (
            KeyRef.AUTHENTICATION,
            Purpose.AUTHENTICATION,
            KeyChoice.AUTHENTICATION,
        )
    else:
        raise CertificateNotOnCard("the certificate is not on the card in the reader")
    check_certificate(services, certificate, certs, purpose)
    request = PinRequest(
        origin,
        Operation.SIGN,
        choice,
        services.language,
        label=label,
        digest_hex=digest.hex(),
    )

    def attempt(pin: str | None) -> bytes:
        if key == KeyRef.AUTHENTICATION:
            session.verify_pin(pin)
            return session.sign(key, digest, hash_algorithm)
        # The signature key wants VERIFY right before PSO, every time ("PIN just before").
        return session.sign(key, digest, hash_algorithm, pin=pin, use_pinpad=pin is None)

    signature = with_pin(ctx, services, request, attempt)
    if not verify_digest_signature(certificate, digest, hash_algorithm, signature):
        services.cache.forget(loaded.serial)
        if loaded.from_cache:
            raise CertificateNotOnCard("the card's key does not match the chosen certificate")
        raise CardDataError("the card's signature does not match its own certificate")
    if not loaded.from_cache:
        services.cache.put(loaded.serial, certs)
    return {
        "signature": _b64(signature),
        "signatureAlgorithm": {
            "cryptoAlgorithm": "ECC" if session.is_ec else "RSA",
            "hashFunction": next(n for n, h in HASHES.items() if h == hash_algorithm),
            "paddingScheme": "NONE" if session.is_ec else "PKCS1.5",
        },
    }


def identity(ctx: JobContext, services: Services, origin: str) -> dict[str, Any]:
    if not services.ui.consent(
        ConsentRequest(origin, Operation.IDENTITY, services.language), ctx.cancel
    ):
        ctx.check_cancelled()
        raise UserDenied("the user refused")
    ctx.check_cancelled()
    contents = ctx.session().read_all(verify=True)
    return identity_json(contents)


def identity_json(contents: CardContents) -> dict[str, Any]:
    person, address = contents.identity, contents.address
    return {
        "card": {
            "number": person.card_number,
            "validFrom": person.validity_begin.isoformat(),
            "validUntil": person.validity_end.isoformat(),
            "issuedIn": person.delivery_municipality,
            "documentType": person.document_type.name.lower(),
        },
        "holder": {
            "surname": person.surname,
            "firstNames": person.first_names,
            "thirdNameInitial": person.third_name_initial,
            "nationalNumber": person.national_number,
            "birthDate": person.birth_date.text,
            "birthLocation": person.birth_location,
            "sex": person.sex.value,
            "nationality": person.nationality,
            "nobleCondition": person.noble_condition,
        },
        "address": {
            "street": address.street_and_number,
            "zip": address.zip_code,
            "municipality": address.municipality,
        },
        "photo": _b64(contents.photo),
        "photoType": "image/jpeg",
        "integrity": "verified",
    }
