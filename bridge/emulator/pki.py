"""The virtual card's test PKI: roots, Citizen/Foreigner CAs, RRN, card certificates,
revocation state, CRLs and OCSP responses.

Real Belgian eID certificates chain to roots whose keys nobody outside the government has, so
the virtual card needs its own PKI whose certificates *look* like the real ones (subject
layout, key usages, certificate policies, AIA/CRL distribution points) while every CA name
says "Test" and carries ``O=eID Bridge Test PKI``, so nothing issued here can be mistaken for
production.

Two hierarchies exist side by side, one per card generation (``belpic.md`` §6.1-6.2):

``"ec"`` (applet 1.8)
    modelled on Belgium Root CA6 -> Citizen CA 202002 / Foreigner CA 202001: every key is
    ECDSA P-384, every signature ecdsa-with-SHA384, the RRN signs identity/address files with
    ECDSA P-384 + SHA-384 (DER ``ECDSA-Sig-Value``).
``"rsa"`` (applet 1.7)
    modelled on Belgium Root CA4: sha256WithRSAEncryption throughout, card keys RSA-2048, the
    RRN signs with RSA PKCS#1 v1.5 + SHA-256.

Key sizes and generation time: P-384 keys cost well under a millisecond. The RSA root is
RSA-4096 like Belgium Root CA4 (about 0.6 s on average, with a long tail because prime search
is random); the RSA CAs, the RRN, the OCSP responders and card keys are RSA-2048 (about 50 ms
each). A complete :meth:`TestPki.generate` therefore takes about one second; pass
``rsa_root_bits=2048`` where even that matters, and use :meth:`TestPki.load_or_create` so the
demo and repeated runs reuse one PKI.

URLs: certificates embed where their status lives, so the PKI is created knowing the base URL
of the server in :mod:`bridge.emulator.ocsp_server`. Under a base URL ``B`` the layout is

* OCSP responder of a hierarchy: ``B/ocsp/<kind>`` (``kind`` is ``ec`` or ``rsa``),
* CRL of a CA: ``B/crl/<ca-name>.crl``,
* CA certificate (AIA caIssuers): ``B/ca/<ca-name>.crt``,

with CA names ``root-ec``, ``citizen-ec``, ``foreigner-ec``, ``root-rsa``, ``citizen-rsa``
and ``foreigner-rsa``. OCSP URLs use ``ocsp_base_url``; CRLs and CA certificates use
``crl_base_url``. The demo default is :data:`DEFAULT_BASE_URL` (``http://127.0.0.1:35980``).

Certificate policies: the Belgian eID uses one OID arc per root generation (2.16.56.1 for
Belgium Root CA, .9 for CA2, .10 for CA3, .12 for CA4), with ``<arc>.1.1.2.2`` citizen
authentication, ``.2.1`` citizen non-repudiation, ``.7.2``/``.7.1`` the same for foreigners and
``.1.1.4`` the RRN. The published CPS documents stop at the .12 arc (no separate arc for the
EC root), so the EC hierarchy uses the 2.16.56.12 arc and the RSA hierarchy the 2.16.56.10
arc, which keeps the two hierarchies distinguishable while both arcs are ones real verifiers
accept. The intermediates carry anyPolicy, as the real Citizen CA 202002 does.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    CertificatePoliciesOID,
    ExtendedKeyUsageOID,
    NameOID,
)

log = logging.getLogger(__name__)

HierarchyKind = Literal["ec", "rsa"]
CaRole = Literal["root", "citizen", "foreigner"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

HIERARCHY_KINDS: Final[tuple[HierarchyKind, ...]] = get_args(HierarchyKind)
CA_ROLES: Final[tuple[CaRole, ...]] = get_args(CaRole)

DEFAULT_PORT: Final = 35980
"""Port of the demo's OCSP/CRL server; next to vpcd's 35963/35964, unassigned by IANA."""
DEFAULT_BASE_URL: Final = f"http://127.0.0.1:{DEFAULT_PORT}"

TEST_ORGANIZATION: Final = "eID Bridge Test PKI"
"""``O=`` of every CA and responder: the marker that a certificate is not production."""

POLICY_ARCS: Final[Mapping[HierarchyKind, str]] = {"ec": "2.16.56.12", "rsa": "2.16.56.10"}

QC_STATEMENTS_OID: Final = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
QC_COMPLIANCE_OID: Final = "0.4.0.1862.1.1"
QC_SSCD_OID: Final = "0.4.0.1862.1.4"
QC_TYPE_OID: Final = "0.4.0.1862.1.6"
QC_TYPE_ESIGN_OID: Final = "0.4.0.1862.1.6.1"

_FORMAT_VERSION: Final = 1
_INDEX_FILE: Final = "index.json"
_REVOCATIONS_FILE: Final = "revocations.json"

# Validity periods mirror the real hierarchy (CA6 20 years, Citizen CA 12 years, card 10 years).
ROOT_VALIDITY: Final = dt.timedelta(days=40 * 365 + 10)
CA_VALIDITY: Final = dt.timedelta(days=30 * 365 + 7)
RRN_VALIDITY: Final = dt.timedelta(days=25 * 365 + 6)
RESPONDER_VALIDITY: Final = dt.timedelta(days=25 * 365 + 6)
CARD_VALIDITY: Final = dt.timedelta(days=10 * 365 + 2)
CLOCK_SKEW_MARGIN: Final = dt.timedelta(days=1)
HIERARCHY_AGE: Final = dt.timedelta(days=11 * 365 + 3)
"""How long before ``now`` the test CAs start: they must predate every card they certify,
including the expired-card scenario issued ten years and a month ago."""
"""Certificates start a day early so a verifier whose clock lags still accepts them."""


@dataclass(frozen=True)
class _HierarchyNames:
    root_cn: str
    ca_serial: Mapping[CaRole, str]
    """``serialNumber=`` of the intermediates, like the real ``Citizen CA, serialNumber=202002``."""
    ca_cn: Mapping[CaRole, str]


_NAMES: Final[Mapping[HierarchyKind, _HierarchyNames]] = {
    "ec": _HierarchyNames(
        root_cn="Belgium Test Root CA6",
        ca_serial={"citizen": "202002", "foreigner": "202001"},
        ca_cn={"citizen": "Test Citizen CA", "foreigner": "Test Foreigner CA"},
    ),
    "rsa": _HierarchyNames(
        root_cn="Belgium Test Root CA4",
        ca_serial={"citizen": "201903", "foreigner": "201904"},
        ca_cn={"citizen": "Test Citizen CA", "foreigner": "Test Foreigner CA"},
    ),
}


# --------------------------------------------------------------------------------------------
# Data objects


class _CertificateEncodings:
    """``der``/``pem`` of the ``cert`` field of the dataclasses below."""

    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class CertifiedKey(_CertificateEncodings):
    """A private key and the certificate of its public key."""

    key: PrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class CertificateAuthority(_CertificateEncodings):
    """A root or intermediate CA with the delegated OCSP responder it certified."""

    name: str
    """URL-safe identifier (``citizen-ec``): the CRL is ``/crl/<name>.crl``."""
    kind: HierarchyKind
    role: CaRole
    key: PrivateKey
    cert: x509.Certificate
    ocsp_responder: CertifiedKey


@dataclass(frozen=True)
class Hierarchy:
    kind: HierarchyKind
    root: CertificateAuthority
    citizen_ca: CertificateAuthority
    foreigner_ca: CertificateAuthority
    rrn: CertifiedKey
    """Cert#8: issued directly by the root, signs the identity and address files."""

    @property
    def cas(self) -> tuple[CertificateAuthority, CertificateAuthority, CertificateAuthority]:
        return (self.root, self.citizen_ca, self.foreigner_ca)

    def ca(self, role: CaRole) -> CertificateAuthority:
        return {"root": self.root, "citizen": self.citizen_ca, "foreigner": self.foreigner_ca}[role]

    @property
    def hash_algorithm(self) -> hashes.SHA256 | hashes.SHA384:
        return _hash_for(self.kind)


