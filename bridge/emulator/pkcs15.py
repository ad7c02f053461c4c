"""The PKCS#15 files of DF(BELPIC) and the certificate files, as a personalised card holds them.

The applet never interprets these files (M17 §2, M18 §2.1): they are plain transparent EFs that
the middleware parses. Every structure is built from DER with computed lengths, and the tests
check the result against the hexadecimal dumps of the card-content documents:

* C17: "Belgian Electronic Identity Card content" v4.01 (applet 1.1/1.7), §5.1-6.5 and §8;
* C18: "Belgian Electronic Identity Card content" v5.4 (applet 1.8), §5.2-5.3 and §8.

Where the two differ: C17 flags every object ``private`` (``03 02 06 C0``), so OpenSC lists the
1.7 certificates only after login; C18 flags certificates ``modifiable`` only (``06 40``) and adds
``implicitTrust FALSE`` (``83 01 00``). PrKDF entries are ``SEQUENCE`` (RSA) on 1.7 and ``[0]``
privateECKey on 1.8. Known slip in C18: its authentication-certificate entry header reads
``30 32`` while its own offsets (next entry at ``0x31``) and the content give ``30 2F``; the
correct DER (``30 2F``) is produced here.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.card.constants import (
    CERTIFICATE_FILES,
    MF,
    PKCS15_AID,
    AppletVersion,
    FileId,
    KeyRef,
)

DF_BELPIC_PATH = MF + bytes.fromhex("DF00")

CERT_PADDING = {AppletVersion.V1_1: 50, AppletVersion.V1_7: 50, AppletVersion.V1_8: 1100}
"""Zero bytes appended to a certificate at personalisation (C17 §8, C18 §8)."""

ABSENT_CERT_SIZE = {AppletVersion.V1_1: 1300, AppletVersion.V1_7: 1300, AppletVersion.V1_8: 2500}
"""Size of a certificate file that holds no certificate: all zeros (C17 §6.5/§8, C18 §5.3.6/§8)."""

# PKCS#15 flag bit strings exactly as the content documents encode them.
_FLAGS_PRIVATE_MODIFIABLE = bytes.fromhex("06C0")  # private(0), modifiable(1)
_FLAGS_MODIFIABLE = bytes.fromhex("0640")  # modifiable(1)
_USAGE_SIGN = bytes.fromhex("0520")  # sign(2)
_USAGE_NON_REPUDIATION = bytes.fromhex("060040")  # nonRepudiation(9)
_ACCESS_FLAGS = bytes.fromhex("03B8")  # sensitive, alwaysSensitive, neverExtractable, local
_PIN_AUTH_ID = b"\x01"


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, *parts: bytes) -> bytes:
    """One DER TLV with a single-byte tag; the value is the concatenation of ``parts``."""
    value = b"".join(parts)
    return bytes((tag,)) + _der_length(len(value)) + value


def _seq(*parts: bytes) -> bytes:
    return tlv(0x30, *parts)


def _octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def _utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def _bits(encoded: bytes) -> bytes:
    """BIT STRING whose content (unused-bits byte first) is given as the documents show it."""
    return tlv(0x03, encoded)


def _integer(value: int, width: int) -> bytes:
    """INTEGER with a fixed content width, as the documents encode key references and sizes
    (``02 02 00 82``, ``02 02 08 00``)."""
    return tlv(0x02, value.to_bytes(width, "big"))


def _path(path: bytes) -> bytes:
    """PKCS#15 ``Path ::= SEQUENCE { path OCTET STRING, ... }``."""
    return _seq(_octets(path))


def _is_ec(applet: AppletVersion) -> bool:
    return applet >= AppletVersion.V1_8


# --- MF --------------------------------------------------------------------------------


def ef_dir() -> bytes:
    """EF(DIR) 3F00/2F00: one application template for the PKCS#15 application (C17 §5.1,
    C18 §5.2.1); discretionary data object = OID 2.16.56.2 ("Belpic card")."""
    return tlv(
        0x61,
        tlv(0x4F, PKCS15_AID),
        tlv(0x50, b"BELPIC"),
        tlv(0x51, DF_BELPIC_PATH),
        tlv(0x73, tlv(0x06, bytes.fromhex("603802"))),
    )


# --- DF(BELPIC) ------------------------------------------------------------------------


