"""The relying party's validation, end to end: tokens signed by virtual cards, checked against
the test PKI's roots with its OCSP responder answering on 127.0.0.1."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.card.constants import KeyRef
from bridge.emulator.pki import TestPki
from bridge.messages import explain, message_for
from bridge.tokens.errors import (
    CertificateRejected,
    NonceExpired,
    NonceReplayed,
    NonceUnknown,
    OriginInvalid,
    TokenAlgorithmNotAllowed,
    TokenError,
    TokenFormatUnsupported,
    TokenMalformed,
    TokenSignatureInvalid,
)
from bridge.tokens.format import AuthToken, TokenAlgorithm
from bridge.tokens.nonces import MemoryNonceStore
from bridge.tokens.validator import (
    BELGIAN_EID_ALGORITHMS,
    TokenValidator,
    VerifiedIdentity,
    load_certificates,
)
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationCache, RevocationPolicy
from bridge.trust.validate import Status, Verdict
from tests.conftest import InProcessCard
from tests.tokens.conftest import ORIGIN, Served, make_token

SESSION = "session-of-the-user"
OpenCard = Callable[[str], InProcessCard]


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def validator_for(
    srv: Served,
    nonces: MemoryNonceStore,
    tmp_path: Path,
    *,
    origin: str = ORIGIN,
    store: TrustStore | None = None,
    **options: object,
) -> TokenValidator:
    return TokenValidator(
        store or srv.store,
        origin=origin,
        nonces=nonces,
        intermediates=srv.intermediates,
        revocation=RevocationPolicy(cache=RevocationCache(tmp_path / "revocation"), timeout=5.0),
        **options,  # type: ignore[arg-type]
    )


# -- valid tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "algorithm"),
    [("citizen-1.8", TokenAlgorithm.ES384), ("citizen-1.7", TokenAlgorithm.RS256)],
)
async def test_valid_token(
    srv: Served, served_card: OpenCard, tmp_path: Path, profile: str, algorithm: TokenAlgorithm
) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    card = served_card(profile)
    token = make_token(card.session, ORIGIN, nonce)

    identity = await validator.validate(token.to_json(), session_id=SESSION, nonce=nonce)

    person = card.built.person
    assert identity.given_name == person.first_names
    assert identity.surname == person.surname
    assert identity.national_number == person.national_number
    assert identity.national_number == card.session.read_identity().national_number
    assert identity.country == "BE"
    assert identity.algorithm is algorithm
    assert identity.certificate_der == card.built.credentials.auth_cert_der
    assert identity.verdict.status is Status.VALID
    assert identity.verdict.revocation_checked  # the OCSP responder really answered
    assert identity.verdict.test_pki
    assert srv.server.requests_to("ocsp")


async def test_text_token_and_nonce_taken_from_the_session(
    srv: Served, served_card: OpenCard, tmp_path: Path
) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.8").session, ORIGIN, nonce)
    identity = await validator.validate(json.dumps(token.to_json()), session_id=SESSION)
    assert identity.verdict.ok
    with pytest.raises(NonceUnknown):  # taken: used up
        await validator.validate(token, session_id=SESSION)


def test_repr_masks_the_national_number(srv: Served) -> None:
    card = srv.pki.issue_card(
        "ec", national_number="85073003328", first_names="Jan", surname="Peeters"
    )
    identity = VerifiedIdentity(
        given_name="Jan",
        surname="Peeters",
        national_number="85073003328",
        country="BE",
        certificate_der=card.auth_cert_der,
        algorithm=TokenAlgorithm.ES384,
        verdict=Verdict(Status.VALID, subject=card.auth_cert.subject.rfc4514_string()),
    )
    for text in (repr(identity), str(identity), f"{identity}", repr([identity])):
        assert "85073003328" not in text
        assert "***********" in text
        assert "Peeters" in text
    assert "85073003328" not in repr(AuthToken(card.auth_cert_der, TokenAlgorithm.ES384, b""))


# -- binding to the origin and the challenge ---------------------------------------------------


async def test_token_for_another_origin_is_rejected(
    srv: Served, served_card: OpenCard, tmp_path: Path
) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.8").session, "https://phishing.example.be", nonce)
    with pytest.raises(TokenSignatureInvalid):
        await validator.validate(token, session_id=SESSION, nonce=nonce)
    assert srv.server.requests == []  # refused before any network request


async def test_replayed_nonce(srv: Served, served_card: OpenCard, tmp_path: Path) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.7").session, ORIGIN, nonce)
    await validator.validate(token, session_id=SESSION, nonce=nonce)
    with pytest.raises(NonceReplayed):
        await validator.validate(token, session_id=SESSION, nonce=nonce)


async def test_expired_nonce(srv: Served, served_card: OpenCard, tmp_path: Path) -> None:
    clock = Clock()
    nonces = MemoryNonceStore(ttl=300, clock=clock)
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.8").session, ORIGIN, nonce)
    clock.now += 301
    with pytest.raises(NonceExpired):
        await validator.validate(token, session_id=SESSION, nonce=nonce)
    assert srv.server.requests == []
    with pytest.raises(NonceReplayed):  # the expired nonce is gone too
        await validator.validate(token, session_id=SESSION, nonce=nonce)


async def test_nonce_from_another_session(
    srv: Served, served_card: OpenCard, tmp_path: Path
) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    victims_nonce = nonces.issue("session-of-the-victim")
    nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.8").session, ORIGIN, victims_nonce)
    with pytest.raises(NonceUnknown):
        await validator.validate(token, session_id=SESSION, nonce=victims_nonce)
    with pytest.raises(TokenSignatureInvalid):  # this session's own nonce was not signed
        await validator.validate(token, session_id=SESSION)
    with pytest.raises(NonceUnknown):
        # The failed attempt above still used up the session's nonce: none is left.
        await validator.validate(token, session_id=SESSION)


async def test_nonce_is_used_up_even_when_the_token_fails(
    srv: Served, served_card: OpenCard, tmp_path: Path
) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.8").session, ORIGIN, nonce)
    forged = dataclasses.replace(token, signature=bytes(96))
    with pytest.raises(TokenSignatureInvalid):
        await validator.validate(forged, session_id=SESSION, nonce=nonce)
    with pytest.raises(NonceReplayed):  # no second try with the genuine token
        await validator.validate(token, session_id=SESSION, nonce=nonce)


# -- tampering -------------------------------------------------------------------------------


def _flip(b64: str, index: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


Document = dict[str, str]


async def test_tampered_fields(srv: Served, served_card: OpenCard, tmp_path: Path) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    card = served_card("citizen-1.8")
    # Same CA, valid certificate, another key:
    other = make_token(served_card("citizen-1.8").session, ORIGIN, nonces.issue("x")).to_json()

    def cert_bit(d: Document) -> Document:
        # A bit inside the signed part of the certificate: its CA signature no longer matches
        # (and the key may no longer parse): never a valid identity.
        middle = len(base64.b64decode(d["unverifiedCertificate"])) // 2
        return {**d, "unverifiedCertificate": _flip(d["unverifiedCertificate"], middle)}

    tampered: list[tuple[Callable[[Document], Document], type[TokenError]]] = [
        (lambda d: {**d, "signature": _flip(d["signature"], 0)}, TokenSignatureInvalid),
        (lambda d: {**d, "signature": _flip(d["signature"], 95)}, TokenSignatureInvalid),
        (lambda d: {**d, "signature": d["signature"][:-8]}, TokenSignatureInvalid),
        (lambda d: {**d, "algorithm": "ES256"}, TokenSignatureInvalid),
        (lambda d: {**d, "algorithm": "ES512"}, TokenSignatureInvalid),
        (lambda d: {**d, "algorithm": "RS256"}, TokenSignatureInvalid),
        (lambda d: {**d, "unverifiedCertificate": other["unverifiedCertificate"]},
         TokenSignatureInvalid),
        (lambda d: {**d, "signature": other["signature"]}, TokenSignatureInvalid),
        (cert_bit, TokenError),
        (lambda d: {**d, "format": "web-eid:2.0"}, TokenFormatUnsupported),
    ]  # fmt: skip
    for tamper, error in tampered:
        nonce = nonces.issue(SESSION)
        genuine = make_token(card.session, ORIGIN, nonce).to_json()
        with pytest.raises(error) as caught:
            await validator.validate(tamper(genuine), session_id=SESSION, nonce=nonce)
        assert not (isinstance(caught.value, CertificateRejected) and caught.value.verdict.ok)
    assert srv.server.requests == []  # every forgery stopped before the network


async def test_signature_certificate_is_not_an_authentication_certificate(
    srv: Served, served_card: OpenCard, tmp_path: Path
) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    token = make_token(
        served_card("citizen-1.8").session, ORIGIN, nonce, key=KeyRef.NON_REPUDIATION
    )
    with pytest.raises(CertificateRejected) as caught:
        await validator.validate(token, session_id=SESSION, nonce=nonce)
    assert caught.value.verdict.status is Status.WRONG_USAGE


async def test_algorithm_policy(srv: Served, served_card: OpenCard, tmp_path: Path) -> None:
    nonces = MemoryNonceStore()
    only_rsa = validator_for(srv, nonces, tmp_path, allowed_algorithms={TokenAlgorithm.RS256})
    nonce = nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.8").session, ORIGIN, nonce)
    with pytest.raises(TokenAlgorithmNotAllowed) as caught:
        await only_rsa.validate(token, session_id=SESSION, nonce=nonce)
    assert "ES384" in explain(caught.value, "nl")
    belgian = validator_for(srv, nonces, tmp_path, allowed_algorithms=BELGIAN_EID_ALGORITHMS)
    await belgian.validate(token, session_id=SESSION, nonce=nonce)  # not consumed above


# -- the certificate ---------------------------------------------------------------------------


async def test_revoked_certificate(srv: Served, served_card: OpenCard, tmp_path: Path) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    card = served_card("revoked-1.8")
    token = make_token(card.session, ORIGIN, nonce)
    with pytest.raises(CertificateRejected) as caught:
        await validator.validate(token, session_id=SESSION, nonce=nonce)
    verdict = caught.value.verdict
    assert verdict.status is Status.REVOKED
    assert verdict.revocation_reason == "key_compromise"
    assert srv.server.requests_to("ocsp")
    assert message_for(caught.value).code == "TOKEN_CERTIFICATE_REJECTED"
    assert "révoqué" in explain(caught.value, "fr")
    assert "ingetrokken" in explain(caught.value, "nl")
    assert card.built.person.national_number not in str(caught.value)


async def test_certificate_from_an_untrusted_root(
    srv: Served, local_card: OpenCard, test_pki: TestPki, tmp_path: Path
) -> None:
    """``local_card`` builds its card from another ``TestPki.generate()`` than the served one:
    well formed, correctly signed, but not under the relying party's roots."""
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    token = make_token(local_card("citizen-1.8").session, ORIGIN, nonce)
    assert token.verify(ORIGIN, nonce)
    with pytest.raises(CertificateRejected) as caught:
        await validator.validate(token, session_id=SESSION, nonce=nonce)
    assert caught.value.verdict.status is Status.UNKNOWN_ISSUER
    assert srv.server.requests == []  # nothing fetched for a stranger's certificate

    # ... even when the stranger's own CA certificates are offered as intermediates.
    naive = TokenValidator(
        srv.store, origin=ORIGIN, nonces=nonces, intermediates=test_pki.issuing_ca_ders()
    )
    nonce = nonces.issue(SESSION)
    token = make_token(local_card("citizen-1.7").session, ORIGIN, nonce)
    with pytest.raises(CertificateRejected) as caught:
        await naive.validate(token, session_id=SESSION, nonce=nonce)
    assert caught.value.verdict.status is Status.UNKNOWN_ISSUER


