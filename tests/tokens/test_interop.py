"""Interoperability with Web eID.

* Tokens made by web-eid-app (two of them by a Belgian test eID card), taken from the test
  suite of web-eid-authtoken-validation-java (``data/webeid_vectors.json`` says where): our
  parser reads them and our :func:`verify_signature` accepts them for the origin and nonce the
  Java tests use, and refuses them for any other.
* Tokens made by our virtual cards are accepted by an independent verifier written against
  the Web eID description with the JDK's own cryptography (``WebEidSignatureCheck.java``).
* Field names, algorithm names and the format string are those of the Web eID sources:
  ``WebEidAuthToken.java`` (fields ``unverifiedCertificate``, ``signature``, ``algorithm``,
  ``format``; unknown ones ignored), ``AuthTokenSignatureValidator.java``
  (``ALLOWED_SIGNATURE_ALGORITHMS`` ES256..RS512), ``AuthTokenValidator.java``
  (``CURRENT_TOKEN_FORMAT_VERSION = "web-eid:1"``, a prefix), web-eid-app's
  ``src/controller/command-handlers/authenticate.cpp`` (``"format": "web-eid:1.0"``,
  ``appVersion``), web-eid.js ``LibraryAuthenticateResponse`` in its README.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from bridge.tokens.format import AuthToken, TokenAlgorithm, signed_value, verify_signature
from bridge.tokens.nonces import new_nonce
from bridge.tokens.validator import identity_from_certificate
from bridge.trust.validate import Status, Verdict
from tests.conftest import InProcessCard
from tests.tokens.conftest import ORIGIN, make_token

HERE = Path(__file__).parent
VECTORS: list[dict[str, str]] = json.loads((HERE / "data" / "webeid_vectors.json").read_text())[
    "vectors"
]
WEB_EID_FIELDS = {"unverifiedCertificate", "algorithm", "signature", "format", "appVersion"}
JWA_ALGORITHMS = {"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_web_eid_tokens_verify(vector: dict[str, str]) -> None:
    token = AuthToken.from_text(vector["token"])
    assert token.verify(vector["origin"], vector["nonce"])
    assert not token.verify("https://other.example", vector["nonce"])
    assert not token.verify(vector["origin"], new_nonce())
    if token.algorithm is TokenAlgorithm.ES384:
        assert len(token.signature) == 96  # raw r||s of P-384, not DER
    # What we would write for it has Web eID's field names and values.
    written = token.to_json()
    original = json.loads(vector["token"])
    assert set(written) == WEB_EID_FIELDS
    for name in ("unverifiedCertificate", "algorithm", "signature", "format"):
        assert written[name] == original[name]


def test_belgian_web_eid_token_identity() -> None:
    """The Belgian test card ("Nora Specimen") in web-eid's tests: our identity extraction
    reads the real certificate subject layout."""
    vector = next(v for v in VECTORS if v["name"] == "belgian-eid-ec")
    token = AuthToken.from_text(vector["token"])
    identity = identity_from_certificate(token.certificate, token.algorithm, Verdict(Status.VALID))
    assert (identity.given_name, identity.surname, identity.country) == (
        "Nora Angèle",
        "Specimen",
        "BE",
    )
    assert identity.national_number == "01050399864"
    assert "01050399864" not in repr(identity)
    subject = x509.load_der_x509_certificate(token.certificate).subject.rfc4514_string()
    assert "(Authentication)" in subject


def test_our_token_has_the_web_eid_structure(local_card: Callable[[str], InProcessCard]) -> None:
    token = make_token(local_card("citizen-1.8").session, ORIGIN, new_nonce())
    document = token.to_json()
    assert set(document) == WEB_EID_FIELDS
    assert document["algorithm"] in JWA_ALGORITHMS
    assert document["format"].startswith("web-eid:1")  # the Java validator's check
    assert all(isinstance(value, str) for value in document.values())
    assert {a.value for a in TokenAlgorithm} == JWA_ALGORITHMS


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Java interoperability check (install a JDK)")
        pytest.skip("no JDK: the Java interoperability check needs `java`")
    return java


def test_jdk_verifies_our_tokens(local_card: Callable[[str], InProcessCard]) -> None:
    rows: list[tuple[list[str], bool]] = []
    for profile in ("citizen-1.8", "citizen-1.7"):
        nonce = new_nonce()
        document: dict[str, Any] = make_token(local_card(profile).session, ORIGIN, nonce).to_json()
        fields = [document["algorithm"], document["unverifiedCertificate"], document["signature"]]
        rows.append(([ORIGIN, nonce, *fields], True))
        rows.append((["https://other.example.be", nonce, *fields], False))
        rows.append(([ORIGIN, new_nonce(), *fields], False))
    for vector in VECTORS:  # the checker itself accepts genuine Web eID tokens
        original = json.loads(vector["token"])
        fields = [original["algorithm"], original["unverifiedCertificate"], original["signature"]]
        rows.append(([vector["origin"], vector["nonce"], *fields], True))
    result = subprocess.run(
        [_java(), str(HERE / "WebEidSignatureCheck.java")],
        input="".join("\t".join(row) + "\n" for row, _ in rows),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == [str(expected).lower() for _, expected in rows]


def test_our_verifier_agrees_on_rejections() -> None:
    """A vector's signature under another algorithm of the same hash must fail for both."""
    vector = next(v for v in VECTORS if v["name"] == "belgian-eid-rsa")
    token = AuthToken.from_text(vector["token"])
    data = signed_value(vector["origin"], vector["nonce"], TokenAlgorithm.PS256)
    assert not verify_signature(token.certificate, data, TokenAlgorithm.PS256, token.signature)
