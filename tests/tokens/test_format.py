"""The token format: origins, nonces, the signed value, ECDSA encodings, strict parsing, and
tokens made by virtual cards (applet 1.7 RSA, applet 1.8 EC)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.card.constants import HashAlgorithm, KeyRef
from bridge.emulator.pki import TestPki
from bridge.tokens.errors import (
    NonceMalformed,
    OriginInvalid,
    TokenError,
    TokenFormatUnsupported,
    TokenMalformed,
)
from bridge.tokens.format import (
    TOKEN_FORMAT,
    AuthToken,
    TokenAlgorithm,
    algorithm_for_certificate,
    build_token,
    card_hash,
    check_format,
    check_nonce,
    check_origin,
    digest_to_sign,
    ecdsa_der_to_raw,
    ecdsa_raw_to_der,
    signed_value,
    verify_signature,
)
from bridge.tokens.nonces import new_nonce
from tests.conftest import InProcessCard
from tests.tokens.conftest import APP_VERSION, ORIGIN, PIN, make_token

NONCE = base64.b64encode(bytes(range(32))).decode()


# -- origins ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://portal.example.be",
        "https://portal.example.be:8443",
        "https://xn--bcher-kva.example",
        "https://127.0.0.1",
        "https://[2001:db8::1]:4443",
        "http://localhost",
        "http://localhost:8080",
        "http://127.0.0.1:35980",
        "http://[::1]:3000",
    ],
)
def test_origins_accepted(origin: str) -> None:
    assert check_origin(origin) == origin


@pytest.mark.parametrize(
    "origin",
    [
        "",
        "portal.example.be",
        "https://portal.example.be/",  # Web eID: "must not end with a slash"
        "https://portal.example.be/login",
        "https://portal.example.be?x=1",
        "https://portal.example.be#top",
        "https://user@portal.example.be",
        "https://Portal.Example.be",  # browsers serialise lowercase
        "https://portal.example.be:443",  # default port left out by browsers
        "http://localhost:80",
        "https://portal.example.be:0",
        "https://portal.example.be:65536",
        "https://portal.example.be:08443",
        "https://portal.example.be:",
        "https://portal..example.be",
        "https://-portal.example.be",
        "https://portal.example.be.",
        "https://bücher.example",  # IDN hosts travel as punycode
        "https://portal example.be",
        "https://portal.example.be\n",
        "http://portal.example.be",  # plain http only for loopback
        "http://127.0.0.2",
        "http://localhost.example.be",
        "http://[::2]",
        "https://[::1",
        "https://[0:0:0:0:0:0:0:1]",  # not the browser's compressed form
        "https://[::1]x",
        "https://010.0.0.1",
        "https://1.2.3",
        "wss://portal.example.be",
        "ftp://portal.example.be",
        "https://" + "a" * 250 + ".be",
        "null",  # what an opaque origin serialises to
    ],
)
def test_origins_refused(origin: str) -> None:
    with pytest.raises(OriginInvalid):
        check_origin(origin)


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        ("https://portal.example.be/", "path"),
        ("https://portal.example.be/login", "path"),
        ("https://[::1]/", "path"),
        ("https://portal.example.be:8443/", "path"),
        ("https://user@portal.example.be", "user info"),
        ("http://portal.example.be", "localhost"),
        ("https://portal.example.be:443", "default port"),
    ],
)
def test_origin_refusals_say_why(origin: str, reason: str) -> None:
    with pytest.raises(OriginInvalid, match=reason):
        check_origin(origin)


def test_origin_of_wrong_type_is_refused() -> None:
    with pytest.raises(OriginInvalid):
        check_origin(None)  # type: ignore[arg-type]


# -- nonces ----------------------------------------------------------------------------------


def test_nonce_checks() -> None:
    assert check_nonce(NONCE) == bytes(range(32))
    issued = new_nonce()
    assert len(issued) == 44  # web-eid-app's minimum: base64 of 32 bytes
    assert len(check_nonce(issued)) == 32
    assert len(check_nonce(base64.b64encode(b"x" * 700).decode())) == 700  # 936 characters


@pytest.mark.parametrize(
    "nonce",
    [
        "",
        base64.b64encode(bytes(31)).decode(),  # 248 bits: too little entropy
        base64.b64encode(bytes(32)).decode().rstrip("="),  # unpadded
        base64.urlsafe_b64encode(b"\xfb" * 33).decode(),  # URL-safe alphabet
        "not base64 at all, not at all, not base64 at all!",
        "A" * 43 + "é",
        base64.b64encode(bytes(32)).decode() + "\n",
        base64.b64encode(bytes(800)).decode(),  # more than 1 KiB of text
    ],
)
def test_nonces_refused(nonce: str) -> None:
    with pytest.raises(NonceMalformed):
        check_nonce(nonce)


# -- the signed value --------------------------------------------------------------------------


def test_signed_value_is_hash_of_origin_then_hash_of_nonce() -> None:
    # Web eID token format: hash(origin) + hash(challenge), the algorithm's hash function.
    es = signed_value(ORIGIN, NONCE, TokenAlgorithm.ES384)
    assert es == hashlib.sha384(ORIGIN.encode()).digest() + hashlib.sha384(NONCE.encode()).digest()
    rs = signed_value(ORIGIN, NONCE, TokenAlgorithm.RS256)
    assert rs == hashlib.sha256(ORIGIN.encode()).digest() + hashlib.sha256(NONCE.encode()).digest()
    # The card gets one more hash: H(H(origin) || H(nonce)), as web-eid-app computes it.
    assert digest_to_sign(ORIGIN, NONCE, TokenAlgorithm.ES384) == hashlib.sha384(es).digest()
    assert digest_to_sign(ORIGIN, NONCE, TokenAlgorithm.RS256) == hashlib.sha256(rs).digest()
    # Hashing each field first separates them: moving text across the boundary changes it.
    assert signed_value("https://example.be", NONCE, TokenAlgorithm.RS256) != signed_value(
        "https://example.be.example", NONCE, TokenAlgorithm.RS256
    )
    with pytest.raises(OriginInvalid):
        digest_to_sign("https://portal.example.be/", NONCE, TokenAlgorithm.ES384)
    with pytest.raises(NonceMalformed):
        digest_to_sign(ORIGIN, "c2hvcnQ=", TokenAlgorithm.ES384)


def test_algorithm_hashes() -> None:
    assert card_hash(TokenAlgorithm.ES384) is HashAlgorithm.SHA384
    assert card_hash(TokenAlgorithm.RS256) is HashAlgorithm.SHA256
    assert TokenAlgorithm.RS512.hash is HashAlgorithm.SHA512
    with pytest.raises(ValueError, match="PS256"):
        card_hash(TokenAlgorithm.PS256)


# -- ECDSA encodings ---------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    r=st.integers(min_value=1, max_value=(1 << 384) - 1),
    s=st.integers(min_value=1, max_value=(1 << 384) - 1),
)
def test_ecdsa_encoding_round_trip(r: int, s: int) -> None:
    der = utils.encode_dss_signature(r, s)
    raw = ecdsa_der_to_raw(der, 48)
    assert len(raw) == 96
    assert raw == r.to_bytes(48, "big") + s.to_bytes(48, "big")
    assert ecdsa_raw_to_der(raw, 48) == der


def test_ecdsa_encoding_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="range"):
        ecdsa_der_to_raw(utils.encode_dss_signature(1 << 384, 1), 48)
    with pytest.raises(ValueError, match="range"):
        ecdsa_der_to_raw(utils.encode_dss_signature(0, 1), 48)
    with pytest.raises(ValueError, match=r"(?i)asn1|der|parse"):
        ecdsa_der_to_raw(b"\x30\x03\x02\x01", 48)  # truncated DER
    with pytest.raises(ValueError, match=r"(?i)asn1|der|parse|trailing"):
        ecdsa_der_to_raw(utils.encode_dss_signature(1, 2) + b"\x00", 48)  # trailing bytes
    with pytest.raises(ValueError, match="96"):
        ecdsa_raw_to_der(bytes(95), 48)


# -- tokens from virtual cards -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "algorithm", "signature_length"),
    [("citizen-1.8", TokenAlgorithm.ES384, 96), ("citizen-1.7", TokenAlgorithm.RS256, 256)],
)
def test_card_token_round_trip(
    local_card: Callable[[str], InProcessCard],
    profile: str,
    algorithm: TokenAlgorithm,
    signature_length: int,
) -> None:
    card = local_card(profile)
    token = make_token(card.session, ORIGIN, NONCE)
    assert token.algorithm is algorithm
    assert len(token.signature) == signature_length  # raw r||s of P-384, or RSA-2048
    assert token.certificate == card.built.credentials.auth_cert_der
    assert token.verify(ORIGIN, NONCE)
    assert not token.verify("https://other.example.be", NONCE)
    assert not token.verify(ORIGIN, new_nonce())

    document = token.to_json()
    assert document == {
        "unverifiedCertificate": base64.b64encode(token.certificate).decode(),
        "algorithm": algorithm.value,
        "signature": base64.b64encode(token.signature).decode(),
        "format": "web-eid:1.0",
        "appVersion": APP_VERSION,
    }
    assert AuthToken.from_json(document) == token
    assert AuthToken.from_text(json.dumps(document)) == token
    assert AuthToken.from_text(json.dumps(document).encode()) == token


def test_ec_card_signature_checked_with_the_card_key_directly(
    local_card: Callable[[str], InProcessCard],
) -> None:
    """The token's r||s, turned back into DER, verifies with the card's own public key over
    H(origin)||H(nonce): the conversion neither lost nor reordered anything."""
    card = local_card("citizen-1.8")
    token = make_token(card.session, ORIGIN, NONCE)
    key = card.built.credentials.auth_key.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    r = int.from_bytes(token.signature[:48], "big")
    s = int.from_bytes(token.signature[48:], "big")
    key.verify(
        utils.encode_dss_signature(r, s),
        signed_value(ORIGIN, NONCE, TokenAlgorithm.ES384),
        ec.ECDSA(hashes.SHA384()),
    )


def test_signature_from_the_wrong_key_does_not_verify(
    local_card: Callable[[str], InProcessCard],
) -> None:
    card = local_card("citizen-1.8")
    token = make_token(card.session, ORIGIN, NONCE, key=KeyRef.NON_REPUDIATION)
    auth_cert = card.built.credentials.auth_cert_der
    data = signed_value(ORIGIN, NONCE, TokenAlgorithm.ES384)
    assert verify_signature(token.certificate, data, TokenAlgorithm.ES384, token.signature)
    assert not verify_signature(auth_cert, data, TokenAlgorithm.ES384, token.signature)


def test_verify_signature_refuses_mismatched_algorithms(
    local_card: Callable[[str], InProcessCard],
) -> None:
    ec_token = make_token(local_card("citizen-1.8").session, ORIGIN, NONCE)
    rsa_token = make_token(local_card("citizen-1.7").session, ORIGIN, NONCE)
    cases = [
        (ec_token, TokenAlgorithm.ES256),  # JWA ties ES256 to P-256
        (ec_token, TokenAlgorithm.ES512),
        (ec_token, TokenAlgorithm.RS384),
        (rsa_token, TokenAlgorithm.PS256),  # same key, PSS instead of PKCS#1 v1.5
        (rsa_token, TokenAlgorithm.RS384),
        (rsa_token, TokenAlgorithm.ES384),
    ]
    for token, algorithm in cases:
        data = signed_value(ORIGIN, NONCE, algorithm)
        assert not verify_signature(token.certificate, data, algorithm, token.signature)
    data = signed_value(ORIGIN, NONCE, TokenAlgorithm.ES384)
    assert not verify_signature(b"not a certificate", data, TokenAlgorithm.ES384, bytes(96))
    assert not verify_signature(
        ec_token.certificate, data, TokenAlgorithm.ES384, ec_token.signature[:-1]
    )
    assert not verify_signature(
        ec_token.certificate, data, TokenAlgorithm.ES384, ec_token.signature + b"\x00"
    )


def test_ecdsa_algorithm_is_bound_to_its_curve(local_card: Callable[[str], InProcessCard]) -> None:
    """JWA ties ES256 to P-256: a P-384 key's SHA-256 ECDSA signature (same 96-byte length
    as ES384) is not an ES256 signature, even though the maths would verify."""
    card = local_card("citizen-1.8")
    key = card.built.credentials.auth_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    data = signed_value(ORIGIN, NONCE, TokenAlgorithm.ES256)
    raw = ecdsa_der_to_raw(key.sign(data, ec.ECDSA(hashes.SHA256())), 48)
    cert = card.built.credentials.auth_cert_der
    assert not verify_signature(cert, data, TokenAlgorithm.ES256, raw)
    data = signed_value(ORIGIN, NONCE, TokenAlgorithm.ES384)
    raw = ecdsa_der_to_raw(key.sign(data, ec.ECDSA(hashes.SHA384())), 48)
    assert verify_signature(cert, data, TokenAlgorithm.ES384, raw)


def test_pss_tokens_verify(test_pki: TestPki) -> None:
    """The card makes RS256, but a relying party may meet PS256 tokens (Finnish cards):
    RFC 7518 section 3.5, MGF1 with the same hash, salt as long as the hash."""
    card = test_pki.issue_card("rsa", national_number="85073003328", first_names="A", surname="B")
    key = card.auth_key
    assert isinstance(key, rsa.RSAPrivateKey)
    data = signed_value(ORIGIN, NONCE, TokenAlgorithm.PS256)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = key.sign(data, pss, hashes.SHA256())
    assert verify_signature(card.auth_cert_der, data, TokenAlgorithm.PS256, signature)
    other_salt = key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 20), hashes.SHA256())
    assert not verify_signature(card.auth_cert_der, data, TokenAlgorithm.PS256, other_salt)


def test_build_token_checks_its_inputs(local_card: Callable[[str], InProcessCard]) -> None:
    card = local_card("citizen-1.8")
    cert = card.session.read_certificates().authentication
    assert cert is not None
    assert algorithm_for_certificate(cert) is TokenAlgorithm.ES384
    digest = digest_to_sign(ORIGIN, NONCE, TokenAlgorithm.ES384)
    der = card.session.sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA384, pin=PIN)
    with pytest.raises(ValueError, match="RS256"):
        build_token(cert, TokenAlgorithm.RS256, der, APP_VERSION)
    with pytest.raises(ValueError, match="appVersion"):
        build_token(cert, TokenAlgorithm.ES384, der, "0.1.0")
    with pytest.raises(TokenMalformed, match="ECDSA"):
        build_token(cert, TokenAlgorithm.ES384, der[:-2], APP_VERSION)
    with pytest.raises(TokenMalformed, match="certificate"):
        build_token(cert[:-10], TokenAlgorithm.ES384, der, APP_VERSION)
    with pytest.raises(TokenMalformed, match="key"):
        algorithm_for_certificate(
            _self_signed(ec.generate_private_key(ec.SECP224R1()))  # no JWA algorithm
        )
    rsa_card = local_card("citizen-1.7")
    rsa_cert = rsa_card.built.credentials.auth_cert_der
    with pytest.raises(TokenMalformed, match="length"):
        build_token(rsa_cert, TokenAlgorithm.RS256, bytes(255), APP_VERSION)


def _self_signed(key: ec.EllipticCurvePrivateKey) -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


# -- strict parsing --------------------------------------------------------------------------


@pytest.fixture
def valid_document(local_card: Callable[[str], InProcessCard]) -> dict[str, str]:
    return make_token(local_card("citizen-1.8").session, ORIGIN, NONCE).to_json()


def test_format_versions() -> None:
    for accepted in ("web-eid:1", "web-eid:1.0", "web-eid:1.1", "web-eid:1.42"):
        check_format(accepted)  # minor versions are backwards compatible
    for refused in ("web-eid:2", "web-eid:2.0", "web-eid:0.9", "web-eid:10", "web-eid:1.",
                    "web-eid:1.0.1", "web-eid", "webeid:1.0", "WEB-EID:1.0", " web-eid:1.0",
                    "web-eid:١"):  # fmt: skip
        with pytest.raises(TokenFormatUnsupported):
            check_format(refused)
    assert TOKEN_FORMAT == "web-eid:1.0"


def test_unknown_fields_are_ignored_and_app_version_is_optional(
    valid_document: dict[str, str],
) -> None:
    # Tokens from the extension carry "action"; older web-eid-app versions wrote "issuerApp".
    extended: dict[str, Any] = {
        **valid_document,
        "action": "web-eid:authenticate-success",
        "issuerApp": "x",
    }
    assert AuthToken.from_json(extended).to_json() == valid_document
    del extended["appVersion"]
    assert AuthToken.from_json(extended).app_version == ""
    unpadded = {**valid_document, "signature": valid_document["signature"].rstrip("=")}
    assert AuthToken.from_json(unpadded) == AuthToken.from_json(valid_document)


def _mutations(document: dict[str, str]) -> list[tuple[str, object, type[TokenError]]]:
    cert = document["unverifiedCertificate"]
    return [
        ("format", "web-eid:2.0", TokenFormatUnsupported),
        ("format", "jwt", TokenFormatUnsupported),
        ("format", "", TokenMalformed),
        ("format", 1.0, TokenMalformed),
        ("format", None, TokenMalformed),
        ("algorithm", "ES385", TokenMalformed),
        ("algorithm", "es384", TokenMalformed),
        ("algorithm", "none", TokenMalformed),
        ("algorithm", ["ES384"], TokenMalformed),
        ("signature", "!!!!", TokenMalformed),
        ("signature", "AAAAA", TokenMalformed),  # 5 characters: not base64 at any padding
        ("signature", base64.urlsafe_b64encode(b"\xfb\xff" * 48).decode(), TokenMalformed),
        ("signature", "A" * 5000, TokenMalformed),
        ("signature", 12, TokenMalformed),
        ("unverifiedCertificate", base64.b64encode(b"not DER").decode(), TokenMalformed),
        ("unverifiedCertificate", cert[: len(cert) // 2], TokenMalformed),
        ("unverifiedCertificate", {"der": cert}, TokenMalformed),
        ("unverifiedCertificate", "é" + cert, TokenMalformed),
        ("appVersion", 2, TokenMalformed),
        ("appVersion", "https://x/" + "v" * 600, TokenMalformed),
    ]


def test_every_malformed_field_is_a_typed_error(valid_document: dict[str, str]) -> None:
    for name, value, error in _mutations(valid_document):
        with pytest.raises(error):
            AuthToken.from_json({**valid_document, name: value})
    for name in ("unverifiedCertificate", "algorithm", "signature", "format"):
        missing = {k: v for k, v in valid_document.items() if k != name}
        with pytest.raises(TokenMalformed, match=name):
            AuthToken.from_json(missing)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "null",
        "[]",
        '"token"',
        "42",
        "{}",
        '{"format": "web-eid:1.0"}',
        "[" * 5000 + "]" * 5000,  # deep nesting
        "1" * 5000,  # beyond int() digit limits
        '{"a": NaN}',
        " " * 10_001,  # too long
        b"\xff\xfe{}",  # not UTF-8
    ],
)
def test_malformed_text(text: str | bytes) -> None:
    with pytest.raises(TokenMalformed):
        AuthToken.from_text(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=60),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=25), children, max_size=5)
    ),
    max_leaves=20,
)
_FIELD_NAMES = st.sampled_from(
    ["unverifiedCertificate", "algorithm", "signature", "format", "appVersion", "action"]
)


@given(obj=_json)
def test_from_json_raises_only_token_errors(obj: object) -> None:
    with pytest.raises(TokenError):
        AuthToken.from_json(obj)


@given(text=st.text(max_size=300) | st.binary(max_size=300))
def test_from_text_raises_only_token_errors(text: str | bytes) -> None:
    with contextlib.suppress(TokenError):
        AuthToken.from_text(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(_FIELD_NAMES, _json | st.text(alphabet="ABCab+/=0", max_size=80)))
def test_mutated_tokens_parse_or_raise_token_errors(
    valid_document: dict[str, str], changes: dict[str, object]
) -> None:
    document: dict[str, object] = {**valid_document, **changes}
    try:
        token = AuthToken.from_json(document)
    except TokenError:
        return
    # Whatever parses has a well-typed value in every field, and survives a round trip.
    assert isinstance(token.algorithm, TokenAlgorithm)
    assert AuthToken.from_json(token.to_json()) == token
