"""The shipped Belgian eID CA (intermediate) certificates: genuine CAs under production roots."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from bridge.trust.anchors import TEST_ORGANIZATION, production_roots
from bridge.trust.intermediates import production_intermediates

# How many CA certificates were found in public sources and verified (see SOURCES.md).
EXPECTED_AT_LEAST = 33


def _folder() -> Traversable:
    return resources.files("bridge.trust") / "intermediates"


def _pem_files() -> list[Traversable]:
    return sorted(
        (entry for entry in _folder().iterdir() if entry.name.endswith(".pem")),
        key=lambda entry: entry.name,
    )


def _certificates() -> Iterator[tuple[str, x509.Certificate]]:
    for entry in _pem_files():
        yield entry.name, x509.load_pem_x509_certificate(entry.read_bytes())


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if ``issuer`` names and signs ``cert`` (SHA-1 allowed: the CA2-era CAs use it)."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    hash_algorithm = cert.signature_hash_algorithm
    if hash_algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm
            )
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
        else:
            return False
    except Exception:
        return False
    return True


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def test_at_least_the_found_number_is_shipped() -> None:
    assert len(_pem_files()) >= EXPECTED_AT_LEAST
    assert len(production_intermediates()) == len(_pem_files())


def test_production_intermediates_are_der_in_file_order() -> None:
    ders = production_intermediates()
    assert ders is production_intermediates()  # cached
    expected = tuple(cert.public_bytes(serialization.Encoding.DER) for _, cert in _certificates())
    assert ders == expected
    assert len(set(ders)) == len(ders)


@pytest.mark.parametrize("name", [entry.name for entry in _pem_files()])
def test_each_is_a_ca(name: str) -> None:
    cert = x509.load_pem_x509_certificate((_folder() / name).read_bytes())
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True


def _root_identity(root: x509.Certificate) -> tuple[str, bytes]:
    """Subject and key: Root CA4 is shipped twice (two issues, one subject, one key), and a CA
    it signed verifies under both files, which is still one root."""
    key = root.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return root.subject.rfc4514_string(), key


@pytest.mark.parametrize("name", [entry.name for entry in _pem_files()])
def test_each_verifies_under_exactly_one_production_root(name: str) -> None:
    cert = x509.load_pem_x509_certificate((_folder() / name).read_bytes())
    roots = production_roots()
    assert cert.subject != cert.issuer, "a root is not an intermediate"
    assert _fingerprint(cert) not in {_fingerprint(root) for root in roots}
    issuers = [root for root in roots if _signed_by(cert, root)]
    assert issuers, f"{name} verifies under no production root"
    assert len({_root_identity(root) for root in issuers}) == 1, [
        root.subject.rfc4514_string() for root in issuers
    ]


def test_the_root_ca4_issues_are_one_root() -> None:
    by_subject: dict[str, set[tuple[str, bytes]]] = {}
    for root in production_roots():
        identity = _root_identity(root)
        by_subject.setdefault(identity[0], set()).add(identity)
    assert all(len(identities) == 1 for identities in by_subject.values())


@pytest.mark.parametrize("name", [entry.name for entry in _pem_files()])
def test_none_is_a_test_certificate(name: str) -> None:
    cert = x509.load_pem_x509_certificate((_folder() / name).read_bytes())
    for dn in (cert.subject, cert.issuer):
        organisations = [a.value for a in dn.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        assert TEST_ORGANIZATION not in organisations


@pytest.mark.parametrize("name", [entry.name for entry in _pem_files()])
def test_file_name_follows_the_subject(name: str) -> None:
    cert = x509.load_pem_x509_certificate((_folder() / name).read_bytes())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    serial = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert isinstance(cn, str)
    assert isinstance(serial, str)
    assert name == f"{cn.lower().replace(' ', '')}-{serial}.pem"


def test_file_names_and_certificates_are_unique() -> None:
    names = [entry.name for entry in _pem_files()]
    assert len(names) == len(set(names))
    assert len(names) == len({name.lower() for name in names})
    fingerprints = [_fingerprint(cert) for _, cert in _certificates()]
    assert len(fingerprints) == len(set(fingerprints))


def test_sources_lists_each_file_and_its_fingerprint() -> None:
    sources = (_folder() / "SOURCES.md").read_text(encoding="utf-8")
    lowered = sources.lower()
    for name, cert in _certificates():
        assert name in sources, name
        assert _fingerprint(cert) in lowered.replace(":", ""), name
