"""The test PKI: chains (checked by openssl), certificate layout, RRN signatures,
persistence, revocation in CRLs and OCSP answers built without a server."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    CertificatePoliciesOID,
    ExtendedKeyUsageOID,
    NameOID,
    SignatureAlgorithmOID,
)

from bridge.emulator.pki import (
    HIERARCHY_KINDS,
    POLICY_ARCS,
    QC_STATEMENTS_OID,
    TEST_ORGANIZATION,
    CardCredentials,
    HierarchyKind,
    OcspOverrides,
    TestPki,
    address_signed_data,
)

OCSP_BASE = "http://127.0.0.1:35997"
CRL_BASE = "http://127.0.0.1:35998/"  # trailing slash on purpose: it must be normalised
NATIONAL_NUMBER = "85073100145"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.generate(ocsp_base_url=OCSP_BASE, crl_base_url=CRL_BASE)


@pytest.fixture(scope="module")
def stranger() -> TestPki:
    """Another PKI: its certificates must be foreign to ``pki``."""
    return TestPki.generate(rsa_root_bits=2048)


@pytest.fixture(autouse=True)
def _no_revocations_left(pki: TestPki) -> Iterator[None]:
    yield
    pki.clear_revocations()


@pytest.fixture(scope="module")
def cards(pki: TestPki) -> dict[tuple[HierarchyKind, bool], CardCredentials]:
    return {
        (kind, foreigner): pki.issue_card(
            kind,
            national_number=NATIONAL_NUMBER,
            first_names="Jan Pieter J",
            surname="Peeters",
            foreigner=foreigner,
        )
        for kind in HIERARCHY_KINDS
        for foreigner in (False, True)
    }


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(pem(c) for c in certs))
    return path


def openssl(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)],
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def policy_oids(cert: x509.Certificate) -> list[str]:
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    return [p.policy_identifier.dotted_string for p in policies]


# -- chains -----------------------------------------------------------------------------------


@pytest.mark.parametrize("foreigner", [False, True], ids=["citizen", "foreigner"])
@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_card_chain_verifies_with_openssl(
    tmp_path: Path,
    cards: dict[tuple[HierarchyKind, bool], CardCredentials],
    kind: HierarchyKind,
    foreigner: bool,
) -> None:
    card = cards[(kind, foreigner)]
    root = write(tmp_path / "root.pem", card.root_cert)
    ca = write(tmp_path / "ca.pem", card.ca_cert)
    auth = write(tmp_path / "auth.pem", card.auth_cert)
    sign = write(tmp_path / "sign.pem", card.signature_cert)

    result = openssl("verify", "-x509_strict", "-CAfile", root, "-untrusted", ca, auth, sign)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{auth}: OK", f"{sign}: OK"]

    # The authentication certificate is a TLS client certificate, also through the EC CA's
    # extended-key-usage restriction.
    result = openssl("verify", "-purpose", "sslclient", "-CAfile", root, "-untrusted", ca, auth)
    assert result.returncode == 0, result.stderr

    # RFC 5280 policy processing succeeds with the policy required explicitly.
    population = "7" if foreigner else "2"
    policy = f"{POLICY_ARCS[kind]}.1.1.{population}.2"
    result = openssl(
        "verify", "-policy", policy, "-explicit_policy", "-CAfile", root, "-untrusted", ca, auth
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_cas_and_rrn_chain_to_root(tmp_path: Path, pki: TestPki, kind: HierarchyKind) -> None:
    h = pki.hierarchy(kind)
    root = write(tmp_path / "root.pem", h.root.cert)
    leaves = [
        write(tmp_path / "citizen.pem", h.citizen_ca.cert),
        write(tmp_path / "foreigner.pem", h.foreigner_ca.cert),
        write(tmp_path / "rrn.pem", h.rrn.cert),
    ]
    result = openssl("verify", "-x509_strict", "-CAfile", root, *leaves)
    assert result.returncode == 0, result.stderr

    # Every OCSP responder certificate chains to its CA and is an OCSP signer.
    for ca in h.cas:
        chain = write(tmp_path / f"{ca.name}-chain.pem", ca.cert)
        responder = write(tmp_path / f"{ca.name}-ocsp.pem", ca.ocsp_responder.cert)
        result = openssl(
            "verify", "-x509_strict", "-purpose", "ocsphelper",
            "-CAfile", root, "-untrusted", chain, responder,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr


def test_chain_does_not_verify_across_hierarchies(
    tmp_path: Path, cards: dict[tuple[HierarchyKind, bool], CardCredentials]
) -> None:
    ec_card, rsa_card = cards[("ec", False)], cards[("rsa", False)]
    root = write(tmp_path / "root.pem", rsa_card.root_cert)
    ca = write(tmp_path / "ca.pem", rsa_card.ca_cert)
    leaf = write(tmp_path / "leaf.pem", ec_card.auth_cert)
    assert openssl("verify", "-CAfile", root, "-untrusted", ca, leaf).returncode != 0


# -- certificate content ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_card_subject_layout(
    cards: dict[tuple[HierarchyKind, bool], CardCredentials], kind: HierarchyKind
) -> None:
    card = cards[(kind, False)]
    for cert, label in ((card.auth_cert, "Authentication"), (card.signature_cert, "Signature")):
        attributes = [(a.oid, a.value) for a in cert.subject]
        assert attributes == [
            (NameOID.COUNTRY_NAME, "BE"),
            (NameOID.COMMON_NAME, f"Jan Peeters ({label})"),
            (NameOID.SURNAME, "Peeters"),
            (NameOID.GIVEN_NAME, "Jan Pieter J"),
            (NameOID.SERIAL_NUMBER, NATIONAL_NUMBER),
        ]
        assert cert.issuer == card.ca_cert.subject
    assert card.ca_cert.issuer == card.root_cert.subject == card.rrn_cert.issuer
    assert card.rrn_cert.subject.rfc4514_string() == "CN=RRN,O=RRN,C=BE"


@pytest.mark.parametrize(
    ("kind", "foreigner", "serial", "cn"),
    [
        ("ec", False, "202002", "Test Citizen CA"),
        ("ec", True, "202001", "Test Foreigner CA"),
        ("rsa", False, "201903", "Test Citizen CA"),
        ("rsa", True, "201904", "Test Foreigner CA"),
    ],
)
def test_ca_names(
    cards: dict[tuple[HierarchyKind, bool], CardCredentials],
    kind: HierarchyKind,
    foreigner: bool,
    serial: str,
    cn: str,
) -> None:
    ca = cards[(kind, foreigner)].ca_cert
    assert ca.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == serial
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    root_cn = "Belgium Test Root CA6" if kind == "ec" else "Belgium Test Root CA4"
    assert ca.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == root_cn


def test_ca_names_are_unmistakably_test_names(pki: TestPki) -> None:
    for ca in pki.cas():
        for cert in (ca.cert, ca.ocsp_responder.cert):
            assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
                TEST_ORGANIZATION
            )
            assert "Test" in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_roots_are_not_the_real_belgian_roots(pki: TestPki) -> None:
    candidates = [Path("/work/shared/trust"), Path(__file__).parents[2] / "bridge/trust/roots"]
    real = [p for d in candidates if d.is_dir() for p in sorted(d.glob("*.pem"))]
    if not real:
        pytest.skip("no copy of the real Belgian roots on this machine")
    real_keys = {
        x509.load_pem_x509_certificate(p.read_bytes())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        for p in real
    }
    for ca in pki.cas():
        ours = ca.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert ours not in real_keys
        assert ca.cert.subject not in {
            x509.load_pem_x509_certificate(p.read_bytes()).subject for p in real
        }


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_key_usage_and_constraints(
    cards: dict[tuple[HierarchyKind, bool], CardCredentials], kind: HierarchyKind
) -> None:
    card = cards[(kind, False)]
    auth_ku = card.auth_cert.extensions.get_extension_for_class(x509.KeyUsage)
    sign_ku = card.signature_cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert auth_ku.critical
    assert sign_ku.critical
    assert auth_ku.value.digital_signature
    assert not auth_ku.value.content_commitment
    assert sign_ku.value.content_commitment
    assert not sign_ku.value.digital_signature
    eku = card.auth_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for leaf in (card.auth_cert, card.signature_cert, card.rrn_cert):
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    rrn_ku = card.rrn_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert rrn_ku.digital_signature
    assert rrn_ku.content_commitment
    ca_bc = card.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert ca_bc.ca
    assert ca_bc.path_length == 0
    ca_ku = card.ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ca_ku.key_cert_sign
    assert ca_ku.crl_sign
    root_bc = card.root_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert root_bc.path_length == 1


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_certificate_policies(
    cards: dict[tuple[HierarchyKind, bool], CardCredentials], kind: HierarchyKind
) -> None:
    arc = POLICY_ARCS[kind]
    citizen, foreigner = cards[(kind, False)], cards[(kind, True)]
    assert policy_oids(citizen.auth_cert) == [f"{arc}.1.1.2.2"]
    assert policy_oids(citizen.signature_cert) == [f"{arc}.1.1.2.1"]
    assert policy_oids(foreigner.auth_cert) == [f"{arc}.1.1.7.2"]
    assert policy_oids(foreigner.signature_cert) == [f"{arc}.1.1.7.1"]
    assert policy_oids(citizen.rrn_cert) == [f"{arc}.1.1.4"]
    assert policy_oids(citizen.ca_cert) == [CertificatePoliciesOID.ANY_POLICY.dotted_string]
    assert {"ec": "2.16.56.12", "rsa": "2.16.56.10"}[kind] == arc


def test_qc_statements_only_on_signature_certificate(
    cards: dict[tuple[HierarchyKind, bool], CardCredentials],
) -> None:
    card = cards[("ec", False)]
    qc = card.signature_cert.extensions.get_extension_for_oid(QC_STATEMENTS_OID)
    assert not qc.critical
    assert isinstance(qc.value, x509.UnrecognizedExtension)
    # SEQUENCE { {QcCompliance} {QcSSCD} {QcType {esign}} }, 0.4.0.1862 = 04 00 8E 46.
    assert qc.value.value == bytes.fromhex(
        "3029"
        "3008" "0606" "04008e460101"
        "3008" "0606" "04008e460104"
        "3013" "0606" "04008e460106" "3009" "0607" "04008e46010601"
    )  # fmt: skip
    with pytest.raises(x509.ExtensionNotFound):
        card.auth_cert.extensions.get_extension_for_oid(QC_STATEMENTS_OID)


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_aia_and_crl_distribution_points(
    pki: TestPki, cards: dict[tuple[HierarchyKind, bool], CardCredentials], kind: HierarchyKind
) -> None:
    def aia(cert: x509.Certificate) -> dict[x509.ObjectIdentifier, str]:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        return {d.access_method: str(d.access_location.value) for d in ext}

    def crl_dp(cert: x509.Certificate) -> list[str]:
        ext = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        return [str(name.value) for dp in ext for name in dp.full_name or []]

    card = cards[(kind, True)]
    ca = f"foreigner-{kind}"
    for leaf in (card.auth_cert, card.signature_cert):
        assert aia(leaf) == {
            AuthorityInformationAccessOID.OCSP: f"{OCSP_BASE}/ocsp/{kind}",
            AuthorityInformationAccessOID.CA_ISSUERS: f"http://127.0.0.1:35998/ca/{ca}.crt",
        }
        assert crl_dp(leaf) == [f"http://127.0.0.1:35998/crl/{ca}.crl"]
    for under_root in (card.ca_cert, card.rrn_cert):
        assert aia(under_root)[AuthorityInformationAccessOID.CA_ISSUERS].endswith(
            f"/ca/root-{kind}.crt"
        )
        assert crl_dp(under_root) == [pki.crl_url(f"root-{kind}")]
    with pytest.raises(x509.ExtensionNotFound):
        card.root_cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)


def test_algorithms_and_key_sizes(
    pki: TestPki, cards: dict[tuple[HierarchyKind, bool], CardCredentials]
) -> None:
    ec_card, rsa_card = cards[("ec", False)], cards[("rsa", False)]
    for cert in (ec_card.auth_cert, ec_card.signature_cert, ec_card.ca_cert, ec_card.root_cert,
                 ec_card.rrn_cert):  # fmt: skip
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA384
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.name == "secp384r1"
    for cert in (rsa_card.auth_cert, rsa_card.signature_cert, rsa_card.ca_cert,
                 rsa_card.root_cert, rsa_card.rrn_cert):  # fmt: skip
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert isinstance(rsa_card.auth_key, rsa.RSAPrivateKey)
    assert rsa_card.auth_key.key_size == 2048
    assert isinstance(rsa_card.signature_key, rsa.RSAPrivateKey)
    assert rsa_card.signature_key.key_size == 2048
    root_key = pki.rsa.root.cert.public_key()
    assert isinstance(root_key, rsa.RSAPublicKey)
    assert root_key.key_size == 4096
    assert ec_card.auth_cert.public_key() == ec_card.auth_key.public_key()
    assert rsa_card.signature_cert.public_key() == rsa_card.signature_key.public_key()
    assert ec_card.auth_cert_der == ec_card.auth_cert.public_bytes(serialization.Encoding.DER)


def test_issue_card_arguments(pki: TestPki) -> None:
    start = dt.datetime(2020, 1, 2, 3, 4, 5)  # naive: taken as UTC
    end = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    key = ec.generate_private_key(ec.SECP384R1())
    card = pki.issue_card(
        "ec",
        national_number="00010100155",
        first_names="Émilie",
        surname="Dupont-Lefèvre",
        not_before=start,
        not_after=end,
        auth_key=key,
    )
    assert card.auth_cert.not_valid_before_utc == start.replace(tzinfo=dt.UTC)
    assert card.signature_cert.not_valid_after_utc == end
    assert card.auth_cert.public_key() == key.public_key()
    assert card.signature_cert.public_key() != key.public_key()
    cn = card.auth_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "Émilie Dupont-Lefèvre (Authentication)"

    default = pki.issue_card("ec", national_number=NATIONAL_NUMBER, first_names="A", surname="B")
    assert default.auth_cert.not_valid_after_utc <= default.ca_cert.not_valid_after_utc

    with pytest.raises(ValueError, match="11-digit"):
        pki.issue_card("ec", national_number="8507310014", first_names="A", surname="B")
    with pytest.raises(ValueError, match="P-384"):
        pki.issue_card(
            "ec",
            national_number=NATIONAL_NUMBER,
            first_names="A",
            surname="B",
            auth_key=ec.generate_private_key(ec.SECP256R1()),
        )
    with pytest.raises(ValueError, match="RSA"):
        pki.issue_card(
            "rsa", national_number=NATIONAL_NUMBER, first_names="A", surname="B", auth_key=key
        )
    with pytest.raises(ValueError, match="hierarchy"):
        pki.issue_card(
            "dsa",  # type: ignore[arg-type]
            national_number=NATIONAL_NUMBER,
            first_names="A",
            surname="B",
        )


# -- RRN signatures ---------------------------------------------------------------------------


def verify_rrn(rrn_cert: x509.Certificate, signature: bytes, data: bytes) -> None:
    """What the card layer does; raises InvalidSignature."""
    key = rrn_cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hashes.SHA384()))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise TypeError(type(key))


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_identity_and_address_signatures_verify(pki: TestPki, kind: HierarchyKind) -> None:
    rrn_cert = pki.hierarchy(kind).rrn.cert
    identity = bytes.fromhex("01 0C 53 4C 49 4E 33 46 30 30 32 39 37 37") + bytes(range(200))
    id_signature = pki.sign_identity(kind, identity)
    verify_rrn(rrn_cert, id_signature, identity)

    if kind == "ec":
        # DER ECDSA-Sig-Value; on the card the file is zero-padded and its real length is
        # 2 + the second byte, which is how clients cut the padding off.
        r, s = decode_dss_signature(id_signature)
        assert r > 0
        assert s > 0
        assert len(id_signature) == 2 + id_signature[1]
        id_signature_file = id_signature + bytes(120 - len(id_signature))
    else:
        assert len(id_signature) == 256
        id_signature_file = id_signature

    # An address file carries zero padding up to its fixed size; a zero inside a value stays.
    address = bytes.fromhex("01 0E") + b"Rue de l\x00Eglise" + bytes.fromhex("02 04") + b"1000"
    address_file = address + bytes(117 - len(address))
    address_signature = pki.sign_address(kind, address_file, id_signature_file)
    verify_rrn(rrn_cert, address_signature, address + id_signature_file)
    with pytest.raises(InvalidSignature):
        verify_rrn(rrn_cert, address_signature, address_file + id_signature_file)
    with pytest.raises(InvalidSignature):
        verify_rrn(rrn_cert, address_signature, address.split(b"\x00")[0] + id_signature_file)


def test_address_signed_data_strips_only_trailing_zeros() -> None:
    assert address_signed_data(b"\x01\x00\x02\x00\x00", b"SIG\x00") == b"\x01\x00\x02SIG\x00"
    assert address_signed_data(b"\x00\x00", b"S") == b"S"


# -- persistence ------------------------------------------------------------------------------


def _key_bytes(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_save_and_load_round_trip(tmp_path: Path, pki: TestPki) -> None:
    revoked = pki.revoke(
        pki.ec.rrn.cert, x509.ReasonFlags.superseded, dt.datetime(2024, 2, 3, tzinfo=dt.UTC)
    )
    directory = tmp_path / "pki"
    pki.save(directory)
    loaded = TestPki.load(directory)

    assert loaded.ocsp_base_url == OCSP_BASE
    assert loaded.crl_base_url == CRL_BASE.rstrip("/")
    assert loaded.created == pki.created
    for kind in HIERARCHY_KINDS:
        ours, theirs = pki.hierarchy(kind), loaded.hierarchy(kind)
        for a, b in zip(ours.cas, theirs.cas, strict=True):
            assert (a.name, a.role, a.kind) == (b.name, b.role, b.kind)
            assert a.der == b.der
            assert _key_bytes(a.key) == _key_bytes(b.key)
            assert a.ocsp_responder.der == b.ocsp_responder.der
            assert _key_bytes(a.ocsp_responder.key) == _key_bytes(b.ocsp_responder.key)
        assert ours.rrn.der == theirs.rrn.der
        assert _key_bytes(ours.rrn.key) == _key_bytes(theirs.rrn.key)
    assert loaded.revocations == (revoked,)

    # Revocations made after loading are written back at once.
    card = loaded.issue_card("rsa", national_number=NATIONAL_NUMBER, first_names="A", surname="B")
    loaded.revoke(card.auth_cert, x509.ReasonFlags.certificate_hold)
    again = TestPki.load(directory)
    assert {(r.ca, r.serial_number, r.reason) for r in again.revocations} == {
        ("root-ec", pki.ec.rrn.cert.serial_number, x509.ReasonFlags.superseded),
        ("citizen-rsa", card.auth_cert.serial_number, x509.ReasonFlags.certificate_hold),
    }

    if os.name == "posix":
        key_files = list(directory.glob("gen-*/*.key.pem"))
        assert len(key_files) == 2 * (3 + 3 + 1)  # per hierarchy: 3 CAs, 3 responders, RRN
        assert all(p.stat().st_mode & 0o077 == 0 for p in key_files)


def test_load_or_create_reuses_then_regenerates_for_other_urls(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    first = TestPki.load_or_create(
        directory,
        ocsp_base_url="http://127.0.0.1:1",
        crl_base_url="http://127.0.0.1:1",
        rsa_root_bits=2048,
    )
    second = TestPki.load_or_create(
        directory, ocsp_base_url="http://127.0.0.1:1/", crl_base_url="http://127.0.0.1:1"
    )
    assert second.ec.root.der == first.ec.root.der
    assert second.rsa.citizen_ca.der == first.rsa.citizen_ca.der
    assert second.directory == directory

    third = TestPki.load_or_create(
        directory,
        ocsp_base_url="http://127.0.0.1:2",
        crl_base_url="http://127.0.0.1:2",
        rsa_root_bits=2048,
    )
    assert third.ec.root.der != first.ec.root.der
    assert third.ocsp_url("ec") == "http://127.0.0.1:2/ocsp/ec"
    assert TestPki.load(directory).ec.root.der == third.ec.root.der

    (directory / "index.json").write_text("{not json", encoding="utf-8")
    fourth = TestPki.load_or_create(
        directory,
        ocsp_base_url="http://127.0.0.1:2",
        crl_base_url="http://127.0.0.1:2",
        rsa_root_bits=2048,
    )
    assert fourth.ec.root.der != third.ec.root.der


# -- revocation and CRLs ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_revocation_appears_in_crl(
    tmp_path: Path,
    pki: TestPki,
    cards: dict[tuple[HierarchyKind, bool], CardCredentials],
    kind: HierarchyKind,
) -> None:
    card = cards[(kind, False)]
    ca = pki.hierarchy(kind).citizen_ca
    when = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    pki.revoke(card.signature_cert, x509.ReasonFlags.key_compromise, when)
    pki.revoke(card.auth_cert)  # unspecified: no reason extension in the CRL entry

    crl = x509.load_der_x509_crl(pki.crl_der(ca.name))
    assert crl.issuer == ca.cert.subject
    ca_key = ca.cert.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    assert crl.is_signature_valid(ca_key)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == pki.crl_validity
    entry = crl.get_revoked_certificate_by_serial_number(card.signature_cert.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == when
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    plain = crl.get_revoked_certificate_by_serial_number(card.auth_cert.serial_number)
    assert plain is not None
    assert len(plain.extensions) == 0
    # The other CAs' CRLs do not list it.
    other = x509.load_der_x509_crl(pki.crl_der(pki.hierarchy(kind).foreigner_ca))
    assert len(other) == 0

    crl_path = tmp_path / "ca.crl"
    crl_path.write_bytes(pki.crl_der(ca.name))
    ca_pem = write(tmp_path / "ca.pem", ca.cert)
    text = openssl("crl", "-inform", "DER", "-in", crl_path, "-noout", "-text")
    assert text.returncode == 0, text.stderr
    serial_hex = f"{card.signature_cert.serial_number:X}"
    serial_hex = "0" * (len(serial_hex) % 2) + serial_hex  # openssl prints whole bytes
    assert f"Serial Number: {serial_hex}\n" in text.stdout
    assert "Key Compromise" in text.stdout
    assert "Revocation Date: Mar  4 05:06:07 2025 GMT" in text.stdout
    checked = openssl("crl", "-inform", "DER", "-in", crl_path, "-noout", "-CAfile", ca_pem)
    assert "verify OK" in checked.stderr + checked.stdout

    assert pki.unrevoke(card.signature_cert)
    assert not pki.unrevoke(card.signature_cert)
    crl = x509.load_der_x509_crl(pki.crl_der(ca.name))
    assert [e.serial_number for e in crl] == [card.auth_cert.serial_number]


def test_crl_numbers_increase(pki: TestPki) -> None:
    def number(der: bytes) -> int:
        crl = x509.load_der_x509_crl(der)
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    first = number(pki.crl_der("root-ec"))
    assert number(pki.crl_der("root-ec")) > first


def test_revoke_by_serial_number(
    pki: TestPki, stranger: TestPki, cards: dict[tuple[HierarchyKind, bool], CardCredentials]
) -> None:
    card = cards[("rsa", True)]
    rev = pki.revoke(card.auth_cert.serial_number, x509.ReasonFlags.affiliation_changed)
    assert rev.ca == "foreigner-rsa"
    assert pki.revocation_of("foreigner-rsa", card.auth_cert.serial_number) == rev
    # The intermediates themselves are revocable in the root's CRL.
    assert pki.revoke(pki.ec.citizen_ca.cert.serial_number).ca == "root-ec"
    with pytest.raises(ValueError, match="unknown here"):
        pki.revoke(12345)
    assert pki.revoke(12345, ca="citizen-ec").serial_number == 12345
    with pytest.raises(KeyError):
        pki.revoke(12345, ca="no-such-ca")
    with pytest.raises(ValueError, match="unrevoke"):
        pki.revoke(card.auth_cert, x509.ReasonFlags.remove_from_crl)
    with pytest.raises(ValueError, match="not issued by this test PKI"):
        pki.revoke(stranger.ec.rrn.cert)


# -- OCSP answers (no HTTP) -------------------------------------------------------------------


def ocsp_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    nonce: bytes | None = b"0123456789abcdef",
    algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())  # noqa: S303
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def check_signed_by_delegated_responder(
    response: ocsp.OCSPResponse, issuer: x509.Certificate
) -> None:
    responder = response.certificates[0]
    responder.verify_directly_issued_by(issuer)
    assert responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == (
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING])
    )
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    key = responder.public_key()
    assert response.signature_hash_algorithm is not None
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(
            response.signature,
            response.tbs_response_bytes,
            ec.ECDSA(response.signature_hash_algorithm),
        )
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(
            response.signature,
            response.tbs_response_bytes,
            padding.PKCS1v15(),
            response.signature_hash_algorithm,
        )
    else:
        raise TypeError(type(key))


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_ocsp_good_then_revoked(
    pki: TestPki, cards: dict[tuple[HierarchyKind, bool], CardCredentials], kind: HierarchyKind
) -> None:
    card = cards[(kind, False)]
    request = ocsp_request(card.auth_cert, card.ca_cert)
    response = ocsp.load_der_ocsp_response(pki.ocsp_response(request, kind=kind))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == card.auth_cert.serial_number
    assert response.next_update_utc is not None
    assert response.next_update_utc - response.this_update_utc == pki.ocsp_validity
    nonce = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == b"0123456789abcdef"
    check_signed_by_delegated_responder(response, card.ca_cert)
    assert response.certificates[1] == card.ca_cert

    when = dt.datetime(2025, 6, 7, 8, 9, 10, tzinfo=dt.UTC)
    pki.revoke(card.auth_cert, x509.ReasonFlags.key_compromise, when)
    response = ocsp.load_der_ocsp_response(pki.ocsp_response(request))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == when
    assert response.revocation_reason == x509.ReasonFlags.key_compromise


def test_ocsp_for_certificates_issued_by_the_root(pki: TestPki) -> None:
    request = ocsp_request(pki.rsa.rrn.cert, pki.rsa.root.cert, algorithm=hashes.SHA256())
    response = ocsp.load_der_ocsp_response(pki.ocsp_response(request, kind="rsa"))
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert isinstance(response.hash_algorithm, hashes.SHA256)
    assert response.certificates == [pki.rsa.root.ocsp_responder.cert]
    check_signed_by_delegated_responder(response, pki.rsa.root.cert)


def test_ocsp_refusals(
    pki: TestPki, stranger: TestPki, cards: dict[tuple[HierarchyKind, bool], CardCredentials]
) -> None:
    card = cards[("ec", False)]
    request = ocsp_request(card.auth_cert, card.ca_cert, nonce=None)

    def status(der: bytes) -> ocsp.OCSPResponseStatus:
        return ocsp.load_der_ocsp_response(der).response_status

    assert status(pki.ocsp_response(b"\x30\x03\x02\x01\x00")) == (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    assert status(pki.ocsp_response(b"")) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    # The RSA responder does not answer for the EC CAs, nor anyone for a stranger's CA.
    assert status(pki.ocsp_response(request, kind="rsa")) == ocsp.OCSPResponseStatus.UNAUTHORIZED
    foreign = ocsp_request(stranger.ec.rrn.cert, stranger.ec.root.cert)
    assert status(pki.ocsp_response(foreign)) == ocsp.OCSPResponseStatus.UNAUTHORIZED

    # Without a nonce in the request there is none in the answer.
    response = ocsp.load_der_ocsp_response(pki.ocsp_response(request))
    with pytest.raises(x509.ExtensionNotFound):
        response.extensions.get_extension_for_class(x509.OCSPNonce)


def test_ocsp_overrides(
    pki: TestPki, cards: dict[tuple[HierarchyKind, bool], CardCredentials]
) -> None:
    card = cards[("ec", True)]
    request = ocsp_request(card.signature_cert, card.ca_cert)

    def answer(overrides: OcspOverrides) -> ocsp.OCSPResponse:
        return ocsp.load_der_ocsp_response(pki.ocsp_response(request, overrides=overrides))

    revoked = answer(OcspOverrides(status="revoked"))
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason == x509.ReasonFlags.key_compromise
    assert answer(OcspOverrides(status="unknown")).certificate_status == (
        ocsp.OCSPCertStatus.UNKNOWN
    )
    stale = answer(OcspOverrides(stale=True))
    assert stale.next_update_utc is not None
    assert stale.next_update_utc < dt.datetime.now(dt.UTC)
    wrong = answer(OcspOverrides(nonce="wrong"))
    assert wrong.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce != (
        b"0123456789abcdef"
    )
    rogue = answer(OcspOverrides(rogue_signer=True))
    assert rogue.certificates[0].subject == pki.ec.foreigner_ca.ocsp_responder.cert.subject
    with pytest.raises((ValueError, InvalidSignature)):
        rogue.certificates[0].verify_directly_issued_by(card.ca_cert)
    later = answer(OcspOverrides(response_status=ocsp.OCSPResponseStatus.TRY_LATER))
    assert later.response_status == ocsp.OCSPResponseStatus.TRY_LATER