async def test_without_intermediates_the_chain_cannot_be_built(
    srv: Served, served_card: OpenCard, tmp_path: Path
) -> None:
    nonces = MemoryNonceStore()
    validator = TokenValidator(srv.store, origin=ORIGIN, nonces=nonces)
    nonce = nonces.issue(SESSION)
    token = make_token(served_card("citizen-1.8").session, ORIGIN, nonce)
    with pytest.raises(CertificateRejected) as caught:
        await validator.validate(token, session_id=SESSION, nonce=nonce)
    assert caught.value.verdict.status is Status.UNKNOWN_ISSUER


# -- configuration -----------------------------------------------------------------------------


def test_configuration_is_checked(srv: Served, tmp_path: Path) -> None:
    nonces = MemoryNonceStore()
    with pytest.raises(OriginInvalid):
        TokenValidator(srv.store, origin="https://portal.example.be/", nonces=nonces)
    with pytest.raises(OriginInvalid):
        TokenValidator(srv.store, origin="http://portal.example.be", nonces=nonces)
    with pytest.raises(ValueError, match="certificate"):
        TokenValidator(srv.store, origin=ORIGIN, nonces=nonces, intermediates=[b"junk"])
    with pytest.raises(ValueError, match="algorithm"):
        TokenValidator(srv.store, origin=ORIGIN, nonces=nonces, allowed_algorithms=())