def ef_odf() -> bytes:
    """EF(ODF) 5031: pointers to PrKDF [0], CDF [4] and AODF [8] (C17 §6.2, C18 §5.3.2)."""
    return (
        tlv(0xA0, _path(FileId.PRKDF.path))
        + tlv(0xA4, _path(FileId.CDF.path))
        + tlv(0xA8, _path(FileId.AODF.path))
    )


def default_perso_versions(applet: AppletVersion) -> bytes:
    """TokenInfo version bytes: graphical perso, electrical perso, electrical perso interface,
    RFU. Electrical perso version per C18 §2.3 history: ``03`` "new chip" (2009, the applet 1.7
    chips), ``04`` new ATR (2020, applet 1.8), ``02`` for applet 1.1; interface ``00`` always.
    The graphical version is not documented: ``00`` (the documented default)."""
    electrical = {AppletVersion.V1_1: 0x02, AppletVersion.V1_7: 0x03}.get(applet, 0x04)
    return bytes((0x00, electrical, 0x00, 0x00))


def ef_token_info(
    serial: bytes, applet: AppletVersion, perso_versions: bytes | None = None
) -> bytes:
    """EF(TokenInfo) 5032 (C17 §6.1, C18 §5.3.1): version 0, the 16-byte chip serial, label
    "BELPIC", token flags prnGeneration+eidCompliant, then ``[30]`` with 4 version bytes."""
    if len(serial) != 16:
        raise ValueError("the chip serial number is 16 bytes")
    versions = default_perso_versions(applet) if perso_versions is None else perso_versions
    if len(versions) != 4:
        raise ValueError("TokenInfo carries exactly 4 personalisation version bytes")
    return _seq(
        _integer(0, 1),
        _octets(serial),
        tlv(0x80, b"BELPIC"),
        _bits(bytes.fromhex("0430")),
        tlv(0x9E, versions),
    )


def ef_aodf() -> bytes:
    """EF(AODF) 5034: the single PIN object "Basic PIN" (C17 §6.3, C18 §5.3.3): flags
    initialized+needs-padding, type bcd (really GlobalPlatform format), min 4, stored 8,
    reference 1, pad ``FF``, path 3F00."""
    return _seq(
        _seq(_utf8("Basic PIN"), _bits(_FLAGS_PRIVATE_MODIFIABLE)),
        _seq(_octets(_PIN_AUTH_ID)),
        tlv(
            0xA1,
            _seq(
                _bits(bytes.fromhex("020C")),
                tlv(0x0A, b"\x00"),
                _integer(4, 1),
                _integer(8, 1),
                tlv(0x80, b"\x01"),
                _octets(b"\xff"),
                _path(MF),
            ),
        ),
    )


def _private_key_entry(applet: AppletVersion, key: KeyRef, key_bits: int) -> bytes:
    if key is KeyRef.AUTHENTICATION:
        common = _seq(
            _utf8("Authentication"), _bits(_FLAGS_PRIVATE_MODIFIABLE), _octets(_PIN_AUTH_ID)
        )
        key_attributes = _seq(
            _octets(b"\x02"), _bits(_USAGE_SIGN), _bits(_ACCESS_FLAGS), _integer(key, 2)
        )
    else:
        # userConsent 1: the PIN must be entered for every signature (C17 §7.4, C18 §7.4).
        common = _seq(
            _utf8("Signature"),
            _bits(_FLAGS_PRIVATE_MODIFIABLE),
            _octets(_PIN_AUTH_ID),
            _integer(1, 1),
        )
        key_attributes = _seq(
            _octets(b"\x03"), _bits(_USAGE_NON_REPUDIATION), _bits(_ACCESS_FLAGS), _integer(key, 2)
        )
    type_attributes = tlv(0xA1, _seq(_path(DF_BELPIC_PATH), _integer(key_bits, 2)))
    outer_tag = 0xA0 if _is_ec(applet) else 0x30  # [0] privateECKey vs privateRSAKey
    return tlv(outer_tag, common, key_attributes, type_attributes)


def ef_prkdf(applet: AppletVersion, key_bits: int | None = None) -> bytes:
    """EF(PrKDF) 5035: authentication key (ID 02, ref 82) and non-repudiation key (ID 03,
    ref 83). RSA entries (C17 §6.4) carry the modulus length: the document's example shows
    1024 (``04 00``); applet 1.7 keys are 2048 bits (M17 §4.1), so ``08 00``. EC entries
    (C18 §5.3.4) carry 384 (``01 80``)."""
    bits = key_bits if key_bits is not None else _default_key_bits(applet)
    return _private_key_entry(applet, KeyRef.AUTHENTICATION, bits) + _private_key_entry(
        applet, KeyRef.NON_REPUDIATION, bits
    )


