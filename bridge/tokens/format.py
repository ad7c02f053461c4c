"""The Web eID authentication token format (``web-eid:1.0``), as the bridge makes it.

A token is a JSON object (sources in ``docs/token.md``)::

    {"unverifiedCertificate": "<base64 DER of the authentication certificate>",
     "algorithm": "ES384" | "RS256" | ... (JWA, RFC 7518 sections 3.3-3.5),
     "signature": "<base64 signature>",
     "format": "web-eid:1.0",
     "appVersion": "<URL naming the application and its version>"}

The signed value is ``hash(origin) || hash(challenge nonce)`` with the hash of the algorithm
(SHA-384 for ES384), so the digest the card signs is ``H(H(origin) || H(nonce))``. ECDSA
signatures are carried as raw ``r || s`` (IEEE P1363, as JWS does), not DER.

Everything here is pure (no I/O): the bridge uses :func:`check_origin`, :func:`check_nonce`,
:func:`digest_to_sign` and :func:`build_token`; the relying party uses :meth:`AuthToken.
from_json` and :func:`verify_signature` (through :mod:`bridge.tokens.validator`).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from bridge.card.constants import HashAlgorithm
from bridge.tokens.errors import (
    NonceMalformed,
    OriginInvalid,
    TokenFormatUnsupported,
    TokenMalformed,
)

TOKEN_FORMAT: Final = "web-eid:1.0"  # noqa: S105 - a format name, not a secret
"""What the bridge writes. Readers accept any ``web-eid:1[.minor]``: minor versions are
backwards compatible, major versions are not (Web eID token format description)."""
SUPPORTED_MAJOR_VERSION: Final = 1

NONCE_MIN_BYTES: Final = 32
"""At least 256 bits of entropy: base64 of 32 bytes is 44 characters, web-eid-app's minimum."""
NONCE_MAX_LENGTH: Final = 1024
"""Characters; anything longer is not a nonce (web-eid-app itself stops at 128)."""
ORIGIN_MAX_LENGTH: Final = 255
"""web-eid-app refuses longer origins."""
TOKEN_MAX_LENGTH: Final = 10_000
"""Characters of JSON text, as the Java validator (``TOKEN_MAX_LENGTH``)."""
APP_VERSION_MAX_LENGTH: Final = 512
SIGNATURE_MAX_LENGTH: Final = 2048
"""Base64 characters of ``signature`` (an RSA-8192 signature needs 1368)."""
MIN_RSA_BITS: Final = 2048
LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]")
"""The only hosts a plain ``http://`` origin may name (development and the local demo)."""

_DEFAULT_PORTS: Final = {"https": "443", "http": "80"}
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_FORMAT = re.compile(r"web-eid:([0-9]{1,4})(?:\.([0-9]{1,4}))?")


class TokenAlgorithm(enum.Enum):
    """JWS algorithms a Web eID token may name (RFC 7518 sections 3.3, 3.4, 3.5)."""

    ES256 = "ES256"
    ES384 = "ES384"
    ES512 = "ES512"
    PS256 = "PS256"
    PS384 = "PS384"
    PS512 = "PS512"
    RS256 = "RS256"
    RS384 = "RS384"
    RS512 = "RS512"

    @property
    def hash(self) -> HashAlgorithm:
        return HashAlgorithm.from_name("SHA" + self.value[2:])

    @property
    def is_ecdsa(self) -> bool:
        return self.value.startswith("ES")

    @property
    def is_pss(self) -> bool:
        return self.value.startswith("PS")


_EC_CURVES: Final = {
    TokenAlgorithm.ES256: "secp256r1",
    TokenAlgorithm.ES384: "secp384r1",
    TokenAlgorithm.ES512: "secp521r1",
}
"""JWA ties each ES algorithm to one curve (RFC 7518 section 3.4)."""
_ALGORITHM_FOR_CURVE: Final = {curve: alg for alg, curve in _EC_CURVES.items()}


def _crypto_hash(algorithm: HashAlgorithm) -> hashes.HashAlgorithm:
    table: dict[HashAlgorithm, hashes.HashAlgorithm] = {
        HashAlgorithm.SHA256: hashes.SHA256(),
        HashAlgorithm.SHA384: hashes.SHA384(),
        HashAlgorithm.SHA512: hashes.SHA512(),
    }
    return table[algorithm]


