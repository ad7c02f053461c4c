"""Validation of Belgian eID certificates: trust anchors, revocation (OCSP/CRL with a disk
cache) and verdicts with messages in French, Dutch and English. See :mod:`.validate`."""

from __future__ import annotations

from bridge.trust.anchors import TrustStore, production_roots
from bridge.trust.revocation import RevocationCache, RevocationPolicy
from bridge.trust.validate import (
    Purpose,
    Status,
    Verdict,
    avalidate,
    avalidate_card,
    validate,
    validate_card,
)

__all__ = [
    "Purpose",
    "RevocationCache",
    "RevocationPolicy",
    "Status",
    "TrustStore",
    "Verdict",
    "avalidate",
    "avalidate_card",
    "production_roots",
    "validate",
    "validate_card",
]
