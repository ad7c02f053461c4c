"""The public Belgian eID CA (intermediate) certificates that issue card certificates.

Why they are shipped: a card holds its chain (root, CA, leaves), but a Web eID authentication
token carries only the end-entity certificate. A relying party that checks such a token has no
card to read the issuing "Citizen CA" / "Foreigner CA" from, so it needs these certificates to
build the path from the leaf to one of the production roots in ``bridge/trust/roots``.

The PEM files live in ``bridge/trust/intermediates`` (one per CA; ``SOURCES.md`` there says
where each was found and its SHA-256 fingerprint). Every one of them is a CA certificate whose
signature verifies under one of the shipped production roots; none is a root or a test
certificate. They are not trust anchors: a path still has to end at a production root.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from cryptography import x509
from cryptography.hazmat.primitives import serialization

INTERMEDIATES_PACKAGE = "bridge.trust"
INTERMEDIATES_FOLDER = "intermediates"


@cache
def production_intermediates() -> tuple[bytes, ...]:
    """DER of every shipped Belgian eID CA certificate, in file-name order."""
    folder = resources.files(INTERMEDIATES_PACKAGE) / INTERMEDIATES_FOLDER
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".pem")),
        key=lambda entry: entry.name,
    )
    return tuple(
        x509.load_pem_x509_certificate(entry.read_bytes()).public_bytes(serialization.Encoding.DER)
        for entry in entries
    )