def _digest(algorithm: HashAlgorithm, data: bytes) -> bytes:
    return hashlib.new(algorithm.value.replace("-", "").lower(), data).digest()


# -- certificates and keys -----------------------------------------------------------------


def _load_certificate(certificate_der: bytes) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(certificate_der)
        cert.public_key()  # parsed lazily: fail here, not later
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise TokenMalformed(f"unreadable certificate: {exc}") from None
    return cert


def _coordinate_size(curve: ec.EllipticCurve) -> int:
    return (curve.key_size + 7) // 8


def algorithm_for_certificate(certificate_der: bytes) -> TokenAlgorithm:
    """The algorithm a card makes with this certificate's key, as Web eID picks it: RSA keys
    sign RS256 (PKCS#1 v1.5, Belgian applet 1.7), EC keys ES256/ES384/ES512 by curve (applet
    1.8 cards have P-384 keys: ES384)."""
    key = _load_certificate(certificate_der).public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise TokenMalformed(f"RSA key of {key.key_size} bits is too small")
        return TokenAlgorithm.RS256
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _ALGORITHM_FOR_CURVE:
        return _ALGORITHM_FOR_CURVE[key.curve.name]
    raise TokenMalformed(f"unsupported certificate key: {type(key).__name__}")


def card_hash(algorithm: TokenAlgorithm) -> HashAlgorithm:
    """The hash to name in ``BelpicSession.sign`` for a token of ``algorithm``. The card
    signs PKCS#1 v1.5 (RSA) or ECDSA; it does not make RSASSA-PSS for the bridge."""
    if algorithm.is_pss:
        raise ValueError(f"the card does not make {algorithm.value} signatures")
    return algorithm.hash


# -- origin and nonce ------------------------------------------------------------------------


def _check_host(host: str) -> None:
    if host.startswith("["):
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise OriginInvalid(f"not an IPv6 address: {host}") from None
        if host != f"[{address.compressed}]":
            raise OriginInvalid("write the IPv6 address as browsers do (lowercase, compressed)")
        return
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipv4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise OriginInvalid(f"not an IPv4 address: {host}") from None
        if str(ipv4) != host:
            raise OriginInvalid("write the IPv4 address in dotted decimal, as browsers do")
        return
    if host != host.lower():
        raise OriginInvalid("an origin's host is lowercase, as browsers serialise it")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise OriginInvalid(f"not a valid host name: {host!r}")


def check_origin(origin: str) -> str:
    """``origin`` unchanged if a token may be bound to it, else :class:`OriginInvalid`.

    An origin is serialised as browsers send it (``window.location.origin``, the ``Origin``
    header): ``scheme://host[:port]``, lowercase, no path (not even ``/``), query, fragment
    or user info, no default port. The scheme is ``https``; ``http`` only for localhost,
    127.0.0.1 and [::1]. The exact string is hashed into the token, so nothing is normalised:
    a different spelling would make a token no relying party can verify.
    """
    if not isinstance(origin, str) or not origin:
        raise OriginInvalid("the origin must be a non-empty string")
    if len(origin) > ORIGIN_MAX_LENGTH:
        raise OriginInvalid(f"the origin is longer than {ORIGIN_MAX_LENGTH} characters")
    if not origin.isascii() or not origin.isprintable() or " " in origin:
        raise OriginInvalid("the origin must be printable ASCII (IDN hosts in punycode)")
    scheme, separator, rest = origin.partition("://")
    if not separator or scheme not in _DEFAULT_PORTS:
        raise OriginInvalid("the origin must start with https:// (or http:// for localhost)")
    if any(c in rest for c in "/?#@\\"):
        raise OriginInvalid("an origin has no path, query, fragment or user info")
    if rest.startswith("["):
        host, bracket, port_part = rest.partition("]")
        if not bracket:
            raise OriginInvalid("an IPv6 host needs its closing bracket")
        host += bracket
    else:
        host, colon, port = rest.partition(":")
        port_part = colon + port
    if port_part:
        port = port_part[1:]
        if (
            not port_part.startswith(":")
            or not port.isdigit()
            or not port.isascii()
            or port.startswith("0")
            or int(port) > 65535
        ):
            raise OriginInvalid("the port must be a number from 1 to 65535")
        if port == _DEFAULT_PORTS[scheme]:
            raise OriginInvalid(f"leave out the default port {port}, as browsers do")
    if not host:
        raise OriginInvalid("the origin has no host")
    _check_host(host)
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise OriginInvalid("plain http:// is only allowed for localhost")
    return origin


