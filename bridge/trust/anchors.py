"""Trust anchors: the Belgian eID production roots, and - only on explicit request - the test
PKI's roots.

Guard against test roots in production. A :class:`TrustStore` holds test roots only when it
was made by :meth:`TrustStore.for_test_pki` or by :meth:`TrustStore.for_settings` with
``Settings.demo`` true (``demo`` defaults to false and is set only by the demo launcher and
tests). Both refuse any would-be test root whose subject does not carry
``O=eID Bridge Test PKI`` (:data:`bridge.emulator.pki.TEST_ORGANIZATION`), so a real CA can
never be smuggled in as a "test" root, and :func:`bridge.trust.validate.validate` adds a
warning to every verdict whose path ends at a test root. The production store is built from
the PEM files shipped in ``bridge/trust/roots`` and nothing else: no OS trust list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from bridge.config import Settings
    from bridge.emulator.pki import TestPki

# Duplicated from bridge.emulator.pki (and checked equal in the tests) so that production
# code never imports the emulator.
TEST_ORGANIZATION = "eID Bridge Test PKI"

PRODUCTION_ROOT_FILES: tuple[str, ...] = (
    "belgiumrca2.pem",
    "belgiumrca3.pem",
    "belgiumrca4.pem",
    "belgiumrca4b.pem",
    "belgiumrca6.pem",
)


class TestRootRefused(ValueError):
    """A certificate offered as a test root is not one (no test organisation, or demo off)."""

    __test__ = False


@cache
def _production_roots() -> tuple[x509.Certificate, ...]:
    package = resources.files("bridge.trust") / "roots"
    return tuple(
        x509.load_pem_x509_certificate((package / name).read_bytes())
        for name in PRODUCTION_ROOT_FILES
    )


def production_roots() -> tuple[x509.Certificate, ...]:
    """Belgium Root CA2, CA3, CA4 (both issues) and CA6, as shipped with the package.

    CA2 has expired and CA3/CA4 expire in 2028; they stay because validation at a past date
    (an old signature) needs them, and an expired root fails validation on its own.
    """
    return _production_roots()


def is_test_certificate(cert: x509.Certificate) -> bool:
    """True if the subject carries the test PKI's organisation."""
    return any(
        attr.value == TEST_ORGANIZATION
        for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class TrustStore:
    """The roots a validation may end at. Build with a class method, not directly."""

    roots: tuple[x509.Certificate, ...]
    test_roots: tuple[x509.Certificate, ...] = ()
    """Roots of the test PKI; empty unless built for tests or demo mode."""
    _test_ders: frozenset[bytes] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        for root in self.test_roots:
            if not is_test_certificate(root):
                raise TestRootRefused(
                    f"refusing {root.subject.rfc4514_string()} as a test root: its subject "
                    f"lacks O={TEST_ORGANIZATION}"
                )
        object.__setattr__(self, "_test_ders", frozenset(_der(r) for r in self.test_roots))

    @classmethod
    def production(cls) -> TrustStore:
        return cls(roots=production_roots())

    @classmethod
    def for_test_pki(cls, pki: TestPki) -> TrustStore:
        """Only the test PKI's roots (both hierarchies): for tests and the emulator."""
        return cls(roots=(), test_roots=tuple(h.root.cert for h in pki.hierarchies.values()))

    @classmethod
    def for_settings(cls, settings: Settings, test_pki: TestPki | None = None) -> TrustStore:
        """The store the running bridge uses: production roots, plus the test PKI's roots
        when (and only when) ``settings.demo`` is on and a test PKI is given."""
        if test_pki is None:
            return cls.production()
        if settings.demo is not True:
            # Loud rather than silently ignoring: a test PKI reaching here outside demo mode
            # is a wiring bug that must not go unnoticed.
            raise TestRootRefused("test PKI roots are only accepted in demo mode")
        test = cls.for_test_pki(test_pki)
        return cls(roots=production_roots(), test_roots=test.test_roots)

    @property
    def all_roots(self) -> tuple[x509.Certificate, ...]:
        return self.roots + self.test_roots

    def is_test_root(self, cert_der: bytes) -> bool:
        return cert_der in self._test_ders

    def find_issuers(self, cert: x509.Certificate) -> Iterable[x509.Certificate]:
        return (root for root in self.all_roots if root.subject == cert.issuer)