def test_load_certificates_reads_the_shared_trust_files(srv: Served, tmp_path: Path) -> None:
    shared = Path(__file__).parents[1] / "trust" / "data"
    cas = load_certificates(sorted(shared.glob("*ca-*.pem")))
    assert len(cas) == 2  # Citizen CA 202002 and Foreigner CA 202001
    der = tmp_path / "ca.der"
    der.write_bytes(srv.intermediates[0])
    bundle = tmp_path / "bundle.pem"
    names = ("citizenca-202002.pem", "belgiumrca6.pem")
    bundle.write_bytes(b"".join((shared / name).read_bytes() for name in names))
    assert load_certificates([der]) == (srv.intermediates[0],)
    assert len(load_certificates([bundle])) == 2


async def test_malformed_inputs_are_token_errors(srv: Served, tmp_path: Path) -> None:
    nonces = MemoryNonceStore()
    validator = validator_for(srv, nonces, tmp_path)
    nonce = nonces.issue(SESSION)
    for bad in ("", "{}", "[1]", b"\x00", {"format": "web-eid:1.0"}, 42):
        with pytest.raises(TokenMalformed):
            await validator.validate(bad, session_id=SESSION, nonce=nonce)  # type: ignore[arg-type]
    odd = AuthToken(b"x", TokenAlgorithm.ES384, b"", format="web-eid:9")
    with pytest.raises(TokenFormatUnsupported):
        await validator.validate(odd, session_id=SESSION, nonce=nonce)
    nonces.consume(SESSION, nonce)  # malformed tokens did not use the nonce up
