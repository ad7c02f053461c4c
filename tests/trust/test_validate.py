"""Certificate validation against the test PKI and its OCSP/CRL server on 127.0.0.1.

Every verdict is cross-checked with OpenSSL on the same files (``openssl verify`` for chain
and time, ``openssl ocsp`` for status), so our verdicts agree with an independent verifier.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from bridge.card.session import CardCertificates
from bridge.config import Settings
from bridge.emulator import pki as emulator_pki
from bridge.emulator.ocsp_server import OcspCrlServer
from bridge.emulator.pki import HIERARCHY_KINDS, CardCredentials, HierarchyKind, TestPki
from bridge.trust.anchors import (
    TEST_ORGANIZATION,
    TestRootRefused,
    TrustStore,
    is_test_certificate,
    production_roots,
)
from bridge.trust.revocation import RevocationCache, RevocationPolicy, crl_urls, ocsp_urls
from bridge.trust.validate import (
    MESSAGES,
    Purpose,
    Status,
    Verdict,
    validate,
    validate_card,
)
from tests.services import revocation_service

# Copies of ../shared/trust (public certificates), so the tests run from any checkout.
SHARED = Path(__file__).parent / "data"
NOW = dt.datetime.now(dt.UTC)


@dataclass
class Served:
    server: OcspCrlServer
    pki: TestPki
    store: TrustStore
    cards: dict[HierarchyKind, CardCredentials]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with revocation_service() as (server, pki, cards):
        yield Served(server, pki, TrustStore.for_test_pki(pki), cards)


@pytest.fixture
def srv(served: Served) -> Iterator[Served]:
    served.server.reset()
    yield served
    served.server.reset()
    served.pki.clear_revocations()


@pytest.fixture
def policy(tmp_path: Path) -> RevocationPolicy:
    return RevocationPolicy(cache=RevocationCache(tmp_path / "revocation"), timeout=5.0)


# -- helpers -----------------------------------------------------------------------------------


def _pem(directory: Path, name: str, cert: x509.Certificate) -> Path:
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def openssl_verify(
    tmp: Path,
    leaf: x509.Certificate,
    ca: x509.Certificate,
    root: x509.Certificate,
    *,
    at: dt.datetime | None = None,
    crl: bytes | None = None,
) -> tuple[int, str]:
    args = [
        "openssl", "verify",
        "-CAfile", str(_pem(tmp, "ossl-root", root)),
        "-untrusted", str(_pem(tmp, "ossl-ca", ca)),
        "-attime", str(int((at or dt.datetime.now(dt.UTC)).timestamp())),
    ]  # fmt: skip
    if crl is not None:
        crl_path = tmp / "ossl.crl"
        crl_path.write_bytes(x509.load_der_x509_crl(crl).public_bytes(serialization.Encoding.PEM))
        args += ["-crl_check", "-CRLfile", str(crl_path)]
    args.append(str(_pem(tmp, "ossl-leaf", leaf)))
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    return result.returncode, result.stdout + result.stderr


def openssl_ocsp(tmp: Path, leaf: x509.Certificate, card: CardCredentials) -> str:
    """``good``/``revoked``/``unknown``, or ``error`` when no answer could be had."""
    leaf_path = _pem(tmp, "ocsp-leaf", leaf)
    result = subprocess.run(
        [
            "openssl", "ocsp",
            "-issuer", str(_pem(tmp, "ocsp-ca", card.ca_cert)),
            "-cert", str(leaf_path),
            "-url", ocsp_urls(leaf)[0],
            "-CAfile", str(_pem(tmp, "ocsp-root", card.root_cert)),
            "-timeout", "5",
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    out = result.stdout + result.stderr
    for status in ("good", "revoked", "unknown"):
        if f"{leaf_path}: {status}" in out and "Response verify OK" in out:
            return status
    return "error"


def check(
    s: Served,
    card: CardCredentials,
    purpose: Purpose,
    policy: RevocationPolicy,
    *,
    cert: x509.Certificate | None = None,
    at: dt.datetime | None = None,
    store: TrustStore | None = None,
) -> Verdict:
    if cert is None:
        cert = card.auth_cert if purpose is Purpose.AUTHENTICATION else card.signature_cert
    return validate(
        _der(cert),
        intermediates=[card.ca_cert_der],
        purpose=purpose,
        at=at,
        store=store or s.store,
        revocation=policy,
    )


# -- trust anchors -------------------------------------------------------------------------


def test_production_roots_load() -> None:
    roots = production_roots()
    names = [r.subject.rfc4514_string() for r in roots]
    assert len(roots) == 5
    assert all("Belgium Root CA" in n for n in names)
    assert all(r.subject == r.issuer for r in roots)
    assert not any(is_test_certificate(r) for r in roots)
    assert {r.fingerprint(hashes.SHA256()) for r in roots} == {
        x509.load_pem_x509_certificate((SHARED / f"belgiumrca{n}.pem").read_bytes()).fingerprint(
            hashes.SHA256()
        )
        for n in ("2", "3", "4", "4b", "6")
    }
    assert TEST_ORGANIZATION == emulator_pki.TEST_ORGANIZATION


@pytest.mark.parametrize("sample", ["citizenca-202002.pem", "foreignerca-202001.pem"])
def test_sample_cas_chain_to_belgium_root_ca6(sample: str, tmp_path: Path) -> None:
    ca = x509.load_pem_x509_certificate((SHARED / sample).read_bytes())
    ca6 = x509.load_pem_x509_certificate((SHARED / "belgiumrca6.pem").read_bytes())
    at = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    # Path only ("none"): no test may reach the real eID responders.
    verdict = validate(
        _der(ca),
        purpose=None,
        at=at,
        store=TrustStore.production(),
        revocation=RevocationPolicy(mode="none"),
    )
    assert verdict.status is Status.VALID, verdict.detail
    assert "Belgium Root CA6" in verdict.path[-1]
    assert verdict.network_requests == 0
    args = ["openssl", "verify", "-CAfile", str(_pem(tmp_path, "ca6", ca6))]
    args += ["-attime", str(int(at.timestamp())), str(_pem(tmp_path, "ca", ca))]
    assert subprocess.run(args, capture_output=True, check=False).returncode == 0
    # ... and after the CA's end the same path is refused, by both.
    late = dt.datetime(2033, 1, 1, tzinfo=dt.UTC)
    assert (
        validate(
            _der(ca),
            purpose=None,
            at=late,
            store=TrustStore.production(),
            revocation=RevocationPolicy(mode="none"),
        ).status
        is Status.EXPIRED
    )


def test_sample_ca_is_rejected_by_a_test_store(served: Served) -> None:
    ca = x509.load_pem_x509_certificate((SHARED / "citizenca-202002.pem").read_bytes())
    verdict = validate(
        _der(ca),
        purpose=None,
        at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
        store=served.store,
        revocation=RevocationPolicy(mode="none"),
    )
    assert verdict.status is Status.UNKNOWN_ISSUER


def test_test_certificate_is_rejected_by_the_production_store(
    srv: Served, policy: RevocationPolicy, tmp_path: Path
) -> None:
    card = srv.cards["ec"]
    verdict = check(srv, card, Purpose.AUTHENTICATION, policy, store=TrustStore.production())
    assert verdict.status is Status.UNKNOWN_ISSUER
    # Untrusted certificates' URLs are never contacted.
    assert verdict.network_requests == 0
    assert srv.server.requests == []
    prod_root = production_roots()[-1]
    rc, out = openssl_verify(tmp_path, card.auth_cert, card.ca_cert, prod_root)
    assert rc != 0, out


def test_certificate_from_the_other_hierarchy_is_rejected(
    srv: Served, policy: RevocationPolicy
) -> None:
    ec_card, rsa_card = srv.cards["ec"], srv.cards["rsa"]
    # The EC card's certificate with the RSA hierarchy's CA: no path.
    verdict = validate(
        ec_card.auth_cert_der,
        intermediates=[rsa_card.ca_cert_der],
        purpose=Purpose.AUTHENTICATION,
        store=TrustStore(roots=(), test_roots=(rsa_card.root_cert,)),
        revocation=policy,
    )
    assert verdict.status is Status.UNKNOWN_ISSUER
    assert srv.server.requests == []


def test_test_roots_need_the_test_organisation_and_demo_mode(served: Served) -> None:
    with pytest.raises(TestRootRefused):
        TrustStore(roots=(), test_roots=(production_roots()[-1],))
    with pytest.raises(TestRootRefused):
        TrustStore.for_settings(Settings(demo=False), served.pki)
    assert TrustStore.for_settings(Settings(demo=False)).test_roots == ()
    demo = TrustStore.for_settings(Settings(demo=True), served.pki)
    assert len(demo.test_roots) == 2
    assert demo.roots == production_roots()
    assert all(is_test_certificate(r) for r in demo.test_roots)


# -- verdicts ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_good_then_warm_from_the_disk_cache(
    srv: Served, kind: HierarchyKind, policy: RevocationPolicy, tmp_path: Path
) -> None:
    card = srv.cards[kind]
    for purpose in Purpose:
        verdict = check(srv, card, purpose, policy)
        assert verdict.status is Status.VALID, verdict.detail
        assert verdict.revocation_checked
        assert verdict.test_pki
        assert verdict.message("fr").startswith("Le certificat est valide")
    assert srv.server.requests_to("ocsp")
    assert openssl_verify(tmp_path, card.auth_cert, card.ca_cert, card.root_cert)[0] == 0
    assert openssl_ocsp(tmp_path, card.auth_cert, card) == "good"

    # A new process (memory forgotten, same directory): a login check answers from disk,
    # with no request; a signature check asks OCSP afresh, with a nonce.
    srv.server.requests.clear()
    assert policy.cache.directory is not None
    fresh = RevocationPolicy(cache=RevocationCache(policy.cache.directory))
    verdict = check(srv, card, Purpose.AUTHENTICATION, fresh)
    assert verdict.status is Status.VALID
    assert verdict.revocation_checked
    assert verdict.network_requests == 0
    assert srv.server.requests == []
    verdict = check(srv, card, Purpose.NON_REPUDIATION, fresh)
    assert verdict.status is Status.VALID
    assert verdict.network_requests >= 1
    assert srv.server.requests_to("ocsp")


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_signature_check_refuses_a_replayed_ocsp_answer(
    srv: Served, kind: HierarchyKind, policy: RevocationPolicy
) -> None:
    """The responder echoes another nonce: the OCSP answer is refused; the CRL still
    decides, and without it a signature check cannot conclude."""
    card = srv.cards[kind]
    issuer = srv.pki.issuer_of(card.signature_cert)
    assert issuer is not None
    issuing_ca_crl = f"/crl/{issuer.name}.crl"
    srv.server.mode = "good"  # honest answers: the leaf needs no CRL
    assert check(srv, card, Purpose.NON_REPUDIATION, policy).status is Status.VALID
    assert all(r.path != issuing_ca_crl for r in srv.server.requests_to("crl"))

    srv.server.requests.clear()
    srv.server.mode = "wrong_nonce"
    verdict = check(srv, card, Purpose.NON_REPUDIATION, policy)
    assert verdict.status is Status.VALID
    assert any(r.path == issuing_ca_crl for r in srv.server.requests_to("crl"))

    srv.server.crl_mode = "down"
    cold = RevocationPolicy(cache=RevocationCache(None))
    verdict = check(srv, card, Purpose.NON_REPUDIATION, cold)
    assert verdict.status is Status.REVOCATION_UNKNOWN


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_revoked(
    srv: Served, kind: HierarchyKind, policy: RevocationPolicy, tmp_path: Path
) -> None:
    card = srv.pki.issue_card(
        kind, national_number="71010112345", first_names="Piet", surname="Janssens"
    )
    when = (NOW - dt.timedelta(days=3)).replace(microsecond=0)
    srv.pki.revoke(card.auth_cert, x509.ReasonFlags.key_compromise, when)
    verdict = check(srv, card, Purpose.AUTHENTICATION, policy)
    assert verdict.status is Status.REVOKED
    assert verdict.revoked_at == when
    assert verdict.revocation_reason == "key_compromise"
    assert when.strftime("%Y-%m-%d") in verdict.message("nl")
    assert "clé compromise" in verdict.message("fr")
    assert openssl_ocsp(tmp_path, card.auth_cert, card) == "revoked"
    # The signature certificate of the same card was not revoked.
    assert check(srv, card, Purpose.NON_REPUDIATION, policy).status is Status.VALID
    assert openssl_ocsp(tmp_path, card.signature_cert, card) == "good"


def test_expired(srv: Served, policy: RevocationPolicy, tmp_path: Path) -> None:
    card = srv.pki.issue_card(
        "ec",
        national_number="60010112345",
        first_names="Oud",
        surname="Kaart",
        not_before=NOW - dt.timedelta(days=3650),
        not_after=NOW - dt.timedelta(days=2),
    )
    verdict = check(srv, card, Purpose.AUTHENTICATION, policy)
    assert verdict.status is Status.EXPIRED
    assert verdict.network_requests == 0  # no revocation lookup for a dead certificate
    assert "municipality" in verdict.message("en")
    rc, out = openssl_verify(tmp_path, card.auth_cert, card.ca_cert, card.root_cert)
    assert rc != 0
    assert "certificate has expired" in out
    # ... while inside its validity both accept it.
    then = NOW - dt.timedelta(days=30)
    past = check(srv, card, Purpose.AUTHENTICATION, RevocationPolicy(mode="none"), at=then)
    assert past.status is Status.VALID, past.detail
    assert openssl_verify(tmp_path, card.auth_cert, card.ca_cert, card.root_cert, at=then)[0] == 0


def test_not_yet_valid(srv: Served, policy: RevocationPolicy, tmp_path: Path) -> None:
    card = srv.pki.issue_card(
        "rsa",
        national_number="05010112345",
        first_names="Nieuw",
        surname="Kaart",
        not_before=NOW + dt.timedelta(days=10),
        not_after=NOW + dt.timedelta(days=3650),
    )
    verdict = check(srv, card, Purpose.NON_REPUDIATION, policy)
    assert verdict.status is Status.NOT_YET_VALID
    assert verdict.network_requests == 0
    rc, out = openssl_verify(tmp_path, card.auth_cert, card.ca_cert, card.root_cert)
    assert rc != 0
    assert "certificate is not yet valid" in out


def test_unknown_issuer(srv: Served, policy: RevocationPolicy, tmp_path: Path) -> None:
    other = TestPki.generate(
        ocsp_base_url=srv.server.base_url, crl_base_url=srv.server.base_url, rsa_root_bits=2048
    )
    stranger = other.issue_card(
        "ec", national_number="85073100145", first_names="Jan", surname="Peeters"
    )
    verdict = validate(
        stranger.auth_cert_der,
        intermediates=[stranger.ca_cert_der],
        purpose=Purpose.AUTHENTICATION,
        store=srv.store,
        revocation=policy,
    )
    assert verdict.status is Status.UNKNOWN_ISSUER
    assert srv.server.requests == []
    own_root = srv.cards["ec"].root_cert
    rc, out = openssl_verify(tmp_path, stranger.auth_cert, stranger.ca_cert, own_root)
    assert rc != 0, out


@pytest.mark.parametrize("ocsp_mode", ["down", "stale", "bad_signature", "malformed", "try_later"])
def test_broken_ocsp_falls_back_to_the_crl(
    srv: Served, ocsp_mode: str, policy: RevocationPolicy, tmp_path: Path
) -> None:
    card = srv.cards["ec"]
    srv.server.mode = ocsp_mode  # type: ignore[assignment]
    verdict = check(srv, card, Purpose.NON_REPUDIATION, policy)  # hard-fail by default
    assert verdict.status is Status.VALID, verdict.detail
    assert verdict.revocation_checked
    assert srv.server.requests_to("crl")
    assert openssl_ocsp(tmp_path, card.signature_cert, card) == "error"

    crl = srv.pki.crl_der(srv.pki.issuer_of(card.signature_cert))  # type: ignore[arg-type]
    rc, out = openssl_verify(tmp_path, card.signature_cert, card.ca_cert, card.root_cert, crl=crl)
    # openssl also wants the root's CRL for the CA with -crl_check_all; -crl_check is leaf only.
    assert rc == 0, out

    # Revoked, and OCSP still broken: the CRL tells.
    srv.pki.revoke(card.signature_cert, x509.ReasonFlags.certificate_hold)
    verdict = check(srv, card, Purpose.NON_REPUDIATION, RevocationPolicy())
    assert verdict.status is Status.REVOKED
    assert verdict.revocation_reason == "certificate_hold"
    crl = srv.pki.crl_der(srv.pki.issuer_of(card.signature_cert))  # type: ignore[arg-type]
    rc, out = openssl_verify(tmp_path, card.signature_cert, card.ca_cert, card.root_cert, crl=crl)
    assert rc != 0
    assert "certificate revoked" in out


def test_everything_down_hard_fail_and_soft_fail(
    srv: Served, policy: RevocationPolicy, tmp_path: Path
) -> None:
    card = srv.cards["rsa"]
    srv.server.mode = "down"
    srv.server.crl_mode = "down"
    # Signature: hard-fail by default.
    signing = check(srv, card, Purpose.NON_REPUDIATION, policy)
    assert signing.status is Status.REVOCATION_UNKNOWN
    assert signing.warnings  # says which URLs failed
    assert "internet" in signing.message("en")
    # Login: soft-fail by default -> valid, with a warning.
    login = check(srv, card, Purpose.AUTHENTICATION, policy)
    assert login.status is Status.VALID
    assert not login.revocation_checked
    assert any("503" in w for w in login.warnings)
    assert "revocation status could not be checked" in login.message("en")
    # Configurable: hard-fail for login too.
    strict = check(
        srv, card, Purpose.AUTHENTICATION, RevocationPolicy(mode="hard-fail", cache=policy.cache)
    )
    assert strict.status is Status.REVOCATION_UNKNOWN
    assert openssl_ocsp(tmp_path, card.auth_cert, card) == "error"
    # Connection refused (the port closed: CRLs go with it) is the same story.
    srv.server.mode = "refused"
    srv.server.crl_mode = "good"
    refused = check(srv, card, Purpose.NON_REPUDIATION, policy)
    assert refused.status is Status.REVOCATION_UNKNOWN
    assert check(srv, card, Purpose.AUTHENTICATION, policy).status is Status.VALID
    # Nothing half-known was cached: once the service is back, a real answer.
    srv.server.reset()
    assert check(srv, card, Purpose.NON_REPUDIATION, policy).revocation_checked


def test_timeout_is_honoured(srv: Served, tmp_path: Path) -> None:
    card = srv.cards["ec"]
    srv.server.mode = "slow"
    srv.server.crl_mode = "slow"
    srv.server.slow_seconds = 3.0
    policy = RevocationPolicy(cache=RevocationCache(tmp_path), timeout=0.3)
    verdict = check(srv, card, Purpose.NON_REPUDIATION, policy)
    assert verdict.status is Status.REVOCATION_UNKNOWN
    assert any("timed out" in w for w in verdict.warnings)


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_wrong_usage(
    srv: Served, kind: HierarchyKind, policy: RevocationPolicy, tmp_path: Path
) -> None:
    card = srv.cards[kind]
    auth_for_signing = check(srv, card, Purpose.NON_REPUDIATION, policy, cert=card.auth_cert)
    assert auth_for_signing.status is Status.WRONG_USAGE
    assert "nonRepudiation" in auth_for_signing.detail
    assert "signature" in auth_for_signing.message("en")
    sign_for_login = check(srv, card, Purpose.AUTHENTICATION, policy, cert=card.signature_cert)
    assert sign_for_login.status is Status.WRONG_USAGE
    assert srv.server.requests == []

    def key_usage(cert: x509.Certificate) -> str:
        path = _pem(tmp_path, "ku", cert)
        args = ["openssl", "x509", "-in", str(path), "-noout", "-ext", "keyUsage"]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    assert "Non Repudiation" not in key_usage(card.auth_cert)
    assert "Digital Signature" in key_usage(card.auth_cert)
    assert "Non Repudiation" in key_usage(card.signature_cert)
    assert "Digital Signature" not in key_usage(card.signature_cert)


def test_urls_come_only_from_the_certificate(served: Served) -> None:
    card = served.cards["ec"]
    base = served.server.base_url
    assert ocsp_urls(card.auth_cert) == [f"{base}/ocsp/ec"]
    assert crl_urls(card.auth_cert) == [f"{base}/crl/citizen-ec.crl"]
    assert ocsp_urls(card.root_cert) == []


# -- the card as a whole, and the messages ---------------------------------------------------


def test_validate_card(srv: Served, policy: RevocationPolicy) -> None:
    card = srv.cards["ec"]
    certificates = CardCertificates(
        authentication=card.auth_cert_der,
        signature=card.signature_cert_der,
        ca=card.ca_cert_der,
        root=card.root_cert_der,
        rrn=card.rrn_cert_der,
    )
    verdicts = validate_card(certificates, store=srv.store, revocation=policy)
    assert {k: v.status for k, v in verdicts.items()} == {
        "authentication": Status.VALID,
        "signature": Status.VALID,
        "ca": Status.VALID,
    }
    kids = CardCertificates(None, None, card.ca_cert_der, card.root_cert_der, card.rrn_cert_der)
    assert set(validate_card(kids, store=srv.store, revocation=policy)) == {"ca"}
    # A production store does not know the test card.
    production = validate_card(certificates, store=TrustStore.production(), revocation=policy)
    assert {v.status for v in production.values()} == {Status.UNKNOWN_ISSUER}


def test_every_status_has_three_languages() -> None:
    assert set(MESSAGES) == set(Status)
    assert len({m.code for m in MESSAGES.values()}) == len(Status)
    for status in Status:
        verdict = Verdict(
            status,
            Purpose.NON_REPUDIATION,
            revoked_at=NOW,
            revocation_reason="superseded",
        )
        texts = {lang: verdict.message(lang) for lang in ("en", "fr", "nl")}
        assert len(set(texts.values())) == 3
        assert all("{" not in t for t in texts.values())
    assert Verdict(Status.VALID).message("de") == Verdict(Status.VALID).message("en")


def test_unreadable_and_tampered_certificates(srv: Served, policy: RevocationPolicy) -> None:
    garbage = validate(b"not a certificate", purpose=Purpose.AUTHENTICATION, store=srv.store)
    assert garbage.status is Status.INVALID
    card = srv.cards["ec"]
    tampered = bytearray(card.auth_cert_der)
    tampered[-5] ^= 0x01  # inside the signature
    verdict = validate(
        bytes(tampered),
        intermediates=[card.ca_cert_der],
        purpose=Purpose.AUTHENTICATION,
        store=srv.store,
        revocation=policy,
    )
    assert verdict.status in (Status.UNKNOWN_ISSUER, Status.INVALID)
    assert srv.server.requests == []  # a broken signature never earns a network request


def test_cache_lives_under_settings_cache_dir(srv: Served, tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    policy = RevocationPolicy.for_settings(settings)
    card = srv.cards["rsa"]
    assert check(srv, card, Purpose.NON_REPUDIATION, policy).revocation_checked
    files = sorted(p.name for p in (tmp_path / "cache" / "revocation").iterdir())
    assert len(files) == 2  # the card certificate's and the CA's OCSP answers
    assert all(name.startswith("ocsp-") and name.endswith(".der") for name in files)
