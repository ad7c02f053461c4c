"""Getting OCSP responses and CRLs for the certificates of a trusted path, with a disk cache.

Why not pyhanko-certvalidator's own fetchers: we need (1) a cache on disk that outlives the
process so that a warm validation makes no network request, (2) the guarantee that only URLs
written in a certificate we already chained to a trusted root are contacted, and (3) OCSP
first with the CRL only as a fallback. So this module fetches, checks what it fetched just
enough to decide whether to keep it (parsable, signed by the issuer or its delegated
responder, fresh, about the right certificate), and hands the DER to pyhanko-certvalidator,
which then does the authoritative revocation checking with fetching disabled.

For signatures (hard-fail) the OCSP status is asked afresh with a nonce, and an answer echoing
another nonce is refused (a replayed answer); responders that ignore nonces are accepted, as
RFC 8954 allows. Login checks send no nonce, so their answers can be cached and reused.
Freshness is judged from thisUpdate/nextUpdate instead, as RFC 5019 (lightweight OCSP) does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

if TYPE_CHECKING:
    from bridge.config import Settings

log = logging.getLogger(__name__)

RevocationMode = Literal["hard-fail", "soft-fail", "none"]
CLOCK_SKEW = dt.timedelta(minutes=5)
"""Tolerance for a responder whose clock runs ahead of ours (thisUpdate slightly in the
future)."""
ALLOWED_SCHEMES = ("http://", "https://")
"""OCSP and CRLs are signed, so plain HTTP is the norm (the Belgian eID uses it); LDAP and
file URLs are refused outright."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RevocationCache:
    """OCSP responses and CRLs on disk (and in memory), reused while fresh.

    Files are named by a hash of what they answer for, written atomically, and re-checked for
    freshness on every read, so a stale or damaged file is simply ignored and replaced.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, tuple[bytes, dt.datetime]] = {}
        self.verdicts: dict[bytes, tuple[object, dt.datetime]] = {}
        """Verdicts by a digest of all their inputs (certificates, roots, revocation data),
        kept until the earliest nextUpdate/notAfter among those inputs: re-running path
        validation on identical inputs inside that window gives the identical answer, and
        skipping it is what makes a warm validation take well under 5 ms."""

    @classmethod
    def for_settings(cls, settings: Settings) -> RevocationCache:
        return cls(settings.cache_dir / "revocation")

    @staticmethod
    def ocsp_key(url: str, issuer: x509.Certificate, serial: int) -> str:
        raw = f"{url}\0{issuer.fingerprint(hashes.SHA256()).hex()}\0{serial:x}"
        return "ocsp-" + hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def crl_key(url: str) -> str:
        return "crl-" + hashlib.sha256(url.encode()).hexdigest()

    def get(self, key: str, now: dt.datetime) -> tuple[bytes, dt.datetime] | None:
        """The cached DER and its nextUpdate, if still fresh at ``now``."""
        hit = self._memory.get(key)
        if hit is not None and now < hit[1]:
            return hit
        if self.directory is None:
            return None
        path = self.directory / f"{key}.der"
        try:
            der = path.read_bytes()
        except OSError:
            return None
        next_update = _next_update(key, der)
        if next_update is None or now >= next_update:
            return None
        self._memory[key] = (der, next_update)
        return der, next_update

    def put(self, key: str, der: bytes, next_update: dt.datetime) -> None:
        self._memory[key] = (der, next_update)
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(der)
            os.replace(tmp, self.directory / f"{key}.der")
        except OSError as exc:  # a read-only cache costs speed, never correctness
            log.warning("cannot write revocation cache %s: %s", self.directory, exc)

    def clear_memory(self) -> None:
        """Forget the in-memory layer (the disk stays): what a new process would see."""
        self._memory.clear()
        self.verdicts.clear()


def _next_update(key: str, der: bytes) -> dt.datetime | None:
    try:
        if key.startswith("ocsp-"):
            return ocsp.load_der_ocsp_response(der).next_update_utc
        return x509.load_der_x509_crl(der).next_update_utc
    except ValueError:
        return None


@dataclass
class RevocationPolicy:
    """How revocation is checked.

    ``mode`` ``None`` picks per purpose: hard-fail for signatures (a qualified signature with
    a revoked key is worthless, so no status means no signature), soft-fail for login (a
    citizen must not be locked out of a portal because an OCSP responder is down; the verdict
    then carries a warning). ``"none"`` skips revocation: offline checks of CA certificates.
    """

    mode: RevocationMode | None = None
    timeout: float = 5.0
    """Seconds for one HTTP exchange (connect + answer)."""
    cache: RevocationCache = field(default_factory=lambda: RevocationCache(None))
    allow_fetching: bool = True
    """False: use only what is cached."""

    @classmethod
    def for_settings(
        cls, settings: Settings, mode: RevocationMode | None = None
    ) -> RevocationPolicy:
        return cls(mode=mode, cache=RevocationCache.for_settings(settings))


@dataclass
class Gathered:
    ocsps: list[bytes] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Why status could not be obtained for a certificate (empty when every one has some)."""
    network_requests: int = 0
    fresh_until: dt.datetime | None = None
    """Earliest nextUpdate of the data gathered."""

    def keep(self, kind: Literal["ocsp", "crl"], der: bytes, next_update: dt.datetime) -> None:
        (self.ocsps if kind == "ocsp" else self.crls).append(der)
        if self.fresh_until is None or next_update < self.fresh_until:
            self.fresh_until = next_update


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
        and d.access_location.value.startswith(ALLOWED_SCHEMES)
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for dp in dps
        for name in dp.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
        and name.value.startswith(ALLOWED_SCHEMES)
    ]