@dataclass(frozen=True)
class CardCredentials:
    """Everything a virtual card needs from the PKI: keys #2/#3 and certificates #2-#8."""

    kind: HierarchyKind
    foreigner: bool
    auth_key: PrivateKey
    auth_cert: x509.Certificate
    signature_key: PrivateKey
    signature_cert: x509.Certificate
    ca_cert: x509.Certificate
    root_cert: x509.Certificate
    rrn_cert: x509.Certificate

    @property
    def auth_cert_der(self) -> bytes:
        return _der(self.auth_cert)

    @property
    def signature_cert_der(self) -> bytes:
        return _der(self.signature_cert)

    @property
    def ca_cert_der(self) -> bytes:
        return _der(self.ca_cert)

    @property
    def root_cert_der(self) -> bytes:
        return _der(self.root_cert)

    @property
    def rrn_cert_der(self) -> bytes:
        return _der(self.rrn_cert)


@dataclass(frozen=True)
class Revocation:
    ca: str
    """Name of the issuing CA (``citizen-ec``)."""
    serial_number: int
    reason: x509.ReasonFlags
    revoked_at: dt.datetime


OcspForcedStatus = Literal["good", "revoked", "unknown"]


@dataclass(frozen=True)
class OcspOverrides:
    """Ways to make :meth:`TestPki.ocsp_response` lie, for the server's failure modes.

    The default instance answers truthfully from the revocation state.
    """

    status: OcspForcedStatus | None = None
    """Claim this status for whatever certificate is asked about."""
    revocation_reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise
    revocation_time: dt.datetime | None = None
    """For a forced ``revoked``; default one day before the answer."""
    response_status: ocsp.OCSPResponseStatus | None = None
    """Answer with this unsuccessful status (``TRY_LATER``, ``UNAUTHORIZED``...) instead."""
    stale: bool = False
    """thisUpdate two days and nextUpdate one day in the past."""
    nonce: Literal["echo", "omit", "wrong"] = "echo"
    rogue_signer: bool = False
    """Sign with a self-signed look-alike of the responder that no CA certified."""


# --------------------------------------------------------------------------------------------
# Small helpers


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _utcnow() -> dt.datetime:
    # Whole seconds: ASN.1 times carry none, and equal values make round-trip tests exact.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _as_utc(when: dt.datetime) -> dt.datetime:
    """Aware UTC whole seconds; a naive value is taken to be UTC already, as cryptography does."""
    aware = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    return aware.replace(microsecond=0)


def _hash_for(kind: HierarchyKind) -> hashes.SHA256 | hashes.SHA384:
    return hashes.SHA384() if kind == "ec" else hashes.SHA256()


def _new_key(kind: HierarchyKind, rsa_bits: int = 2048) -> PrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)


def _check_key_kind(kind: HierarchyKind, key: PrivateKey) -> None:
    if kind == "ec":
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
            raise ValueError("keys on an applet 1.8 card are ECDSA P-384")
    elif not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("keys on an applet 1.7 card are RSA")