def check_nonce(nonce: str) -> bytes:
    """The decoded challenge nonce; :class:`NonceMalformed` unless ``nonce`` is standard
    base64 (padded) of at least 32 bytes and at most :data:`NONCE_MAX_LENGTH` characters."""
    if not isinstance(nonce, str) or not nonce:
        raise NonceMalformed("the challenge nonce must be a non-empty string")
    if len(nonce) > NONCE_MAX_LENGTH:
        raise NonceMalformed(f"the challenge nonce is longer than {NONCE_MAX_LENGTH} characters")
    try:
        raw = base64.b64decode(nonce.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise NonceMalformed("the challenge nonce is not standard base64") from None
    if len(raw) < NONCE_MIN_BYTES:
        raise NonceMalformed(
            f"the challenge nonce has {len(raw)} bytes; at least {NONCE_MIN_BYTES} are needed"
        )
    return raw


def signed_value(origin: str, nonce: str, algorithm: TokenAlgorithm) -> bytes:
    """``hash(origin) || hash(nonce)`` (UTF-8 strings, the algorithm's hash): what the
    signature covers. Checks ``origin`` and ``nonce`` first."""
    check_origin(origin)
    check_nonce(nonce)
    return _digest(algorithm.hash, origin.encode()) + _digest(algorithm.hash, nonce.encode())


def digest_to_sign(origin: str, nonce: str, algorithm: TokenAlgorithm) -> bytes:
    """What the bridge passes to ``BelpicSession.sign(KeyRef.AUTHENTICATION, digest,
    card_hash(algorithm))``: the hash of :func:`signed_value`."""
    return _digest(algorithm.hash, signed_value(origin, nonce, algorithm))


# -- ECDSA encodings -------------------------------------------------------------------------


def ecdsa_der_to_raw(signature_der: bytes, size: int) -> bytes:
    """DER ``ECDSA-Sig-Value`` to ``r || s`` of ``size`` bytes each (ValueError if it is not
    DER or a value does not fit)."""
    r, s = utils.decode_dss_signature(signature_der)
    if not (0 < r < 1 << (8 * size) and 0 < s < 1 << (8 * size)):
        raise ValueError("ECDSA value out of range for the curve")
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_raw_to_der(signature_raw: bytes, size: int) -> bytes:
    """``r || s`` (``size`` bytes each) to DER ``ECDSA-Sig-Value``."""
    if len(signature_raw) != 2 * size:
        raise ValueError(f"a raw ECDSA signature on this curve has {2 * size} bytes")
    return utils.encode_dss_signature(
        int.from_bytes(signature_raw[:size], "big"), int.from_bytes(signature_raw[size:], "big")
    )


# -- signatures ----------------------------------------------------------------------------


def _key_fits(key: object, algorithm: TokenAlgorithm) -> bool:
    if algorithm.is_ecdsa:
        return (
            isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == _EC_CURVES[algorithm]
        )
    return isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS


def verify_signature(
    certificate_der: bytes, data: bytes, algorithm: TokenAlgorithm, signature: bytes
) -> bool:
    """Whether ``signature`` (token encoding: raw ``r || s`` for ECDSA) is ``algorithm``'s
    signature over ``data`` by the certificate's key. False for anything that does not
    verify: wrong key type or curve for the algorithm, wrong length, unreadable certificate."""
    try:
        key = _load_certificate(certificate_der).public_key()
    except TokenMalformed:
        return False
    if not _key_fits(key, algorithm):
        return False
    hash_ = _crypto_hash(algorithm.hash)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = _coordinate_size(key.curve)
            if len(signature) != 2 * size:
                return False
            key.verify(ecdsa_raw_to_der(signature, size), data, ec.ECDSA(hash_))
        elif isinstance(key, rsa.RSAPublicKey):
            if len(signature) != (key.key_size + 7) // 8:
                return False
            scheme: padding.AsymmetricPadding = (
                padding.PSS(mgf=padding.MGF1(hash_), salt_length=hash_.digest_size)
                if algorithm.is_pss
                else padding.PKCS1v15()
            )
            key.verify(signature, data, scheme, hash_)
        else:  # pragma: no cover - _key_fits admits only the two types
            return False
    except InvalidSignature:
        return False
    return True


def verify_digest_signature(
    certificate_der: bytes, digest: bytes, hash_algorithm: HashAlgorithm, signature: bytes
) -> bool:
    """Whether ``signature`` over the prehashed ``digest`` was made by the certificate's key,
    as the bridge's ``/v1/sign`` returns it: PKCS#1 v1.5 for RSA; ECDSA as DER (the bridge)
    or raw ``r || s`` (Web eID). False for anything that does not verify."""
    try:
        key = _load_certificate(certificate_der).public_key()
    except TokenMalformed:
        return False
    prehashed = utils.Prehashed(_crypto_hash(hash_algorithm))
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            size = _coordinate_size(key.curve)
            # Raw r || s: a DER value is longer, unless r and s both lost ~3 leading zero
            # bytes (odds about 2**-48; that signature would then fail, never pass wrongly).
            if len(signature) == 2 * size:
                signature = ecdsa_raw_to_der(signature, size)
            key.verify(signature, digest, ec.ECDSA(prehashed))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


# -- the token -----------------------------------------------------------------------------


def check_format(token_format: str) -> None:
    """:class:`TokenFormatUnsupported` unless ``web-eid:1`` or ``web-eid:1.<minor>``."""
    if not isinstance(token_format, str):
        raise TokenMalformed("'format' must be a string")
    match = _FORMAT.fullmatch(token_format)
    if match is None:
        raise TokenFormatUnsupported("unknown token format", token_format=token_format[:32])
    if int(match.group(1)) != SUPPORTED_MAJOR_VERSION:
        raise TokenFormatUnsupported(
            f"token format major version {int(match.group(1))} is not supported",
            token_format=token_format,
        )


def _check_app_version(app_version: str) -> None:
    if not isinstance(app_version, str) or not 0 < len(app_version) <= APP_VERSION_MAX_LENGTH:
        raise ValueError("appVersion must be a URL of at most 512 characters")
    parts = urlsplit(app_version)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError("appVersion must be an http(s) URL naming the application's version")


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(name: str, text: str) -> bytes:
    """Standard alphabet; missing padding tolerated (Java's ``Base64.getDecoder()`` does)."""
    try:
        data = text.encode("ascii")
        data += b"=" * (-len(data) % 4)
        return base64.b64decode(data, validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise TokenMalformed(f"'{name}' is not base64") from None


def _string_field(obj: Mapping[object, object], name: str, max_length: int) -> str:
    if name not in obj:
        raise TokenMalformed(f"'{name}' is missing")
    value = obj[name]
    if not isinstance(value, str):
        raise TokenMalformed(f"'{name}' must be a string, not {type(value).__name__}")
    if not value:
        raise TokenMalformed(f"'{name}' is empty")
    if len(value) > max_length:
        raise TokenMalformed(f"'{name}' is longer than {max_length} characters")
    return value


@dataclass(frozen=True)
class AuthToken:
    """A parsed token. ``certificate`` is DER; ``signature`` is in token encoding."""

    certificate: bytes = field(repr=False)
    algorithm: TokenAlgorithm
    signature: bytes = field(repr=False)
    app_version: str = ""
    format: str = TOKEN_FORMAT

    def to_json(self) -> dict[str, str]:
        """The JSON object, field names as in Web eID (``unverifiedCertificate``...)."""
        return {
            "unverifiedCertificate": _b64encode(self.certificate),
            "algorithm": self.algorithm.value,
            "signature": _b64encode(self.signature),
            "format": self.format,
            "appVersion": self.app_version,
        }

    @classmethod
    def from_json(cls, obj: object) -> AuthToken:
        """Parse a decoded JSON object strictly. Raises only :class:`TokenMalformed` and
        :class:`TokenFormatUnsupported`. Unknown fields are ignored (Web eID's
        ``{"action": ...}`` wrapper, future minor versions), as the Java validator does."""
        if not isinstance(obj, Mapping):
            raise TokenMalformed(f"a token is a JSON object, not {type(obj).__name__}")
        token_format = _string_field(obj, "format", 64)
        check_format(token_format)
        name = _string_field(obj, "algorithm", 16)
        try:
            algorithm = TokenAlgorithm(name)
        except ValueError:
            raise TokenMalformed(f"unknown signature algorithm {name[:16]!r}") from None
        certificate = _b64decode(
            "unverifiedCertificate", _string_field(obj, "unverifiedCertificate", TOKEN_MAX_LENGTH)
        )
        _load_certificate(certificate)
        signature = _b64decode("signature", _string_field(obj, "signature", SIGNATURE_MAX_LENGTH))
        app_version = obj.get("appVersion", "")
        if not isinstance(app_version, str) or len(app_version) > APP_VERSION_MAX_LENGTH:
            raise TokenMalformed("'appVersion' must be a string of at most 512 characters")
        return cls(
            certificate=certificate,
            algorithm=algorithm,
            signature=signature,
            app_version=app_version,
            format=token_format,
        )

    @classmethod
    def from_text(cls, text: str | bytes) -> AuthToken:
        """Parse JSON text (at most :data:`TOKEN_MAX_LENGTH` characters)."""
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise TokenMalformed("the token is not UTF-8 text") from None
        if not isinstance(text, str):
            raise TokenMalformed(f"a token is JSON text, not {type(text).__name__}")
        if len(text) > TOKEN_MAX_LENGTH:
            raise TokenMalformed(f"the token is longer than {TOKEN_MAX_LENGTH} characters")
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            raise TokenMalformed("the token is not JSON") from None
        return cls.from_json(obj)

    def verify(self, origin: str, nonce: str) -> bool:
        """Whether the signature binds this token to ``origin`` and ``nonce``."""
        data = signed_value(origin, nonce, self.algorithm)
        return verify_signature(self.certificate, data, self.algorithm, self.signature)

    def __repr__(self) -> str:
        return (
            f"AuthToken(algorithm={self.algorithm.value}, format={self.format!r}, "
            f"certificate=<{len(self.certificate)} bytes>, "
            f"signature=<{len(self.signature)} bytes>, app_version={self.app_version!r})"
        )


def build_token(
    certificate_der: bytes,
    algorithm: TokenAlgorithm,
    card_signature: bytes,
    app_version: str,
) -> AuthToken:
    """The token for a signature the card made over :func:`digest_to_sign`.

    ``card_signature`` is what ``BelpicSession.sign`` returns: PKCS#1 v1.5 bytes for RSA, a
    DER ``ECDSA-Sig-Value`` for EC (converted here to ``r || s`` of the curve's size).
    ``ValueError`` if the algorithm does not fit the certificate's key or ``app_version`` is
    not a URL; :class:`TokenMalformed` if the certificate or the signature is unreadable.
    """
    key = _load_certificate(certificate_der).public_key()
    if not _key_fits(key, algorithm):
        raise ValueError(f"{algorithm.value} does not fit the certificate's key")
    _check_app_version(app_version)
    if isinstance(key, ec.EllipticCurvePublicKey):
        try:
            signature = ecdsa_der_to_raw(card_signature, _coordinate_size(key.curve))
        except ValueError as exc:
            raise TokenMalformed(f"the card's ECDSA signature is unreadable: {exc}") from None
    else:
        signature = bytes(card_signature)
        if isinstance(key, rsa.RSAPublicKey) and len(signature) != (key.key_size + 7) // 8:
            raise TokenMalformed("the card's RSA signature does not have the key's length")
    return AuthToken(
        certificate=bytes(certificate_der),
        algorithm=algorithm,
        signature=signature,
        app_version=app_version,
    )


__all__ = [
    "LOOPBACK_HOSTS",
    "NONCE_MIN_BYTES",
    "TOKEN_FORMAT",
    "AuthToken",
    "TokenAlgorithm",
    "algorithm_for_certificate",
    "build_token",
    "card_hash",
    "check_format",
    "check_nonce",
    "check_origin",
    "digest_to_sign",
    "ecdsa_der_to_raw",
    "ecdsa_raw_to_der",
    "signed_value",
    "verify_signature",
]