def _verify_signature(
    public_key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    if algorithm is None:
        return False
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _ocsp_signed_by_issuer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Signed by the issuer itself or by a responder certificate the issuer gave the
    OCSPSigning usage (RFC 6960 4.2.2.2). pyhanko re-checks; this only decides caching."""
    candidates = [issuer]
    for responder in response.certificates:
        try:
            responder.verify_directly_issued_by(issuer)
            eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            candidates.append(responder)
    return any(
        _verify_signature(
            c.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        )
        for c in candidates
    )


class Fetcher:
    """Gathers revocation data for one validation; owns at most one HTTP session."""

    def __init__(
        self, policy: RevocationPolicy, now: dt.datetime, *, fresh_ocsp: bool = False
    ) -> None:
        self.policy = policy
        self.now = now
        self.fresh_ocsp = fresh_ocsp
        """Ask OCSP afresh with a nonce instead of reusing a cached answer."""
        self._session: aiohttp.ClientSession | None = None
        self.result = Gathered()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env: honour HTTP(S)_PROXY/NO_PROXY, as enterprise networks need.
            self._session = aiohttp.ClientSession(
                trust_env=True, timeout=aiohttp.ClientTimeout(total=self.policy.timeout)
            )
        return self._session

    async def _get(self, url: str, body: bytes | None) -> bytes:
        self.result.network_requests += 1
        session = self._http()
        if body is None:
            request = session.get(url)
        else:
            request = session.post(
                url, data=body, headers={"Content-Type": "application/ocsp-request"}
            )
        async with request as response:
            if response.status != 200:
                raise OSError(f"HTTP {response.status} from {url}")
            return await response.read()

    async def status_of(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        """OCSP first, then the CRL; records what was found or why nothing was."""
        reasons: list[str] = []
        for url in ocsp_urls(cert):
            found = await self._ocsp(url, cert, issuer, reasons)
            if found is not None:
                self.result.keep("ocsp", *found)
                return
        for url in crl_urls(cert):
            found = await self._crl(url, issuer, reasons)
            if found is not None:
                self.result.keep("crl", *found)
                return
        if not reasons:
            return  # the certificate declares no status source: nothing to check
        self.result.problems.append(f"{cert.subject.rfc4514_string()}: " + "; ".join(reasons))

    async def _ocsp(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate, reasons: list[str]
    ) -> tuple[bytes, dt.datetime] | None:
        cache = self.policy.cache
        key = cache.ocsp_key(url, issuer, cert.serial_number)
        cached = None if self.fresh_ocsp else cache.get(key, self.now)
        if cached is not None:
            return cached
        if not self.policy.allow_fetching:
            reasons.append(f"OCSP {url}: not cached and fetching disabled")
            return None
        # SHA-1 CertID: what every responder supports (RFC 5019), it is an identifier only.
        builder = ocsp.OCSPRequestBuilder().add_certificate(
            cert,
            issuer,
            hashes.SHA1(),  # noqa: S303
        )
        nonce = secrets.token_bytes(32) if self.fresh_ocsp else None
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        request = builder.build().public_bytes(serialization.Encoding.DER)
        try:
            der = await self._get(url, request)
            response = ocsp.load_der_ocsp_response(der)
        except (OSError, TimeoutError, aiohttp.ClientError, ValueError) as exc:
            reasons.append(f"OCSP {url}: {_describe(exc)}")
            return None
        problem = self._check_ocsp(response, cert, issuer) or _nonce_problem(response, nonce)
        if problem:
            reasons.append(f"OCSP {url}: {problem}")
            return None
        # A response without nextUpdate is good for this validation only (RFC 6960 4.2.2.1).
        next_update = response.next_update_utc
        if next_update is None:
            return der, self.now
        cache.put(key, der, next_update)
        return der, next_update

    def _check_ocsp(
        self, response: ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate
    ) -> str | None:
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return f"responder answered {response.response_status.name}"
        if response.serial_number != cert.serial_number:
            return "answer about another certificate"
        if response.this_update_utc > self.now + CLOCK_SKEW:
            return "answer dated in the future"
        if response.next_update_utc is not None and response.next_update_utc <= self.now:
            return "stale answer (nextUpdate passed)"
        if not _ocsp_signed_by_issuer(response, issuer):
            return "answer not signed by the issuing CA or its responder"
        return None

    async def _crl(
        self, url: str, issuer: x509.Certificate, reasons: list[str]
    ) -> tuple[bytes, dt.datetime] | None:
        cache = self.policy.cache
        key = cache.crl_key(url)
        cached = cache.get(key, self.now)
        if cached is not None:
            return cached
        if not self.policy.allow_fetching:
            reasons.append(f"CRL {url}: not cached and fetching disabled")
            return None
        try:
            der = await self._get(url, None)
            crl = x509.load_der_x509_crl(der)
        except (OSError, TimeoutError, aiohttp.ClientError, ValueError) as exc:
            reasons.append(f"CRL {url}: {_describe(exc)}")
            return None
        next_update = crl.next_update_utc
        if crl.issuer != issuer.subject or not crl.is_signature_valid(
            issuer.public_key()  # type: ignore[arg-type]
        ):
            reasons.append(f"CRL {url}: not signed by the issuing CA")
            return None
        if next_update is None or next_update <= self.now:
            reasons.append(f"CRL {url}: stale (nextUpdate passed)")
            return None
        cache.put(key, der, next_update)
        return der, next_update


def _nonce_problem(response: ocsp.OCSPResponse, sent: bytes | None) -> str | None:
    if sent is None:
        return None
    try:
        echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None  # the responder does not support nonces
    if echoed != sent:
        return "answer carries another request's nonce (replayed?)"
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
