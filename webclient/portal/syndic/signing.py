"""PAdES signatures made by an eID card the portal never touches (pyhanko's interrupted signing).

The browser holds the card; the portal holds the document. So signing is cut in two:

1. :func:`prepare`: the portal reserves the signature field in the PDF, computes the CMS
   signed attributes (PAdES-B-B: message digest of the byte range, the signing certificate)
   and returns the digest of those attributes — what the card signs through the bridge;
2. :func:`finish`: the card's raw signature goes into a CMS ``SignedData`` embedded in the
   reserved field.

Between the two, :class:`PreparedSignature` is all the state, plain bytes, so it can sit in
the database (any portal process may receive the second call). :func:`verify` then checks the
embedded signature with pyhanko's validator and the certificate with the bridge's rules.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from bridge.tokens.format import ecdsa_raw_to_der

FIELD_NAME = "SyndicSignature"
RESERVED_BYTES = 32 * 1024
"""Room for the CMS: signature, the card's certificate and its two CA certificates."""


class SigningError(Exception):
    """The signature cannot be made or does not verify; ``code`` names why."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class PreparedSignature:
    prepared_pdf: bytes
    """The document with the signature field and a zero-filled /Contents."""
    document_digest: bytes
    region_start: int
    region_end: int
    signed_attributes: bytes
    """DER of the CMS signed attributes; the card signs their digest."""
    digest_algorithm: str
    """``sha256`` or ``sha384`` (pyhanko's names)."""
    certificate: bytes
    chain: tuple[bytes, ...]

    @property
    def digest_to_sign(self) -> bytes:
        return hashlib.new(self.digest_algorithm, self.signed_attributes).digest()

    @property
    def hash_function(self) -> str:
        """The bridge's name of the hash (``SHA-256``...)."""
        return {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}[
            self.digest_algorithm]

    def to_bytes(self) -> bytes:
        """A JSON record of the state (binary fields base64) for the database."""
        record: dict[str, Any] = {
            "digest": _b64(self.document_digest), "start": self.region_start,
            "end": self.region_end, "attrs": _b64(self.signed_attributes),
            "md": self.digest_algorithm, "cert": _b64(self.certificate),
            "chain": [_b64(c) for c in self.chain],
        }
        header = json.dumps(record).encode("utf-8")
        return len(header).to_bytes(4, "big") + header + self.prepared_pdf

    @classmethod
    def from_bytes(cls, raw: bytes) -> PreparedSignature:
        size = int.from_bytes(raw[:4], "big")
        record = json.loads(raw[4:4 + size])
        return cls(
            prepared_pdf=raw[4 + size:], document_digest=_unb64(record["digest"]),
            region_start=int(record["start"]), region_end=int(record["end"]),
            signed_attributes=_unb64(record["attrs"]), digest_algorithm=str(record["md"]),
            certificate=_unb64(record["cert"]),
            chain=tuple(_unb64(c) for c in record["chain"]),
        )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _unb64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def digest_algorithm_for(certificate_der: bytes) -> str:
    """SHA-384 for the P-384 keys of applet 1.8 cards, SHA-256 for RSA (applet 1.7)."""
    try:
        key = x509.load_der_x509_certificate(certificate_der).public_key()
    except ValueError as exc:
        raise SigningError("CERTIFICATE_UNREADABLE", str(exc)) from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "sha384" if key.curve.key_size >= 384 else "sha256"
    if isinstance(key, rsa.RSAPublicKey):
        return "sha256"
    raise SigningError("KEY_TYPE", "neither RSA nor EC")


async def prepare(pdf: bytes, certificate: bytes, chain: tuple[bytes, ...], *, name: str,
                  reason: str, location: str = "Belgium") -> PreparedSignature:
    """Reserve the signature in ``pdf`` and compute what the card must sign."""
    md = digest_algorithm_for(certificate)
    try:
        signing_cert = asn1_x509.Certificate.load(certificate)
        registry = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_x509.Certificate.load(der) for der in chain])
    except ValueError as exc:
        raise SigningError("CERTIFICATE_UNREADABLE", str(exc)) from None
    signer = signers.ExternalSigner(signing_cert, registry, signature_value=bytes(512))
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, md_algorithm=md, subfilter=fields.SigSeedSubFilter.PADES,
        name=name, reason=reason, location=location,
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    pdf_signer = signers.PdfSigner(
        metadata, signer=signer,
        new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD_NAME),
    )
    prepared, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
        writer, bytes_reserved=RESERVED_BYTES, output=BytesIO())
    attributes = await signer.signed_attrs(prepared.document_digest, md, use_pades=True)
    assert isinstance(output, BytesIO)
    return PreparedSignature(
        prepared_pdf=output.getvalue(), document_digest=prepared.document_digest,
        region_start=prepared.reserved_region_start, region_end=prepared.reserved_region_end,
        signed_attributes=attributes.dump(), digest_algorithm=md, certificate=certificate,
        chain=tuple(chain),
    )


def _der_signature(certificate: bytes, signature: bytes) -> bytes:
    """The card's ECDSA answer as DER (the bridge sends DER; Web eID sends ``r || s``)."""
    key = x509.load_der_x509_certificate(certificate).public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        if len(signature) == 2 * size:
            return ecdsa_raw_to_der(signature, size)
    return signature


async def finish(state: PreparedSignature, signature: bytes) -> bytes:
    """The signed PDF: ``signature`` (over ``state.digest_to_sign``) wrapped in the CMS."""
    signer = signers.ExternalSigner(
        asn1_x509.Certificate.load(state.certificate),
        SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_x509.Certificate.load(der) for der in state.chain]),
        signature_value=_der_signature(state.certificate, signature),
    )
    signed_data = await signer.async_sign_prescribed_attributes(
        state.digest_algorithm, signed_attrs=cms.CMSAttributes.load(state.signed_attributes))
    output = BytesIO(state.prepared_pdf)
    prepared = PreparedByteRangeDigest(state.document_digest, state.region_start,
                                       state.region_end)
    try:
        await PdfTBSDocument.async_finish_signing(output, prepared, signed_data)
    except Exception as exc:  # pyhanko reports a too-large CMS as a generic error
        raise SigningError("EMBEDDING_FAILED", str(exc)) from exc
    return output.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    intact: bool
    """The document bytes are those signed (byte range digest matches)."""
    valid: bool
    """The CMS signature verifies with the certificate's key."""
    trusted: bool
    """pyhanko built a path to one of ``roots``."""
    signer_certificate: bytes
    coverage: str
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


async def verify(signed_pdf: bytes, *, roots: list[bytes], intermediates: list[bytes]
                 ) -> SignatureCheck:
    """pyhanko's validation of the one embedded signature (no network: the certificate's
    revocation is checked by the caller with the bridge's rules)."""
    try:
        reader = PdfFileReader(BytesIO(signed_pdf))
        embedded = reader.embedded_signatures
    except Exception as exc:
        raise SigningError("PDF_UNREADABLE", str(exc)) from exc
    if len(embedded) != 1:
        raise SigningError("SIGNATURE_COUNT", f"{len(embedded)} signatures")
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(der) for der in roots],
        other_certs=[asn1_x509.Certificate.load(der) for der in intermediates],
        allow_fetching=False, revocation_mode="soft-fail",
    )
    status = await async_validate_pdf_signature(embedded[0], signer_validation_context=context)
    return SignatureCheck(
        intact=bool(status.intact), valid=bool(status.valid), trusted=bool(status.trusted),
        signer_certificate=status.signing_cert.dump(), coverage=str(status.coverage),
        summary=status.summary(),
    )