def _default_key_bits(applet: AppletVersion) -> int:
    if _is_ec(applet):
        return 384
    return 1024 if applet == AppletVersion.V1_1 else 2048


_CDF_ENTRIES: tuple[tuple[FileId, str, int, bool], ...] = (
    (FileId.CERT_AUTHENTICATION, "Authentication", 0x02, False),
    (FileId.CERT_SIGNATURE, "Signature", 0x03, False),
    (FileId.CERT_CA, "CA", 0x04, True),
    (FileId.CERT_ROOT, "Root", 0x06, True),
)


def ef_cdf(applet: AppletVersion, present: frozenset[FileId] | None = None) -> bytes:
    """EF(CDF) 5037 (C17 §6.5, C18 §5.3.6): entries for the authentication, non-repudiation,
    CA and root certificates. When a card holder has no authentication and/or non-repudiation
    certificate, its entry is left out and the file keeps its full size, zero-filled at the end.
    ``present`` names the certificate files that hold a certificate (default: all)."""
    entries: list[bytes] = []
    full_size = 0
    for file_id, label, ident, authority in _CDF_ENTRIES:
        entry = _cdf_entry(applet, file_id, label, ident, authority)
        full_size += len(entry)
        if present is None or file_id in present or authority:
            entries.append(entry)
    content = b"".join(entries)
    return content + bytes(full_size - len(content))


def _cdf_entry(
    applet: AppletVersion, file_id: FileId, label: str, ident: int, authority: bool
) -> bytes:
    ec = _is_ec(applet)
    flags = _FLAGS_MODIFIABLE if ec else _FLAGS_PRIVATE_MODIFIABLE
    common = _seq(_utf8(label), _bits(flags), _octets(_PIN_AUTH_ID))
    attributes = _octets(bytes((ident,)))
    if authority:
        attributes += tlv(0x01, b"\xff")  # authority TRUE
    if ec:
        attributes += tlv(0x83, b"\x00")  # [3] implicitTrust FALSE (C18 only)
    x509 = tlv(0xA1, _seq(_path(file_id.path)))
    return _seq(common, _seq(attributes), x509)


# --- certificate files -----------------------------------------------------------------


def pad_certificate(der: bytes | None, applet: AppletVersion) -> bytes:
    """A certificate file as personalised: the DER followed by 50 (1.1/1.7) or 1100 (1.8)
    zero bytes; with no certificate, 1300 or 2500 zero bytes (C17 §8, C18 §8)."""
    if der is None or not der:
        return bytes(ABSENT_CERT_SIZE[applet])
    return der + bytes(CERT_PADDING[applet])


def standard_files(
    applet: AppletVersion,
    serial: bytes,
    certs: Mapping[FileId, bytes],
    *,
    key_bits: int | None = None,
    perso_versions: bytes | None = None,
) -> dict[bytes, bytes]:
    """EF(DIR), the DF(BELPIC) PKCS#15 files and the five certificate files, by absolute path.

    ``certs`` maps certificate files (``FileId.CERT_*``) to DER; a missing or empty entry gives
    an all-zero file and, for the authentication/non-repudiation certificates, drops their CDF
    entry. The identity, address, photo and basic-key files are not included."""
    unknown = set(certs) - set(CERTIFICATE_FILES)
    if unknown:
        raise ValueError(f"not certificate files: {sorted(f.name for f in unknown)}")
    present = frozenset(file_id for file_id, der in certs.items() if der)
    files = {
        FileId.DIR.path: ef_dir(),
        FileId.ODF.path: ef_odf(),
        FileId.TOKEN_INFO.path: ef_token_info(serial, applet, perso_versions),
        FileId.AODF.path: ef_aodf(),
        FileId.PRKDF.path: ef_prkdf(applet, key_bits),
        FileId.CDF.path: ef_cdf(applet, present),
    }
    for file_id in CERTIFICATE_FILES:
        files[file_id.path] = pad_certificate(certs.get(file_id), applet)
    return files


def certificate_length(content: bytes) -> int:
    """The DER length of a padded certificate file, as clients compute it from the header
    (``30 82 hi lo``); 0 for an all-zero (absent) file."""
    if len(content) < 4 or content[0] != 0x30:
        return 0
    first = content[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    return 2 + count + int.from_bytes(content[2 : 2 + count], "big")
