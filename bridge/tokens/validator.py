"""The relying party's check of an authentication token, and who it identifies.

Order (cheap and decisive first, the network last):

1. parse the token strictly and check its format (``web-eid:1.x``) and algorithm;
2. consume the challenge nonce from the user's session: single use, fresh, this session's;
3. verify the signature over *this relying party's* origin and that nonce, so a token made
   for another site, another challenge or tampered with fails here, before any request;
4. validate the certificate for authentication with :func:`bridge.trust.validate.avalidate`
   (usage and Belgian eID policy, chain to the trust store, OCSP/CRL). A token carries only
   the end-entity certificate, so the CA certificates come from ``intermediates``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from bridge.tokens.errors import (
    CertificateRejected,
    TokenAlgorithmNotAllowed,
    TokenMalformed,
    TokenSignatureInvalid,
)
from bridge.tokens.format import (
    AuthToken,
    TokenAlgorithm,
    check_format,
    check_origin,
    signed_value,
    verify_signature,
)
from bridge.tokens.nonces import AsyncNonceStore, NonceStore
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationPolicy
from bridge.trust.validate import Purpose, Verdict, avalidate

DEFAULT_ALLOWED_ALGORITHMS: Final = frozenset(TokenAlgorithm)
"""Every algorithm Web eID allows; Belgian cards make RS256 (applet 1.7) and ES384 (1.8)."""
BELGIAN_EID_ALGORITHMS: Final = frozenset({TokenAlgorithm.RS256, TokenAlgorithm.ES384})


def mask_national_number(national_number: str) -> str:
    """Every digit replaced: the national number is personal data (it encodes the birth
    date and sex) and must not reach logs."""
    return "*" * len(national_number)


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the token identifies, from its validated authentication certificate."""

    given_name: str
    """All given names, as in the certificate's ``givenName`` (``Jan Pieter``)."""
    surname: str
    national_number: str
    """The national register number (11 digits), from the subject's ``serialNumber``."""
    country: str
    certificate_der: bytes = field(repr=False)
    algorithm: TokenAlgorithm
    verdict: Verdict = field(repr=False)

    def __repr__(self) -> str:
        # The verdict's repr quotes the subject, national number included: status only.
        return (
            f"VerifiedIdentity(given_name={self.given_name!r}, surname={self.surname!r}, "
            f"national_number={mask_national_number(self.national_number)!r}, "
            f"country={self.country!r}, algorithm={self.algorithm.value}, "
            f"verdict={self.verdict.status.value})"
        )

    __str__ = __repr__


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return ""
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def identity_from_certificate(
    certificate_der: bytes, algorithm: TokenAlgorithm, verdict: Verdict
) -> VerifiedIdentity:
    subject = x509.load_der_x509_certificate(certificate_der).subject
    national_number = _attribute(subject, NameOID.SERIAL_NUMBER)
    if not national_number:
        raise TokenMalformed("the certificate names no national number (serialNumber)")
    return VerifiedIdentity(
        given_name=_attribute(subject, NameOID.GIVEN_NAME),
        surname=_attribute(subject, NameOID.SURNAME),
        national_number=national_number,
        country=_attribute(subject, NameOID.COUNTRY_NAME),
        certificate_der=certificate_der,
        algorithm=algorithm,
        verdict=verdict,
    )


def load_certificates(paths: Iterable[Path]) -> tuple[bytes, ...]:
    """DER of every certificate in ``paths`` (PEM files may hold several; other files are
    read as DER): for ``intermediates``, e.g. the CA certificates in ``shared/trust``."""
    found: list[bytes] = []
    for path in paths:
        data = path.read_bytes()
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
        found.extend(c.public_bytes(serialization.Encoding.DER) for c in certs)
    return tuple(found)


def parse_token(token: AuthToken | Mapping[str, object] | str | bytes) -> AuthToken:
    """An :class:`AuthToken` from whatever the relying party received; format checked."""
    if isinstance(token, AuthToken):
        check_format(token.format)
        return token
    if isinstance(token, str | bytes | bytearray):
        return AuthToken.from_text(token)
    return AuthToken.from_json(token)


class TokenValidator:
    """Checks tokens for one relying party (one origin). Thread-safe if ``nonces`` is."""

    def __init__(
        self,
        store: TrustStore,
        *,
        origin: str,
        nonces: NonceStore | AsyncNonceStore,
        intermediates: Sequence[bytes] = (),
        revocation: RevocationPolicy | None = None,
        allowed_algorithms: Iterable[TokenAlgorithm] = DEFAULT_ALLOWED_ALGORITHMS,
    ) -> None:
        """``origin`` is this relying party's own (``https://portal.example.be``), checked
        here (:class:`~bridge.tokens.errors.OriginInvalid`). ``intermediates``: DER of the
        Belgian eID CA certificates (Citizen CA, Foreigner CA...) that issue card
        certificates. ``revocation`` defaults to soft-fail with an in-memory cache kept
        across validations."""
        self.origin = check_origin(origin)
        self.store = store
        self.nonces = nonces
        for index, der in enumerate(intermediates):
            try:
                x509.load_der_x509_certificate(der)  # a bad configuration fails now, loudly
            except ValueError as exc:
                raise ValueError(f"intermediate #{index} is not a DER certificate: {exc}") from None
        self.intermediates = tuple(bytes(der) for der in intermediates)
        self.revocation = revocation or RevocationPolicy()
        self.allowed_algorithms = frozenset(allowed_algorithms)
        if not self.allowed_algorithms:
            raise ValueError("allow at least one algorithm")

    async def validate(
        self,
        token: AuthToken | Mapping[str, object] | str | bytes,
        *,
        session_id: str,
        nonce: str | None = None,
    ) -> VerifiedIdentity:
        """The identity in ``token``, or a :class:`~bridge.tokens.errors.TokenError`.

        ``nonce`` is the challenge the page says it used; ``None`` takes the session's most
        recent one (:meth:`NonceStore.take`). Either way the nonce is used up, even when the
        token then fails, so every attempt needs a new challenge.
        """
        parsed = parse_token(token)
        if parsed.algorithm not in self.allowed_algorithms:
            raise TokenAlgorithmNotAllowed(
                f"{parsed.algorithm.value} is not accepted here", algorithm=parsed.algorithm.value
            )
        if nonce is None:
            taken = self.nonces.take(session_id)
            challenge = await taken if inspect.isawaitable(taken) else taken
        else:
            used = self.nonces.consume(session_id, nonce)
            if inspect.isawaitable(used):
                await used
            challenge = nonce
        data = signed_value(self.origin, challenge, parsed.algorithm)
        if not verify_signature(parsed.certificate, data, parsed.algorithm, parsed.signature):
            raise TokenSignatureInvalid(
                "the signature does not verify over this origin and challenge"
            )
        verdict = await avalidate(
            parsed.certificate,
            intermediates=self.intermediates,
            purpose=Purpose.AUTHENTICATION,
            store=self.store,
            revocation=self.revocation,
        )
        if not verdict.ok:
            raise CertificateRejected(verdict)
        return identity_from_certificate(parsed.certificate, parsed.algorithm, verdict)


__all__ = [
    "BELGIAN_EID_ALGORITHMS",
    "DEFAULT_ALLOWED_ALGORITHMS",
    "TokenValidator",
    "VerifiedIdentity",
    "identity_from_certificate",
    "load_certificates",
    "mask_national_number",
    "parse_token",
]
