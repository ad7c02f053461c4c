"""The named virtual cards used by tests, benchmarks and the demo.

Each scenario exists for applet 1.7 (RSA-2048, RSA test hierarchy) and 1.8 (EC P-384, EC
hierarchy): ``citizen-1.7``, ``citizen-1.8``, ``foreigner-1.8``, ``expired-1.8``,
``blocked-pin-1.8``, ``one-try-left-1.8``, ``revoked-1.8``, ... A bare scenario name means
its 1.8 variant. Files are built and signed the way real cards are (content doc v5.4 and
IDA5 v5), so integrity checks pass or fail honestly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from importlib import resources

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bridge.card.constants import AppletVersion, FileId, KeyRef
from bridge.card.identity import (
    Address,
    BirthDate,
    CardLanguage,
    DocumentType,
    Identity,
    Sex,
    encode_address,
    encode_identity,
)
from bridge.emulator.pkcs15 import standard_files
from bridge.emulator.pki import CardCredentials, HierarchyKind, TestPki
from bridge.emulator.profile import CardProfile, PrivateKey

SCENARIOS = ("citizen", "foreigner", "expired", "blocked-pin", "one-try-left", "revoked")
APPLETS = {"1.7": AppletVersion.V1_7, "1.8": AppletVersion.V1_8}
PROFILE_NAMES = tuple(f"{s}-{a}" for s in SCENARIOS for a in APPLETS)

ADDRESS_FILE_SIZE = 117  # "length extended to 117 bytes" (content doc 2.3, 2004)
EC_SIGNATURE_FILE_SIZE = 112  # fixed-size, zero-padded DER ECDSA-Sig-Value (content doc 6.2)
DEFAULT_PIN = "1234"


def photo() -> bytes:
    """A synthetic 140x200 grey JPEG of about 3 kB, the size of a real card photo."""
    return resources.files("bridge.emulator").joinpath("data/photo.jpg").read_bytes()


@dataclass(frozen=True)
class Person:
    national_number: str
    surname: str
    first_names: str
    third_name_initial: str
    sex: Sex
    birth_date: dt.date
    birth_location: str
    nationality: str
    street_and_number: str
    zip_code: str
    municipality: str
    language: CardLanguage


CITIZEN = Person(
    national_number="85073003328",
    surname="Peeters",
    first_names="Jan Pieter",
    third_name_initial="K",
    sex=Sex.MALE,
    birth_date=dt.date(1985, 7, 30),
    birth_location="Leuven",
    nationality="Belg",
    street_and_number="Bondgenotenlaan 12 bus 3",
    zip_code="3000",
    municipality="Leuven",
    language="nl",
)
CITIZEN_FR = Person(
    national_number="90021512469",
    surname="Dubois",
    first_names="Marie Claire",
    third_name_initial="",
    sex=Sex.FEMALE,
    birth_date=dt.date(1990, 2, 15),
    birth_location="Liège",
    nationality="Belge",
    street_and_number="Rue de la Loi 16",
    zip_code="1000",
    municipality="Bruxelles",
    language="fr",
)
FOREIGNER = Person(
    national_number="88042036142",
    surname="Müller",
    first_names="Anna Lena",
    third_name_initial="",
    sex=Sex.FEMALE_DE,
    birth_date=dt.date(1988, 4, 20),
    birth_location="Köln",
    nationality="Deutsch",
    street_and_number="Hauptstraße 5",
    zip_code="4700",
    municipality="Eupen",
    language="de",
)


def card_number(serial: bytes) -> str:
    """12 digits whose last two are the first ten mod 97 (97 for 0), as ``stdnum.be.eid``."""
    body = f"{int.from_bytes(serial[-5:], 'big') % 10**9:09d}"
    body = "5" + body  # numbers of recent cards start with 5 or 6
    check = int(body) % 97 or 97
    return f"{body}{check:02d}"


def _spki(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pad(data: bytes, size: int) -> bytes:
    return data + b"\x00" * max(0, size - len(data))


@dataclass
class BuiltCard:
    """A profile plus what tests want to know about it (its credentials, its person)."""

    profile: CardProfile
    credentials: CardCredentials
    person: Person
    scenario: str


def parse_name(name: str) -> tuple[str, AppletVersion]:
    scenario, _, version = name.rpartition("-")
    if version not in APPLETS:
        scenario, version = name, "1.8"
    if scenario not in SCENARIOS:
        raise ValueError(
            f"unknown card profile '{name}'; choose one of: {', '.join(PROFILE_NAMES)}"
        )
    return scenario, APPLETS[version]


def build_card(name: str, pki: TestPki, *, now: dt.datetime | None = None) -> BuiltCard:
    """A fresh virtual card (new keys, new certificates) for scenario ``name``."""
    scenario, applet = parse_name(name)
    now = now or dt.datetime.now(dt.UTC)
    kind: HierarchyKind = "ec" if applet >= AppletVersion.V1_8 else "rsa"
    foreigner = scenario == "foreigner"
    person = FOREIGNER if foreigner else (CITIZEN if applet < AppletVersion.V1_8 else CITIZEN_FR)

    if scenario == "expired":
        begin = now - dt.timedelta(days=10 * 365 + 30)
        end = now - dt.timedelta(days=30)
    else:
        begin = now - dt.timedelta(days=400)
        end = begin + dt.timedelta(days=10 * 365)
    credentials = pki.issue_card(
        kind,
        national_number=person.national_number,
        first_names=person.first_names,
        surname=person.surname,
        foreigner=foreigner,
        not_before=begin,
        not_after=end,
    )
    if scenario == "revoked":
        for cert in (credentials.auth_cert, credentials.signature_cert):
            pki.revoke(cert, x509.ReasonFlags.key_compromise, now - dt.timedelta(days=2))

    serial = bytes.fromhex("534C494E33660012") + secrets.token_bytes(8)
    keys: dict[KeyRef, PrivateKey] = {
        KeyRef.AUTHENTICATION: credentials.auth_key,
        KeyRef.NON_REPUDIATION: credentials.signature_key,
    }
    files = standard_files(
        applet,
        serial,
        {
            FileId.CERT_AUTHENTICATION: credentials.auth_cert_der,
            FileId.CERT_SIGNATURE: credentials.signature_cert_der,
            FileId.CERT_CA: credentials.ca_cert_der,
            FileId.CERT_ROOT: credentials.root_cert_der,
            FileId.CERT_RRN: credentials.rrn_cert_der,
        },
    )

    picture = photo()
    basic_key_hash: bytes | None = None
    if applet >= AppletVersion.V1_8:
        basic = ec.generate_private_key(ec.SECP384R1())
        keys[KeyRef.BASIC] = basic
        basic_file = _spki(basic)
        files[FileId.BASIC_KEY.path] = basic_file
        basic_key_hash = hashlib.sha384(basic_file).digest()
        photo_hash = hashlib.sha384(picture).digest()
    else:
        # Applet 1.7 cards carry a SHA-1 photo hash (appendix 1 of the 1.7 content doc).
        photo_hash = hashlib.sha1(picture).digest()  # noqa: S324 - what the card holds

    identity = Identity(
        card_number=card_number(serial),
        chip_number=serial,
        validity_begin=begin.date(),
        validity_end=end.date(),
        delivery_municipality=person.municipality,
        national_number=person.national_number,
        surname=person.surname,
        first_names=person.first_names,
        third_name_initial=person.third_name_initial,
        nationality=person.nationality,
        birth_location=person.birth_location,
        birth_date=BirthDate.from_date(person.birth_date, language=person.language),
        sex=person.sex,
        document_type=DocumentType.FOREIGNER_EU if foreigner else DocumentType.EID,
        photo_hash=photo_hash,
        basic_key_hash=basic_key_hash,
        registration_date=(begin.date() if foreigner else None),
    )
    identity_file = encode_identity(identity)
    address_file = encode_address(
        Address(
            street_and_number=person.street_and_number,
            zip_code=person.zip_code,
            municipality=person.municipality,
        ),
        size=ADDRESS_FILE_SIZE,
    )
    identity_signature = pki.sign_identity(kind, identity_file)
    if kind == "ec":
        identity_signature = _pad(identity_signature, EC_SIGNATURE_FILE_SIZE)
    address_signature = pki.sign_address(kind, address_file, identity_signature)
    if kind == "ec":
        address_signature = _pad(address_signature, EC_SIGNATURE_FILE_SIZE)
    files.update(
        {
            FileId.IDENTITY.path: identity_file,
            FileId.IDENTITY_SIGNATURE.path: identity_signature,
            FileId.ADDRESS.path: address_file,
            FileId.ADDRESS_SIGNATURE.path: address_signature,
            FileId.PHOTO.path: picture,
        }
    )

    tries = {"blocked-pin": 0, "one-try-left": 1}.get(scenario, 3)
    profile = CardProfile(
        name=f"{scenario}-{'1.8' if applet >= AppletVersion.V1_8 else '1.7'}",
        applet=applet,
        serial=serial,
        files=files,
        keys=keys,
        pin=DEFAULT_PIN,
        pin_tries_left=tries,
        notes={"scenario": scenario, "hierarchy": kind},
    )
    return BuiltCard(profile, credentials, person, scenario)


def rsa_key_bits(key: PrivateKey) -> int:
    return key.key_size if isinstance(key, rsa.RSAPrivateKey) else key.curve.key_size
