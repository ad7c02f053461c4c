"""Identifiers fixed by the BELPIC applet: AIDs, file paths, key and algorithm references.

Sources: card content v5.4 sections 4-5 (files), applet manuals 1.7 and 1.8 tables 4, 11,
14 and 16 (keys and algorithms); digest in ``shared/belpic.md`` sections 2, 5.
"""

from __future__ import annotations

from enum import Enum, IntEnum

BELPIC_APPLET_AID = bytes.fromhex("A00000003029057000AD13100101FF")
PKCS15_AID = bytes.fromhex("A000000177504B43532D3135")
ID_DF_AID = bytes.fromhex("A000000177496446696C6573")

ATR_APPLET_1_1 = bytes.fromhex("3B9813400AA503010101AD1311")
"""Applet 1.1 and 1.7 cards share this ATR: GET CARD DATA tells them apart."""
ATR_APPLET_1_7 = ATR_APPLET_1_1
ATR_APPLET_1_8 = bytes.fromhex("3B7F96000080318065B085040120120FFF829000")
ATR_APPLET_1_0 = bytes.fromhex("3B9894400AA503010101AD1310")
ATR_APPLET_BETA = bytes.fromhex("3B989440FFA503010101AD1310")
KNOWN_ATRS = (ATR_APPLET_1_8, ATR_APPLET_1_1, ATR_APPLET_1_0, ATR_APPLET_BETA)

MF = bytes.fromhex("3F00")
DF_BELPIC = bytes.fromhex("DF00")
DF_ID = bytes.fromhex("DF01")


class FileId(Enum):
    """Elementary files by absolute path (with the MF, as every real client sends it)."""

    DIR = "3F002F00"
    ODF = "3F00DF005031"
    TOKEN_INFO = "3F00DF005032"  # noqa: S105 - a file path, not a secret
    AODF = "3F00DF005034"
    PRKDF = "3F00DF005035"
    CDF = "3F00DF005037"
    CERT_AUTHENTICATION = "3F00DF005038"
    CERT_SIGNATURE = "3F00DF005039"
    CERT_CA = "3F00DF00503A"
    CERT_ROOT = "3F00DF00503B"
    CERT_RRN = "3F00DF00503C"
    IDENTITY = "3F00DF014031"
    IDENTITY_SIGNATURE = "3F00DF014032"
    ADDRESS = "3F00DF014033"
    ADDRESS_SIGNATURE = "3F00DF014034"
    PHOTO = "3F00DF014035"
    BASIC_KEY = "3F00DF014040"  # PuK#1, applet 1.8 only

    @property
    def path(self) -> bytes:
        return bytes.fromhex(self.value)

    @property
    def fid(self) -> bytes:
        return self.path[-2:]


CERTIFICATE_FILES = (
    FileId.CERT_AUTHENTICATION,
    FileId.CERT_SIGNATURE,
    FileId.CERT_CA,
    FileId.CERT_ROOT,
    FileId.CERT_RRN,
)


class KeyRef(IntEnum):
    BASIC = 0x81
    AUTHENTICATION = 0x82
    NON_REPUDIATION = 0x83


PIN_REFERENCE = 0x01


class AppletVersion(IntEnum):
    """GET CARD DATA byte 21."""

    V1_1 = 0x11
    V1_7 = 0x17
    V1_8 = 0x18


class RsaAlgorithm(IntEnum):
    """MSE:SET algorithm references on applets 1.1/1.7 (manual 1.7 table 11)."""

    PKCS1 = 0x01  # host sends DigestInfo || hash, card adds PKCS#1 v1.5 padding
    PKCS1_SHA1 = 0x02
    PKCS1_MD5 = 0x04
    PKCS1_SHA256 = 0x08  # 1.7 only
    PSS_SHA1 = 0x10  # 1.7 only
    PSS_SHA256 = 0x20  # 1.7 only


class EcAlgorithm(IntEnum):
    """MSE:SET algorithm references on applet 1.8 (manual 1.8 table 14)."""

    ECDSA_SHA256 = 0x01
    ECDSA_SHA384 = 0x02
    ECDSA_SHA512 = 0x04
    ECDSA_SHA3_256 = 0x08
    ECDSA_SHA3_384 = 0x10
    ECDSA_SHA3_512 = 0x20
    ECDSA_RAW = 0x40  # "hash not specified": DTBS of 20, 28, 32, 48 or 64 bytes


class HashAlgorithm(Enum):
    SHA256 = "SHA-256"
    SHA384 = "SHA-384"
    SHA512 = "SHA-512"

    @property
    def digest_size(self) -> int:
        return {"SHA-256": 32, "SHA-384": 48, "SHA-512": 64}[self.value]

    @property
    def digest_info_prefix(self) -> bytes:
        """DER DigestInfo header that precedes the hash for RSA reference ``01``."""
        return {
            "SHA-256": bytes.fromhex("3031300d060960864801650304020105000420"),
            "SHA-384": bytes.fromhex("3041300d060960864801650304020205000430"),
            "SHA-512": bytes.fromhex("3051300d060960864801650304020305000440"),
        }[self.value]

    @classmethod
    def from_name(cls, name: str) -> HashAlgorithm:
        normalised = name.upper().replace("_", "-")
        if not normalised.startswith("SHA-"):
            normalised = normalised.replace("SHA", "SHA-", 1)
        for member in cls:
            if member.value == normalised:
                return member
        raise ValueError(f"unsupported hash algorithm: {name}")