def subject_public_key_bits(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    """The content of the SPKI BIT STRING, which OCSP CertIDs and key identifiers hash."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def _public_key(cert: x509.Certificate) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise TypeError(f"unexpected key type {type(key).__name__}")
    return key


def _der_tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + content


def _der_oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _der_tlv(0x06, bytes(body))


def _qc_statements() -> x509.UnrecognizedExtension:
    """QcCompliance + QcSSCD + QcType(esign), as on real non-repudiation certificates.

    ``cryptography`` has no class for RFC 3739 qcStatements, so the few bytes are encoded here.
    """
    statements = (
        _der_tlv(0x30, _der_oid(QC_COMPLIANCE_OID))
        + _der_tlv(0x30, _der_oid(QC_SSCD_OID))
        + _der_tlv(
            0x30,
            _der_oid(QC_TYPE_OID) + _der_tlv(0x30, _der_oid(QC_TYPE_ESIGN_OID)),
        )
    )
    return x509.UnrecognizedExtension(QC_STATEMENTS_OID, _der_tlv(0x30, statements))


def _policies(oid: str, cps_url: str) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(oid), [cps_url])])


def _any_policy(cps_url: str) -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(CertificatePoliciesOID.ANY_POLICY, [cps_url])]
    )


def _aia(ocsp_url: str, ca_issuers_url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(ca_issuers_url),
            ),
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            ),
        ]
    )


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _key_usage(
    *, digital_signature: bool = False, non_repudiation: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _sign_certificate(
    *,
    kind: HierarchyKind,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: Iterable[tuple[x509.ExtensionType, bool]],
    serial_number: int | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial_number if serial_number is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, _hash_for(kind))


def address_signed_data(address_file: bytes, identity_signature_file: bytes) -> bytes:
    """What the RRN signs in EF(SGN#Address): the address file without its trailing zero
    padding, followed by EF(SGN#ID) exactly as stored (``belpic.md`` §6.3; trailing-strip, not
    cut-at-first-zero, as eid-viewer does)."""
    return address_file.rstrip(b"\x00") + identity_signature_file


def _rrn_sign(kind: HierarchyKind, key: PrivateKey, data: bytes) -> bytes:
    if kind == "ec":
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("EC hierarchy with a non-EC RRN key")
        return key.sign(data, ec.ECDSA(hashes.SHA384()))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("RSA hierarchy with a non-RSA RRN key")
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write through a temporary file and rename, so a concurrent reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _key_pem(key: PrivateKey) -> bytes:
    # Unencrypted on purpose: these are throw-away test keys that tests and the demo must load
    # without a passphrase. The files are created 0600 all the same.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> PrivateKey:
    # Skipping RSA key validation (our own files) makes loading a PKI ten times faster.
    key = serialization.load_pem_private_key(
        path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path.name}: unexpected key type {type(key).__name__}")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# --------------------------------------------------------------------------------------------
# The PKI


class TestPki:
    """Both test hierarchies, their revocation state, and the CRL/OCSP answers built from it.

    Thread-safe for the server's use: revocation changes and reads are guarded by a lock, so a
    test thread may revoke while the OCSP server thread answers.
    """

    __test__ = False  # a class named Test* must not be collected by pytest

    ocsp_validity: dt.timedelta = dt.timedelta(hours=1)
    """nextUpdate - thisUpdate of OCSP answers."""
    crl_validity: dt.timedelta = dt.timedelta(days=7)
    """nextUpdate - thisUpdate of CRLs."""

    def __init__(
        self,
        hierarchies: Mapping[HierarchyKind, Hierarchy],
        *,
        ocsp_base_url: str,
        crl_base_url: str,
        created: dt.datetime,
        revocations: Iterable[Revocation] = (),
    ) -> None:
        missing = set(HIERARCHY_KINDS) - set(hierarchies)
        if missing:
            raise ValueError(f"missing hierarchies: {sorted(missing)}")
        self._hierarchies: dict[HierarchyKind, Hierarchy] = dict(hierarchies)
        self.ocsp_base_url = ocsp_base_url.rstrip("/")
        self.crl_base_url = crl_base_url.rstrip("/")
        self.created = created
        self._lock = threading.Lock()
        self._revocations: dict[tuple[str, int], Revocation] = {
            (rev.ca, rev.serial_number): rev for rev in revocations
        }
        self._issued: dict[int, str] = {}
        """serial -> CA name of what this process issued, so ``revoke(serial)`` finds the CA."""
        self._crl_number = 0
        self._rogue: dict[str, CertifiedKey] = {}
        self._directory: Path | None = None
        self._generation: str | None = None
        for hierarchy in self._hierarchies.values():
            root_name = hierarchy.root.name
            for ca in hierarchy.cas:
                self._issued[ca.ocsp_responder.cert.serial_number] = ca.name
                if ca.role != "root":
                    self._issued[ca.cert.serial_number] = root_name
            self._issued[hierarchy.rrn.cert.serial_number] = root_name

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        *,
        ocsp_base_url: str = DEFAULT_BASE_URL,
        crl_base_url: str = DEFAULT_BASE_URL,
        now: dt.datetime | None = None,
        rsa_root_bits: int = 4096,
    ) -> TestPki:
        """A fresh PKI in memory (about a second, dominated by the RSA-4096 root)."""
        created = _as_utc(now) if now is not None else _utcnow()
        ocsp_base_url = ocsp_base_url.rstrip("/")
        crl_base_url = crl_base_url.rstrip("/")
        hierarchies = {
            kind: _generate_hierarchy(
                kind,
                now=created,
                ocsp_base_url=ocsp_base_url,
                crl_base_url=crl_base_url,
                rsa_root_bits=rsa_root_bits,
            )
            for kind in HIERARCHY_KINDS
        }
        return cls(
            hierarchies, ocsp_base_url=ocsp_base_url, crl_base_url=crl_base_url, created=created
        )

    @classmethod
    def load(cls, directory: Path) -> TestPki:
        """Load a PKI written by :meth:`save`; later revocations are written back to it."""
        index = json.loads((directory / _INDEX_FILE).read_text(encoding="utf-8"))
        if index.get("format") != _FORMAT_VERSION:
            raise ValueError(f"unsupported test PKI format {index.get('format')!r}")
        generation = str(index["generation"])
        gen_dir = directory / generation
        hierarchies: dict[HierarchyKind, Hierarchy] = {}
        for kind in HIERARCHY_KINDS:
            cas = {
                role: CertificateAuthority(
                    name=f"{role}-{kind}",
                    kind=kind,
                    role=role,
                    key=_load_key(gen_dir / f"{role}-{kind}.key.pem"),
                    cert=_load_cert(gen_dir / f"{role}-{kind}.crt.pem"),
                    ocsp_responder=CertifiedKey(
                        _load_key(gen_dir / f"{role}-{kind}-ocsp.key.pem"),
                        _load_cert(gen_dir / f"{role}-{kind}-ocsp.crt.pem"),
                    ),
                )
                for role in CA_ROLES
            }
            hierarchies[kind] = Hierarchy(
                kind=kind,
                root=cas["root"],
                citizen_ca=cas["citizen"],
                foreigner_ca=cas["foreigner"],
                rrn=CertifiedKey(
                    _load_key(gen_dir / f"rrn-{kind}.key.pem"),
                    _load_cert(gen_dir / f"rrn-{kind}.crt.pem"),
                ),
            )
        revocations_path = gen_dir / _REVOCATIONS_FILE
        revocations = (
            [
                Revocation(
                    ca=str(item["ca"]),
                    serial_number=int(item["serial"], 16),
                    reason=x509.ReasonFlags(item["reason"]),
                    revoked_at=dt.datetime.fromisoformat(item["revoked_at"]),
                )
                for item in json.loads(revocations_path.read_text(encoding="utf-8"))
            ]
            if revocations_path.exists()
            else []
        )
        pki = cls(
            hierarchies,
            ocsp_base_url=str(index["ocsp_base_url"]),
            crl_base_url=str(index["crl_base_url"]),
            created=dt.datetime.fromisoformat(index["created"]),
            revocations=revocations,
        )
        pki._directory = directory
        pki._generation = generation
        return pki

    @classmethod
    def load_or_create(
        cls,
        directory: Path,
        *,
        ocsp_base_url: str,
        crl_base_url: str,
        rsa_root_bits: int = 4096,
    ) -> TestPki:
        """Reuse the PKI saved in ``directory``, or generate and save one.

        A saved PKI whose certificates point at other URLs is useless to a server on these
        URLs, so it is replaced (a new generation sub-directory; the old one stays on disk).
        """
        ocsp_base_url = ocsp_base_url.rstrip("/")
        crl_base_url = crl_base_url.rstrip("/")
        if (directory / _INDEX_FILE).exists():
            try:
                pki = cls.load(directory)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("test PKI in %s unreadable (%s); generating a new one", directory, exc)
            else:
                if pki.ocsp_base_url == ocsp_base_url and pki.crl_base_url == crl_base_url:
                    return pki
                log.info(
                    "test PKI in %s was made for %s / %s; generating one for %s / %s",
                    directory,
                    pki.ocsp_base_url,
                    pki.crl_base_url,
                    ocsp_base_url,
                    crl_base_url,
                )
        pki = cls.generate(
            ocsp_base_url=ocsp_base_url, crl_base_url=crl_base_url, rsa_root_bits=rsa_root_bits
        )
        pki.save(directory)
        return pki

    def save(self, directory: Path) -> None:
        """Write PEM keys and certificates plus ``index.json`` under ``directory``.

        Files go to a fresh ``gen-<random>`` sub-directory and ``index.json`` is replaced last
        and atomically, so two processes creating a PKI at once each leave a consistent one and
        readers never see a mix. From now on revocations are persisted there as they happen.
        """
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        generation = f"gen-{secrets.token_hex(6)}"
        gen_dir = directory / generation
        gen_dir.mkdir(mode=0o700)
        for kind, hierarchy in self._hierarchies.items():
            for ca in hierarchy.cas:
                _write_atomic(gen_dir / f"{ca.name}.key.pem", _key_pem(ca.key))
                _write_atomic(gen_dir / f"{ca.name}.crt.pem", ca.pem, 0o644)
                _write_atomic(gen_dir / f"{ca.name}-ocsp.key.pem", _key_pem(ca.ocsp_responder.key))
                _write_atomic(gen_dir / f"{ca.name}-ocsp.crt.pem", ca.ocsp_responder.pem, 0o644)
            _write_atomic(gen_dir / f"rrn-{kind}.key.pem", _key_pem(hierarchy.rrn.key))
            _write_atomic(gen_dir / f"rrn-{kind}.crt.pem", hierarchy.rrn.pem, 0o644)
        with self._lock:
            self._directory = directory
            self._generation = generation
            self._persist_revocations_locked()
        index = {
            "format": _FORMAT_VERSION,
            "generation": generation,
            "ocsp_base_url": self.ocsp_base_url,
            "crl_base_url": self.crl_base_url,
            "created": self.created.isoformat(),
            "comment": "eID Bridge test PKI - test keys, never trust outside tests and the demo",
        }
        _write_atomic(directory / _INDEX_FILE, json.dumps(index, indent=2).encode("utf-8"), 0o644)

    @property
    def directory(self) -> Path | None:
        return self._directory

    # -- lookup ------------------------------------------------------------------------------

    @property
    def ec(self) -> Hierarchy:
        return self._hierarchies["ec"]

    @property
    def rsa(self) -> Hierarchy:
        return self._hierarchies["rsa"]

    def hierarchy(self, kind: HierarchyKind) -> Hierarchy:
        try:
            return self._hierarchies[kind]
        except KeyError:
            raise ValueError(f"unknown hierarchy {kind!r}; expected 'ec' or 'rsa'") from None

    @property
    def hierarchies(self) -> Mapping[HierarchyKind, Hierarchy]:
        return dict(self._hierarchies)

    def cas(self) -> Iterator[CertificateAuthority]:
        for hierarchy in self._hierarchies.values():
            yield from hierarchy.cas

    def issuing_ca_ders(self) -> tuple[bytes, ...]:
        """DER of the CAs that issue card certificates (Citizen and Foreigner CA of each
        hierarchy): what a relying party passes to its token validator as intermediates."""
        return tuple(
            ca.der for h in self._hierarchies.values() for ca in (h.citizen_ca, h.foreigner_ca)
        )

    def ca(self, name: str) -> CertificateAuthority:
        for ca in self.cas():
            if ca.name == name:
                return ca
        raise KeyError(f"no CA named {name!r}")

    def issuer_of(self, cert: x509.Certificate) -> CertificateAuthority | None:
        """The CA of this PKI that issued ``cert`` (by name, then checked by signature)."""
        for ca in self.cas():
            if ca.cert.subject == cert.issuer:
                try:
                    cert.verify_directly_issued_by(ca.cert)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return ca
        return None

    def ocsp_url(self, kind: HierarchyKind) -> str:
        return f"{self.ocsp_base_url}/ocsp/{kind}"

    def crl_url(self, ca_name: str) -> str:
        return f"{self.crl_base_url}/crl/{ca_name}.crl"

    def ca_cert_url(self, ca_name: str) -> str:
        return f"{self.crl_base_url}/ca/{ca_name}.crt"

    # -- card issuance -----------------------------------------------------------------------

    def issue_card(
        self,
        hierarchy: HierarchyKind,
        *,
        national_number: str,
        first_names: str,
        surname: str,
        foreigner: bool = False,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        auth_key: PrivateKey | None = None,
        signature_key: PrivateKey | None = None,
    ) -> CardCredentials:
        """New authentication and non-repudiation keys and certificates for one card.

        Subject as on real cards: ``C=BE, CN=<first given name> <surname> (Authentication|
        Signature), SN=<surname>, GN=<all given names>, serialNumber=<national number>``.
        Default validity: from a day ago for ten years, but never past the CA's own end.
        Pass ``auth_key``/``signature_key`` to certify existing keys.
        """
        if len(national_number) != 11 or not national_number.isdigit():
            raise ValueError("national_number must be the 11-digit national register number")
        if not first_names.strip() or not surname.strip():
            raise ValueError("first_names and surname must not be empty")
        h = self.hierarchy(hierarchy)
        ca = h.foreigner_ca if foreigner else h.citizen_ca
        start = _as_utc(not_before) if not_before else _utcnow() - CLOCK_SKEW_MARGIN
        end = (
            _as_utc(not_after)
            if not_after
            else min(start + CARD_VALIDITY, ca.cert.not_valid_after_utc)
        )
        if end <= start:
            raise ValueError("not_after must be later than not_before")
        keys: dict[str, PrivateKey] = {}
        for purpose, given in (("auth", auth_key), ("sign", signature_key)):
            key = given if given is not None else _new_key(hierarchy)
            _check_key_kind(hierarchy, key)
            keys[purpose] = key

        arc = POLICY_ARCS[hierarchy]
        population = "7" if foreigner else "2"
        common_name = f"{first_names.split()[0]} {surname}"
        certs: dict[str, x509.Certificate] = {}
        for purpose, label in (("auth", "Authentication"), ("sign", "Signature")):
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} ({label})"),
                    x509.NameAttribute(NameOID.SURNAME, surname),
                    x509.NameAttribute(NameOID.GIVEN_NAME, first_names),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, national_number),
                ]
            )
            public_key = _public_key_of(keys[purpose])
            extensions: list[tuple[x509.ExtensionType, bool]] = [
                (x509.AuthorityKeyIdentifier.from_issuer_public_key(_public_key(ca.cert)), False),
                (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
                (_aia(self.ocsp_url(hierarchy), self.ca_cert_url(ca.name)), False),
                (_crl_dp(self.crl_url(ca.name)), False),
                (x509.BasicConstraints(ca=False, path_length=None), True),
            ]
            if purpose == "auth":
                extensions += [
                    (_key_usage(digital_signature=True), True),
                    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
                    (_policies(f"{arc}.1.1.{population}.2", self._cps_url()), False),
                ]
            else:
                extensions += [
                    (_key_usage(non_repudiation=True), True),
                    (_policies(f"{arc}.1.1.{population}.1", self._cps_url()), False),
                    (_qc_statements(), False),
                ]
            certs[purpose] = _sign_certificate(
                kind=hierarchy,
                subject=subject,
                public_key=public_key,
                issuer=ca.cert.subject,
                issuer_key=ca.key,
                not_before=start,
                not_after=end,
                extensions=extensions,
            )
        with self._lock:
            for cert in certs.values():
                self._issued[cert.serial_number] = ca.name
        return CardCredentials(
            kind=hierarchy,
            foreigner=foreigner,
            auth_key=keys["auth"],
            auth_cert=certs["auth"],
            signature_key=keys["sign"],
            signature_cert=certs["sign"],
            ca_cert=ca.cert,
            root_cert=h.root.cert,
            rrn_cert=h.rrn.cert,
        )

    def _cps_url(self) -> str:
        return f"{self.crl_base_url}/cps"

    # -- RRN signatures ----------------------------------------------------------------------

    def sign_identity(self, hierarchy: HierarchyKind, identity_file: bytes) -> bytes:
        """EF(SGN#ID): the RRN's signature over EF(ID#RN) exactly as stored on the card.

        EC: DER ``ECDSA-Sig-Value`` (ECDSA P-384, SHA-384), unpadded - the card file's zero
        padding is the card builder's business. RSA: PKCS#1 v1.5 with SHA-256, 256 bytes.
        """
        h = self.hierarchy(hierarchy)
        return _rrn_sign(hierarchy, h.rrn.key, identity_file)

    def sign_address(
        self, hierarchy: HierarchyKind, address_file: bytes, identity_signature: bytes
    ) -> bytes:
        """EF(SGN#Address): the RRN's signature over :func:`address_signed_data`.

        ``identity_signature`` must be the EF(SGN#ID) content as the card stores it (zero
        padding included on EC cards), because verifiers append the file as read.
        """
        h = self.hierarchy(hierarchy)
        return _rrn_sign(
            hierarchy, h.rrn.key, address_signed_data(address_file, identity_signature)
        )

    # -- revocation --------------------------------------------------------------------------

    def revoke(
        self,
        certificate: x509.Certificate | int,
        reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
        when: dt.datetime | None = None,
        *,
        ca: str | None = None,
    ) -> Revocation:
        """Mark a certificate revoked (``certificate_hold`` for a suspension).

        ``certificate`` is a certificate or a serial number; a bare serial is looked up among
        the certificates issued by this object, or needs ``ca``. Persisted at once when the
        PKI lives in a directory.
        """
        if reason == x509.ReasonFlags.remove_from_crl:
            raise ValueError("removeFromCRL is not a revocation reason; use unrevoke()")
        ca_name, serial = self._locate(certificate, ca)
        revocation = Revocation(
            ca=ca_name,
            serial_number=serial,
            reason=reason,
            revoked_at=_as_utc(when) if when is not None else _utcnow(),
        )
        with self._lock:
            self._revocations[(ca_name, serial)] = revocation
            self._persist_revocations_locked()
        return revocation

    def unrevoke(self, certificate: x509.Certificate | int, *, ca: str | None = None) -> bool:
        """Lift a revocation (e.g. the end of a suspension); True if there was one."""
        ca_name, serial = self._locate(certificate, ca)
        with self._lock:
            removed = self._revocations.pop((ca_name, serial), None) is not None
            if removed:
                self._persist_revocations_locked()
        return removed

    def clear_revocations(self) -> None:
        with self._lock:
            self._revocations.clear()
            self._persist_revocations_locked()

    @property
    def revocations(self) -> tuple[Revocation, ...]:
        with self._lock:
            return tuple(self._revocations.values())

    def revocation_of(self, ca_name: str, serial_number: int) -> Revocation | None:
        with self._lock:
            return self._revocations.get((ca_name, serial_number))

    def _locate(self, certificate: x509.Certificate | int, ca: str | None) -> tuple[str, int]:
        if isinstance(certificate, x509.Certificate):
            serial = certificate.serial_number
            if ca is None:
                issuer = self.issuer_of(certificate)
                if issuer is None:
                    raise ValueError("certificate was not issued by this test PKI")
                ca = issuer.name
        else:
            serial = certificate
            if ca is None:
                with self._lock:
                    ca = self._issued.get(serial)
                if ca is None:
                    raise ValueError(f"serial {serial:#x} unknown here; pass ca=<CA name>")
        self.ca(ca)  # raises KeyError for a wrong name
        return ca, serial

    def _persist_revocations_locked(self) -> None:
        if self._directory is None or self._generation is None:
            return
        items = [
            {
                "ca": rev.ca,
                "serial": format(rev.serial_number, "x"),
                "reason": rev.reason.value,
                "revoked_at": rev.revoked_at.isoformat(),
            }
            for rev in sorted(self._revocations.values(), key=lambda r: (r.ca, r.serial_number))
        ]
        _write_atomic(
            self._directory / self._generation / _REVOCATIONS_FILE,
            json.dumps(items, indent=2).encode("utf-8"),
        )

    # -- CRL ---------------------------------------------------------------------------------

    def crl_der(
        self,
        ca: str | CertificateAuthority,
        *,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | None = None,
    ) -> bytes:
        """A full CRL of ``ca``'s revocations, signed by the CA itself.

        thisUpdate now, nextUpdate :attr:`crl_validity` later unless given. The CRL number grows
        with every CRL this object makes (milliseconds since the epoch, then +1), so a client
        can tell newer from older.
        """
        authority = self.ca(ca) if isinstance(ca, str) else ca
        last = _as_utc(this_update) if this_update is not None else _utcnow()
        nxt = _as_utc(next_update) if next_update is not None else last + self.crl_validity
        with self._lock:
            entries = [rev for rev in self._revocations.values() if rev.ca == authority.name]
            self._crl_number = max(self._crl_number + 1, int(last.timestamp() * 1000))
            number = self._crl_number
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(authority.cert.subject)
            .last_update(last)
            .next_update(nxt)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(_public_key(authority.cert)),
                critical=False,
            )
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        for rev in sorted(entries, key=lambda r: r.serial_number):
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(rev.serial_number)
                .revocation_date(rev.revoked_at)
            )
            # RFC 5280 5.3.1: leave the reason out rather than say "unspecified".
            if rev.reason != x509.ReasonFlags.unspecified:
                entry = entry.add_extension(x509.CRLReason(rev.reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        crl = builder.sign(authority.key, _hash_for(authority.kind))
        return crl.public_bytes(serialization.Encoding.DER)

    # -- OCSP --------------------------------------------------------------------------------

    def ocsp_response(
        self,
        request_der: bytes,
        *,
        kind: HierarchyKind | None = None,
        overrides: OcspOverrides | None = None,
    ) -> bytes:
        """A DER OCSPResponse for a DER OCSPRequest.

        The answer is signed by the delegated responder of the CA named in the request's
        CertID (found by issuer name and key hash, with whatever hash the client chose), and
        carries the responder certificate and, for intermediates, the CA certificate so that a
        client holding only the root can verify it. Status: revoked if :meth:`revoke` said so,
        otherwise good (a CRL-backed responder: every serial of a CA it serves that is not
        revoked is good); ``unauthorized`` for a CA this responder does not serve (``kind``
        restricts it to one hierarchy, as the per-hierarchy URLs do); ``malformedRequest`` for
        bytes that are not a single-certificate request. The request nonce is echoed.
        """
        opts = overrides or OcspOverrides()
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            # Parsed lazily by cryptography; touch the fields now so garbage fails here.
            _ = (request.serial_number, request.issuer_key_hash, request.hash_algorithm)
        except (ValueError, TypeError, NotImplementedError):
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if opts.response_status is not None:
            return _unsuccessful(opts.response_status)
        authority = self._ca_for_request(request, kind)
        if authority is None:
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

        now = _utcnow()
        revocation_time: dt.datetime | None = None
        revocation_reason: x509.ReasonFlags | None = None
        if opts.status == "good":
            status = ocsp.OCSPCertStatus.GOOD
        elif opts.status == "unknown":
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif opts.status == "revoked":
            status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = (
                _as_utc(opts.revocation_time)
                if opts.revocation_time is not None
                else now - dt.timedelta(days=1)
            )
            revocation_reason = opts.revocation_reason
        else:
            rev = self.revocation_of(authority.name, request.serial_number)
            if rev is None:
                status = ocsp.OCSPCertStatus.GOOD
            else:
                status = ocsp.OCSPCertStatus.REVOKED
                revocation_time = rev.revoked_at
                revocation_reason = rev.reason
        if revocation_reason == x509.ReasonFlags.unspecified:
            revocation_reason = None  # omitted rather than "unspecified", as in the CRL

        if opts.stale:
            this_update, next_update = now - dt.timedelta(days=2), now - dt.timedelta(days=1)
        else:
            this_update, next_update = now, now + self.ocsp_validity

        signer = self._rogue_signer(authority) if opts.rogue_signer else authority.ocsp_responder
        chain = [signer.cert] if authority.role == "root" else [signer.cert, authority.cert]
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=status,
                this_update=this_update,
                next_update=next_update,
                revocation_time=revocation_time,
                revocation_reason=revocation_reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
            .certificates(chain)
        )
        nonce = _request_nonce(request)
        if nonce is not None and opts.nonce != "omit":
            if opts.nonce == "wrong":
                nonce = bytes(b ^ 0xFF for b in nonce) or b"\x00"
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(signer.key, _hash_for(authority.kind))
        return response.public_bytes(serialization.Encoding.DER)

    def _ca_for_request(
        self, request: ocsp.OCSPRequest, kind: HierarchyKind | None
    ) -> CertificateAuthority | None:
        algorithm = request.hash_algorithm
        for ca in self.cas():
            if kind is not None and ca.kind != kind:
                continue
            name_hash = hashes.Hash(algorithm)
            name_hash.update(ca.cert.subject.public_bytes())
            key_hash = hashes.Hash(algorithm)
            key_hash.update(subject_public_key_bits(_public_key(ca.cert)))
            if (
                name_hash.finalize() == request.issuer_name_hash
                and key_hash.finalize() == request.issuer_key_hash
            ):
                return ca
        return None

    def _rogue_signer(self, authority: CertificateAuthority) -> CertifiedKey:
        """A responder certificate with the right name that no CA of this PKI issued."""
        with self._lock:
            rogue = self._rogue.get(authority.name)
        if rogue is not None:
            return rogue
        key = _new_key(authority.kind)
        subject = authority.ocsp_responder.cert.subject
        now = _utcnow()
        cert = _sign_certificate(
            kind=authority.kind,
            subject=subject,
            public_key=_public_key_of(key),
            issuer=subject,
            issuer_key=key,
            not_before=now - CLOCK_SKEW_MARGIN,
            not_after=now + dt.timedelta(days=30),
            extensions=[
                (_key_usage(digital_signature=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
            ],
        )
        rogue = CertifiedKey(key, cert)
        with self._lock:
            self._rogue[authority.name] = rogue
        return rogue


def _public_key_of(key: PrivateKey) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    return key.public_key()


def _request_nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


# --------------------------------------------------------------------------------------------
# Hierarchy generation


def _ca_subject(kind: HierarchyKind, role: CaRole) -> x509.Name:
    names = _NAMES[kind]
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "BE")]
    if kind == "ec":
        # Layout of Belgium Root CA6 and its CAs: C, L, O, OU..., [serialNumber], CN.
        attributes += [
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Brussels"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Not for production use"),
        ]
        if role != "root":
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, names.ca_serial[role]))
        cn = names.root_cn if role == "root" else names.ca_cn[role]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    else:
        # Layout of Belgium Root CA4 (C, CN) and its CAs (C, CN, serialNumber), plus the O
        # that marks the test PKI.
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION))
        if role == "root":
            attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, names.root_cn))
        else:
            attributes += [
                x509.NameAttribute(NameOID.COMMON_NAME, names.ca_cn[role]),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, names.ca_serial[role]),
            ]
    return x509.Name(attributes)


def _generate_hierarchy(
    kind: HierarchyKind,
    *,
    now: dt.datetime,
    ocsp_base_url: str,
    crl_base_url: str,
    rsa_root_bits: int,
) -> Hierarchy:
    start = now - HIERARCHY_AGE
    cps_url = f"{crl_base_url}/cps"
    ocsp_url = f"{ocsp_base_url}/ocsp/{kind}"
    root_name = f"root-{kind}"
    arc = POLICY_ARCS[kind]

    root_key = _new_key(kind, rsa_root_bits)
    root_subject = _ca_subject(kind, "root")
    root_ski = x509.SubjectKeyIdentifier.from_public_key(_public_key_of(root_key))
    root_extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=True, path_length=1), True),
        (_key_usage(ca=True), True),
        (root_ski, False),
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), False),
    ]
    if kind == "rsa":
        # Belgium Root CA4 names its own policy arc; CA6 has no policies extension.
        root_extensions.append((_policies(f"{arc}.1.1", cps_url), False))
    root_cert = _sign_certificate(
        kind=kind,
        subject=root_subject,
        public_key=_public_key_of(root_key),
        issuer=root_subject,
        issuer_key=root_key,
        not_before=start,
        not_after=start + ROOT_VALIDITY,
        extensions=root_extensions,
    )

    def under_root_extensions() -> list[tuple[x509.ExtensionType, bool]]:
        return [
            (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), False),
            (_aia(ocsp_url, f"{crl_base_url}/ca/{root_name}.crt"), False),
            (_crl_dp(f"{crl_base_url}/crl/{root_name}.crl"), False),
        ]

    def responder(issuer: x509.Name, issuer_key: PrivateKey, label: str) -> CertifiedKey:
        key = _new_key(kind)
        cert = _sign_certificate(
            kind=kind,
            subject=x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"Test OCSP Responder ({label})"),
                ]
            ),
            public_key=_public_key_of(key),
            issuer=issuer,
            issuer_key=issuer_key,
            not_before=start,
            not_after=start + RESPONDER_VALIDITY,
            extensions=[
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (_key_usage(digital_signature=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
                # id-pkix-ocsp-nocheck: clients need not check the responder's own status,
                # which would otherwise be an infinite regress.
                (x509.OCSPNoCheck(), False),
                (
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(_public_key_of(issuer_key)),
                    False,
                ),
                (x509.SubjectKeyIdentifier.from_public_key(_public_key_of(key)), False),
            ],
        )
        return CertifiedKey(key, cert)

    root = CertificateAuthority(
        name=root_name,
        kind=kind,
        role="root",
        key=root_key,
        cert=root_cert,
        ocsp_responder=responder(root_subject, root_key, _NAMES[kind].root_cn),
    )

    intermediates: dict[CaRole, CertificateAuthority] = {}
    intermediate_roles: tuple[CaRole, ...] = ("citizen", "foreigner")
    for role in intermediate_roles:
        key = _new_key(kind)
        subject = _ca_subject(kind, role)
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(ca=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(_public_key_of(key)), False),
            (_any_policy(cps_url), False),
            *under_root_extensions(),
        ]
        if kind == "ec":
            # Citizen CA 202002 restricts its subtree to client authentication and e-mail.
            extensions.append(
                (
                    x509.ExtendedKeyUsage(
                        [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
                    ),
                    False,
                )
            )
        cert = _sign_certificate(
            kind=kind,
            subject=subject,
            public_key=_public_key_of(key),
            issuer=root_subject,
            issuer_key=root_key,
            not_before=start,
            not_after=start + CA_VALIDITY,
            extensions=extensions,
        )
        label = f"{_NAMES[kind].ca_cn[role]} {_NAMES[kind].ca_serial[role]}"
        intermediates[role] = CertificateAuthority(
            name=f"{role}-{kind}",
            kind=kind,
            role=role,
            key=key,
            cert=cert,
            ocsp_responder=responder(subject, key, label),
        )

    # The RRN certificate keeps the exact real subject (C=BE, O=RRN, CN=RRN) because
    # verifiers match it literally; it is a test certificate by virtue of its test root.
    rrn_key = _new_key(kind)
    rrn_cert = _sign_certificate(
        kind=kind,
        subject=x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RRN"),
                x509.NameAttribute(NameOID.COMMON_NAME, "RRN"),
            ]
        ),
        public_key=_public_key_of(rrn_key),
        issuer=root_subject,
        issuer_key=root_key,
        not_before=start,
        not_after=start + RRN_VALIDITY,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(digital_signature=True, non_repudiation=True), True),
            (_policies(f"{arc}.1.1.4", cps_url), False),
            (x509.SubjectKeyIdentifier.from_public_key(_public_key_of(rrn_key)), False),
            *under_root_extensions(),
        ],
    )
    return Hierarchy(
        kind=kind,
        root=root,
        citizen_ca=intermediates["citizen"],
        foreigner_ca=intermediates["foreigner"],
        rrn=CertifiedKey(rrn_key, rrn_cert),
    )


__all__ = [
    "CA_ROLES",
    "DEFAULT_BASE_URL",
    "DEFAULT_PORT",
    "HIERARCHY_KINDS",
    "POLICY_ARCS",
    "QC_STATEMENTS_OID",
    "TEST_ORGANIZATION",
    "CaRole",
    "CardCredentials",
    "CertificateAuthority",
    "CertifiedKey",
    "Hierarchy",
    "HierarchyKind",
    "OcspForcedStatus",
    "OcspOverrides",
    "PrivateKey",
    "Revocation",
    "TestPki",
    "address_signed_data",
    "subject_public_key_bits",
]
