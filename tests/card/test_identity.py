"""Identity and address files (IDA5 v5.0, ``shared/belpic.md`` §3) and the photo hash (§6.3).

The reference files below are written out byte by byte from the IDA5 tag table, with the
length bytes spelled out, so that they check the parser and the encoder independently.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace
from datetime import date
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.card.errors import CardDataError, IntegrityError, TlvError
from bridge.card.identity import (
    Address,
    BirthDate,
    BrexitMention,
    CardAMention,
    CardLanguage,
    DocumentType,
    FieldError,
    Identity,
    Protection,
    Sex,
    SpecialOrganisation,
    SpecialStatus,
    WorkPermitMention,
    check_photo,
    encode_address,
    encode_identity,
    format_birth_date,
    mask_national_number,
    parse_address,
    parse_identity,
)

PHOTO = b"\xff\xd8\xff\xe0" + b"JFIF-test-photo" * 20 + b"\xff\xd9"
PHOTO_SHA384 = hashlib.sha384(PHOTO).digest()
BASIC_KEY_HASH = hashlib.sha384(b"PuK#1 basic key file").digest()
CHIP = bytes.fromhex("534C494E336600296CFF2623660B0826")

# A Dutch-language applet 1.8 citizen card: tags 01-11 and 1A, then zero padding.
CITIZEN_FILE = b"".join(
    [
        b"\x01\x0c" + b"592123456789",  # card number, 12 ASCII
        b"\x02\x10" + CHIP,  # chip number, 16 binary
        b"\x03\x0a" + b"15.03.2021",  # validity begin
        b"\x04\x0a" + b"15.03.2031",  # validity end
        b"\x05\x06" + "Liège".encode(),  # delivery municipality, 6 bytes UTF-8
        b"\x06\x0b" + b"85073012434",  # national number
        b"\x07\x07" + b"Peeters",  # surname
        b"\x08\x0a" + b"Anna Maria",  # two first given names
        b"\x09\x01" + b"J",  # third-name initial
        b"\x0a\x04" + b"Belg",  # nationality
        b"\x0b\x0c" + b"Sint-Niklaas",  # birth location
        b"\x0c\x0b" + b"30 JUL 1985",  # birth date, NL card
        b"\x0d\x01" + b"V",  # sex: vrouw
        b"\x0e\x00",  # noble condition, blank
        b"\x0f\x02" + b"01",  # document type: eID
        b"\x10\x01" + b"0",  # special status: none
        b"\x11\x30" + PHOTO_SHA384,  # photo hash, SHA-384 (48)
        b"\x1a\x30" + BASIC_KEY_HASH,  # basic key hash, SHA-384 (48)
    ]
)
CITIZEN_PADDED = CITIZEN_FILE + bytes(64)

CITIZEN = Identity(
    card_number="592123456789",
    chip_number=CHIP,
    validity_begin=date(2021, 3, 15),
    validity_end=date(2031, 3, 15),
    delivery_municipality="Liège",
    national_number="85073012434",
    surname="Peeters",
    first_names="Anna Maria",
    third_name_initial="J",
    nationality="Belg",
    birth_location="Sint-Niklaas",
    birth_date=BirthDate.from_date(date(1985, 7, 30), language="nl"),
    sex=Sex.FEMALE_NL,
    document_type=DocumentType.EID,
    photo_hash=PHOTO_SHA384,
    basic_key_hash=BASIC_KEY_HASH,
)

# A German-language EU card of a foreigner with every foreigner tag (12-1F), member of
# family (tag 14, length 0), a blank special organisation and an unknown future tag 20.
FOREIGNER_FILE = b"".join(
    [
        b"\x01\x0c" + b"B12345678901",
        b"\x02\x10" + CHIP,
        b"\x03\x0a" + b"01.02.2020",
        b"\x04\x0a" + b"01.02.2025",
        b"\x05\x05" + b"Eupen",
        b"\x06\x0b" + b"90030445674",
        b"\x07\x0c" + "Ruiz García".encode(),  # 12 bytes UTF-8
        b"\x08\x06" + "Lucía".encode(),  # 6 bytes UTF-8
        b"\x09\x00",  # no third given name
        b"\x0a\x07" + b"Spanien",
        b"\x0b\x06" + b"Madrid",
        b"\x0c\x0c" + "04.MÄR.1990".encode(),  # 12 bytes: Ä is 2 bytes in UTF-8
        b"\x0d\x01" + b"W",  # sex: weiblich
        b"\x0e\x00",
        b"\x0f\x02" + b"31",  # EU card
        b"\x10\x01" + b"2",  # extended minority
        b"\x11\x30" + PHOTO_SHA384,
        b"\x12\x02" + b"01",  # duplicate
        b"\x13\x00",  # special organisation: blank
        b"\x14\x00",  # member of family: present = true
        b"\x15\x0d" + b"12.06.2019-FR",  # date and country of protection
        b"\x16\x01" + b"8",  # labour market: limited
        b"\x17\x0c" + b"0123.456.789",  # employer VAT 1
        b"\x18\x00",  # employer VAT 2: blank
        b"\x19\x0a" + b"R-00123456",  # regional file number
        b"\x1a\x30" + BASIC_KEY_HASH,
        b"\x1b\x01" + b"B",  # Article 18(1) Agreement
        b"\x1c\x01" + b"C",  # séjour permanent
        b"\x1d\x01" + b"D",  # student
        b"\x1e\x01" + b"K",  # mobility program
        b"\x1f\x0a" + b"03.02.2020",  # registration date (EU)
        b"\x20\x06" + b"future",  # a tag IDA5 v5.0 does not know
    ]
)

FOREIGNER = Identity(
    card_number="B12345678901",
    chip_number=CHIP,
    validity_begin=date(2020, 2, 1),
    validity_end=date(2025, 2, 1),
    delivery_municipality="Eupen",
    national_number="90030445674",
    surname="Ruiz García",
    first_names="Lucía",
    nationality="Spanien",
    birth_location="Madrid",
    birth_date=BirthDate.from_date(date(1990, 3, 4), language="de"),
    sex=Sex.FEMALE_DE,
    document_type=DocumentType.FOREIGNER_EU,
    special_status=SpecialStatus.EXTENDED_MINORITY,
    photo_hash=PHOTO_SHA384,
    duplicate="01",
    member_of_family=True,
    protection=Protection(since=date(2019, 6, 12), country="FR"),
    work_permit_mention=WorkPermitMention.LABOUR_MARKET_LIMITED,
    employer_vat_1="0123.456.789",
    regional_file_number="R-00123456",
    basic_key_hash=BASIC_KEY_HASH,
    brexit_mention_1=BrexitMention.ARTICLE_18_1_AGREEMENT,
    brexit_mention_2=BrexitMention.PERMANENT_RESIDENCE,
    card_a_mention_1=CardAMention.STUDENT,
    card_a_mention_2=CardAMention.MOBILITY_PROGRAM,
    registration_date=date(2020, 2, 3),
    unknown_tags=((0x20, b"future"),),
)

FOREIGNER_KNOWN_TAGS = FOREIGNER_FILE[:-8]  # without the unknown tag 20
BASIC_KEY_OFFSET = len(CITIZEN_FILE) - 2 - 48  # where tag 1A starts in CITIZEN_FILE

ADDRESS_FILE = b"".join(
    [
        b"\x01\x15" + "Rue de l’Église 12".encode(),  # 21 bytes UTF-8
        b"\x02\x04" + b"7000",
        b"\x03\x04" + b"Mons",
    ]
)
ADDRESS = Address(street_and_number="Rue de l’Église 12", zip_code="7000", municipality="Mons")


def with_tag(data: bytes, tag: int, value: bytes) -> bytes:
    """``data`` (unpadded TLV, short lengths) with the value of ``tag`` replaced or added."""
    elements: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        t, length = data[pos], data[pos + 1]
        assert length < 0xFF, "helper handles short lengths only"
        elements[t] = data[pos + 2 : pos + 2 + length]
        pos += 2 + length
    elements[tag] = value
    out = b""
    for t in sorted(elements):
        assert len(elements[t]) < 0xFF
        out += bytes([t, len(elements[t])]) + elements[t]
    return out


def without_tag(data: bytes, tag: int) -> bytes:
    out = b""
    pos = 0
    while pos < len(data):
        t, length = data[pos], data[pos + 1]
        if t != tag:
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return out


# --- reference files --------------------------------------------------------------------


def test_citizen_file_every_field() -> None:
    identity = parse_identity(CITIZEN_PADDED)
    assert identity.card_number == "592123456789"
    assert identity.chip_number == CHIP
    assert identity.validity_begin == date(2021, 3, 15)
    assert identity.validity_end == date(2031, 3, 15)
    assert identity.delivery_municipality == "Liège"
    assert identity.national_number == "85073012434"
    assert identity.surname == "Peeters"
    assert identity.first_names == "Anna Maria"
    assert identity.third_name_initial == "J"
    assert identity.nationality == "Belg"
    assert identity.birth_location == "Sint-Niklaas"
    assert identity.birth_date.to_date() == date(1985, 7, 30)
    assert identity.birth_date.text == "30 JUL 1985"
    assert identity.sex is Sex.FEMALE_NL
    assert identity.sex.is_female
    assert not identity.sex.is_male
    assert identity.noble_condition == ""
    assert identity.document_type is DocumentType.EID
    assert not identity.document_type.is_foreigner
    assert identity.special_status is SpecialStatus.NONE
    assert identity.photo_hash == PHOTO_SHA384
    assert identity.basic_key_hash == BASIC_KEY_HASH
    # Foreigner-only tags are absent on a citizen card.
    assert identity.duplicate == ""
    assert identity.special_organisation is None
    assert identity.member_of_family is False
    assert identity.protection is None
    assert identity.work_permit_mention is None
    assert identity.registration_date is None
    assert identity.file_structure_version is None
    assert identity.unknown_tags == ()
    assert identity == CITIZEN


def test_citizen_encodes_to_the_card_bytes() -> None:
    assert encode_identity(CITIZEN) == CITIZEN_FILE
    assert encode_identity(CITIZEN, size=len(CITIZEN_PADDED)) == CITIZEN_PADDED


def test_foreigner_file_every_field() -> None:
    identity = parse_identity(FOREIGNER_FILE + bytes(20))
    assert identity.surname == "Ruiz García"
    assert identity.third_name_initial == ""
    assert identity.birth_date.to_date() == date(1990, 3, 4)
    assert identity.sex is Sex.FEMALE_DE
    assert identity.document_type is DocumentType.FOREIGNER_EU
    assert identity.document_type.is_foreigner
    assert identity.special_status is SpecialStatus.EXTENDED_MINORITY
    assert identity.duplicate == "01"
    assert identity.special_organisation is None  # blank
    assert identity.member_of_family is True
    assert identity.protection == Protection(since=date(2019, 6, 12), country="FR")
    assert identity.work_permit_mention is WorkPermitMention.LABOUR_MARKET_LIMITED
    assert identity.employer_vat_1 == "0123.456.789"
    assert identity.employer_vat_2 == ""
    assert identity.regional_file_number == "R-00123456"
    assert identity.brexit_mention_1 is BrexitMention.ARTICLE_18_1_AGREEMENT
    assert identity.brexit_mention_2 is BrexitMention.PERMANENT_RESIDENCE
    assert identity.card_a_mention_1 is CardAMention.STUDENT
    assert identity.card_a_mention_2 is CardAMention.MOBILITY_PROGRAM
    assert identity.registration_date == date(2020, 2, 3)
    assert identity.unknown_tags == ((0x20, b"future"),)
    assert identity == FOREIGNER


def test_foreigner_encodes_to_the_card_bytes() -> None:
    # Blank foreigner tags (13, 18) are written, as IDA5's default "" says.
    assert encode_identity(FOREIGNER) == FOREIGNER_FILE


def test_member_of_family_absent_is_false() -> None:
    identity = parse_identity(without_tag(FOREIGNER_FILE, 0x14))
    assert identity.member_of_family is False
    assert without_tag(FOREIGNER_FILE, 0x14) == encode_identity(
        replace(FOREIGNER, member_of_family=False)
    )


def test_value_longer_than_254_bytes_uses_ff_continuation() -> None:
    long_name = "Van Den " + "Abeele-" * 42  # 302 characters
    assert len(long_name.encode()) == 302
    start = CITIZEN_FILE.index(b"\x07\x07Peeters")
    data = (
        CITIZEN_FILE[:start]
        + b"\x07\xff\x2f"  # 255 + 47 = 302
        + long_name.encode()
        + CITIZEN_FILE[start + 9 :]
    )
    identity = parse_identity(data)
    assert identity.surname == long_name
    assert identity.first_names == "Anna Maria"
    assert encode_identity(identity) == data


def test_unknown_tags_are_kept_in_order() -> None:
    data = CITIZEN_FILE + b"\x21\x01X" + b"\x7f\x00" + b"\xfe\x02YZ" + bytes(8)
    identity = parse_identity(data)
    assert identity.unknown_tags == ((0x21, b"X"), (0x7F, b""), (0xFE, b"YZ"))
    assert encode_identity(identity) == data.rstrip(b"\x00")


def test_file_structure_version_tag_00() -> None:
    identity = parse_identity(b"\x00\x02\x00\x02" + CITIZEN_FILE)
    assert identity.file_structure_version == b"\x00\x02"
    assert encode_identity(identity) == b"\x00\x02\x00\x02" + CITIZEN_FILE


def test_applet_17_file_without_basic_key_and_with_sha1_photo_hash() -> None:
    sha1 = hashlib.sha1(PHOTO).digest()  # noqa: S324 - what 1.7 cards carry (A17)
    data = with_tag(without_tag(CITIZEN_FILE, 0x1A), 0x11, sha1)
    identity = parse_identity(data)
    assert identity.basic_key_hash is None
    assert identity.photo_hash == sha1
    check_photo(identity, PHOTO)


@pytest.mark.parametrize(("raw", "expected"), [(b"01", 1), (b"1", 1), (b" 1", 1), (b"61", 61)])
def test_document_type_with_or_without_leading_zero(raw: bytes, expected: int) -> None:
    identity = parse_identity(with_tag(CITIZEN_FILE, 0x0F, raw))
    assert identity.document_type == expected
    assert identity.document_type.known


def test_every_ida5_document_type_is_known() -> None:
    codes = {1, 6, 7, 8, *range(11, 24), 27, 28, *range(31, 37), *range(61, 70)}
    assert {member.value for member in DocumentType} == codes
    assert DocumentType(65) is DocumentType.KIDS_FOREIGNER_K
    assert DocumentType(69).is_foreigner


def test_unknown_document_type_keeps_its_code() -> None:
    identity = parse_identity(with_tag(CITIZEN_FILE, 0x0F, b"42"))
    assert identity.document_type == 42
    assert identity.document_type.value == 42
    assert identity.document_type.name == "UNKNOWN"
    assert not identity.document_type.known
    assert identity.document_type not in list(DocumentType)
    assert parse_identity(encode_identity(identity)) == identity


@pytest.mark.parametrize(
    ("letter", "male"), [(b"M", True), (b"F", False), (b"V", False), (b"W", False)]
)
def test_sex_letters(letter: bytes, male: bool) -> None:
    sex = parse_identity(with_tag(CITIZEN_FILE, 0x0D, letter)).sex
    assert sex.value == letter.decode()
    assert sex.is_male is male
    assert sex.is_female is not male


def test_unknown_sex_letter_is_kept() -> None:
    sex = parse_identity(with_tag(CITIZEN_FILE, 0x0D, b"X")).sex
    assert sex.value == "X"
    assert not sex.known
    assert not sex.is_male
    assert not sex.is_female


@pytest.mark.parametrize("code", range(6))
def test_special_status_values(code: int) -> None:
    status = parse_identity(with_tag(CITIZEN_FILE, 0x10, str(code).encode())).special_status
    assert status == code
    assert status.known


def test_special_status_absent_or_blank_is_none() -> None:
    assert parse_identity(without_tag(CITIZEN_FILE, 0x10)).special_status is SpecialStatus.NONE
    blank = with_tag(CITIZEN_FILE, 0x10, b"")
    assert parse_identity(blank).special_status is SpecialStatus.NONE


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (b"1", SpecialOrganisation.SHAPE),
        (b"2", SpecialOrganisation.NATO),
        (b"4", SpecialOrganisation.OLD_EUROPEAN_BLUE_CARD),
        (b"5", SpecialOrganisation.RESEARCHER),
    ],
)
def test_special_organisation(code: bytes, expected: SpecialOrganisation) -> None:
    data = with_tag(FOREIGNER_KNOWN_TAGS, 0x13, code)
    assert parse_identity(data).special_organisation is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (b"7", WorkPermitMention.LABOUR_MARKET_UNLIMITED),
        (b"9", WorkPermitMention.LABOUR_MARKET_NONE),
        (b"A", WorkPermitMention.SEASONAL_WORKER),
    ],
)
def test_work_permit_mention(code: bytes, expected: WorkPermitMention) -> None:
    data = with_tag(FOREIGNER_KNOWN_TAGS, 0x16, code)
    assert parse_identity(data).work_permit_mention is expected


def test_citizen_with_a_foreigner_value_writes_only_that_tag() -> None:
    identity = replace(CITIZEN, work_permit_mention=WorkPermitMention.LABOUR_MARKET_NONE)
    encoded = encode_identity(identity)
    assert encoded == (
        CITIZEN_FILE[:BASIC_KEY_OFFSET] + b"\x16\x019" + CITIZEN_FILE[BASIC_KEY_OFFSET:]
    )
    assert parse_identity(encoded) == identity


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "year", "month", "day"),
    [
        ("12 MARS 1983", 1983, 3, 12),  # FR
        ("12 MAAR 1983", 1983, 3, 12),  # NL
        ("12.MÄR.1983", 1983, 3, 12),  # DE, Ä composed (4D C3 84 52)
        ("12.MA\u0308R.1983", 1983, 3, 12),  # DE, Ä decomposed
        ("17 AOUT 1971", 1971, 8, 17),
        ("05 SEPT 2001", 2001, 9, 5),
        ("05 FEV 2001", 2001, 2, 5),
        ("05 MEI 2001", 2001, 5, 5),
        ("05.DEZ.2001", 2001, 12, 5),
        ("05.OKT.2001", 2001, 10, 5),
        ("01 JAN  1985", 1985, 1, 1),  # token padded to 4 characters
        ("01 JAN 1985  ", 1985, 1, 1),  # trailing spaces
        ("05 OKT. 2001", 2001, 10, 5),  # trailing dot on the month
        ("30.JUL. 1985", 1985, 7, 30),  # German with dots and a space
        ("1 JUIN 1999", 1999, 6, 1),
        ("01 jan 1985", 1985, 1, 1),
    ],
)
def test_birth_date_formats(text: str, year: int, month: int, day: int) -> None:
    birth = BirthDate(text)
    assert (birth.year, birth.month, birth.day) == (year, month, day)
    assert birth.to_date() == date(year, month, day)
    assert birth.is_complete
    assert birth.text == text


@pytest.mark.parametrize(
    ("text", "year", "month", "day"),
    [
        ("1950", 1950, None, None),  # commons-eid "case II2b2": year only
        ("  1950", 1950, None, None),
        ("JAN 1950", 1950, 1, None),  # blank day
        ("   MÄR.1950", 1950, 3, None),
        ("15      1950", 1950, None, 15),  # blank month (eid-viewer "   " = 0)
        ("00 JAN 1950", 1950, 1, None),  # 00 = unknown day
    ],
)
def test_incomplete_birth_dates_are_typed(
    text: str, year: int, month: int | None, day: int | None
) -> None:
    birth = BirthDate(text)
    assert (birth.year, birth.month, birth.day) == (year, month, day)
    assert birth.to_date() is None
    assert not birth.is_complete


def test_incomplete_birth_date_in_a_card_file() -> None:
    identity = parse_identity(with_tag(CITIZEN_FILE, 0x0C, b"1950"))
    assert identity.birth_date.year == 1950
    assert identity.birth_date.to_date() is None
    assert encode_identity(identity) == with_tag(CITIZEN_FILE, 0x0C, b"1950")


@pytest.mark.parametrize(
    "text",
    [
        "12 MAR 1983",  # no MAR token on cards (IDA5)
        "31 FEV 1985",
        "30 FEB 2001",
        "32 JAN 2001",
        "12 JAN 85",
        "",
        "   ",
        "1985 JAN 12",
        "12 JAN 1985 X",
        "1 2 JAN 1985",
        "12 FÉV 1985",  # accented tokens are not in IDA5
        "AB JAN 1985",
        "12 JAN 0000",
        "١٢ JAN 1985",  # non-ASCII digits
    ],
)
def test_malformed_birth_date_raises_field_error(text: str) -> None:
    with pytest.raises(FieldError) as info:
        BirthDate(text)
    assert info.value.tag == 0x0C
    assert info.value.field == "birth_date"
    assert isinstance(info.value, CardDataError)


def test_malformed_birth_date_in_file_does_not_leak_the_value() -> None:
    with pytest.raises(FieldError) as info:
        parse_identity(with_tag(CITIZEN_FILE, 0x0C, b"31 FEV 1985"))
    assert "1985" not in str(info.value)
    assert "FEV" not in str(info.value)


@pytest.mark.parametrize(
    ("language", "tokens"),
    [
        ("fr", "JAN FEV MARS AVR MAI JUIN JUIL AOUT SEPT OCT NOV DEC"),
        ("nl", "JAN FEB MAAR APR MEI JUN JUL AUG SEP OKT NOV DEC"),
        ("de", "JAN FEB MÄR APR MAI JUN JUL AUG SEP OKT NOV DEZ"),
    ],
)
def test_format_uses_the_ida5_month_tokens(language: CardLanguage, tokens: str) -> None:
    separator = "." if language == "de" else " "
    for month, token in enumerate(tokens.split(), start=1):
        text = format_birth_date(1983, month, 9, language)
        assert text == f"09{separator}{token}{separator}1983"
        assert BirthDate(text).to_date() == date(1983, month, 9)


def test_format_birth_date_examples() -> None:
    assert format_birth_date(1983, 3, 12, "fr") == "12 MARS 1983"
    assert format_birth_date(1983, 3, 12, "nl") == "12 MAAR 1983"
    assert format_birth_date(1983, 3, 12, "de") == "12.MÄR.1983"
    assert "12.MÄR.1983".encode() == bytes.fromhex("31322E4DC384522E31393833")
    assert format_birth_date(1950, None, None, "fr") == "1950"
    assert format_birth_date(1950, 1, None, "nl") == "JAN 1950"
    assert format_birth_date(1950, 1, None, "de") == "JAN.1950"
    assert BirthDate.from_parts(1950, 1, language="de") == BirthDate("JAN.1950")


@pytest.mark.parametrize(
    ("year", "month", "day", "language"),
    [
        (1983, 2, 30, "fr"),
        (1983, 13, 1, "fr"),
        (1983, None, 1, "fr"),
        (0, 1, 1, "fr"),
        (1983, 1, 1, "en"),
    ],
)
def test_format_refuses_impossible_dates(
    year: int, month: int | None, day: int | None, language: str
) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        format_birth_date(year, month, day, language)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (0x03, b"2021-03-15"),
        (0x04, b"31.02.2031"),
        (0x04, b"1.3.2031"),
        (0x1F, b"03/02/2020"),
        (0x15, b"12.06.2019"),
        (0x15, b"12.06.2019-F1"),
        (0x15, b"31.06.2019-FR"),
    ],
)
def test_malformed_dotted_dates(tag: int, value: bytes) -> None:
    with pytest.raises(FieldError) as info:
        parse_identity(with_tag(FOREIGNER_KNOWN_TAGS, tag, value))
    assert info.value.tag == tag


def test_protection_country_is_upper_cased() -> None:
    data = with_tag(FOREIGNER_KNOWN_TAGS, 0x15, b"12.06.2019-fr")
    assert parse_identity(data).protection == Protection(since=date(2019, 6, 12), country="FR")


# --- malformed files --------------------------------------------------------------------


@pytest.mark.parametrize("tag", [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0C, 0x0D, 0x0F, 0x11])
def test_missing_mandatory_tag(tag: int) -> None:
    with pytest.raises(FieldError, match="missing") as info:
        parse_identity(without_tag(CITIZEN_FILE, tag))
    assert info.value.tag == tag


@pytest.mark.parametrize("tag", [0x01, 0x05, 0x07, 0x0B, 0x0C, 0x0D, 0x17])
def test_non_utf8_text_raises_field_error(tag: int) -> None:
    with pytest.raises(FieldError, match="UTF-8") as info:
        parse_identity(with_tag(CITIZEN_FILE, tag, b"Pe\xc3\x28ters"))
    assert info.value.tag == tag
    assert "Pe" not in str(info.value)


@pytest.mark.parametrize("value", [b"8507301243", b"850730124345", b"85O73012434", b""])
def test_national_number_must_be_11_digits(value: bytes) -> None:
    with pytest.raises(FieldError, match="11 digits"):
        parse_identity(with_tag(CITIZEN_FILE, 0x06, value))


@pytest.mark.parametrize(("tag", "value"), [(0x0F, b"E"), (0x0F, b""), (0x10, b"X"), (0x0D, b" ")])
def test_malformed_codes(tag: int, value: bytes) -> None:
    with pytest.raises(FieldError) as info:
        parse_identity(with_tag(CITIZEN_FILE, tag, value))
    assert info.value.tag == tag


def test_truncated_file_raises_tlv_error_with_offset() -> None:
    truncated = CITIZEN_FILE[:-10]
    with pytest.raises(TlvError) as info:
        parse_identity(truncated)
    assert info.value.offset == BASIC_KEY_OFFSET


def test_out_of_order_tags_raise_tlv_error_with_offset() -> None:
    # Tag 06 (national number) moved behind tag 07 (surname).
    nn = b"\x06\x0b85073012434"
    surname = b"\x07\x07Peeters"
    swapped = CITIZEN_FILE.replace(nn + surname, surname + nn)
    with pytest.raises(TlvError) as info:
        parse_identity(swapped)
    assert info.value.offset == CITIZEN_FILE.index(nn) + len(surname)


# --- address ----------------------------------------------------------------------------


def test_address_file() -> None:
    padded = ADDRESS_FILE + bytes(117 - len(ADDRESS_FILE))  # 117-byte file (C18 §2.3)
    address = parse_address(padded)
    assert address.street_and_number == "Rue de l’Église 12"
    assert address.zip_code == "7000"
    assert address.municipality == "Mons"
    assert address.file_structure_version is None
    assert address == ADDRESS
    assert encode_address(ADDRESS) == ADDRESS_FILE
    assert encode_address(ADDRESS, size=117) == padded


def test_address_with_version_and_unknown_tag() -> None:
    data = b"\x00\x02\x00\x02" + ADDRESS_FILE + b"\x04\x03abc" + bytes(10)
    address = parse_address(data)
    assert address.file_structure_version == b"\x00\x02"
    assert address.unknown_tags == ((0x04, b"abc"),)
    assert encode_address(address) == data.rstrip(b"\x00")


@pytest.mark.parametrize("tag", [1, 2, 3])
def test_address_missing_field(tag: int) -> None:
    with pytest.raises(FieldError, match="missing") as info:
        parse_address(without_tag(ADDRESS_FILE, tag))
    assert info.value.tag == tag


def test_address_not_utf8() -> None:
    with pytest.raises(FieldError, match="UTF-8"):
        parse_address(with_tag(ADDRESS_FILE, 0x03, b"Li\xe8ge"))  # Latin-1, not UTF-8


def test_encode_refuses_a_too_small_size() -> None:
    with pytest.raises(ValueError, match="size"):
        encode_address(ADDRESS, size=10)


# --- photo ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "digest",
    [
        hashlib.sha1(PHOTO).digest(),  # noqa: S324 - applet 1.7 photo hash
        hashlib.sha256(PHOTO).digest(),
        hashlib.sha384(PHOTO).digest(),
    ],
)
def test_photo_hash_algorithm_follows_its_length(digest: bytes) -> None:
    identity = replace(CITIZEN, photo_hash=digest)
    check_photo(identity, PHOTO)
    check_photo(identity, bytearray(PHOTO))
    with pytest.raises(IntegrityError):
        check_photo(identity, PHOTO[:-1] + b"\x00")


def test_photo_mismatch_raises_integrity_error() -> None:
    with pytest.raises(IntegrityError, match="SHA384"):
        check_photo(CITIZEN, PHOTO + b"\x00")
    assert issubclass(IntegrityError, CardDataError)


def test_photo_hash_of_unknown_length_cannot_match() -> None:
    with pytest.raises(IntegrityError, match="64 bytes"):
        check_photo(replace(CITIZEN, photo_hash=hashlib.sha512(PHOTO).digest()), PHOTO)


# --- privacy ----------------------------------------------------------------------------


def test_identity_repr_masks_the_national_number() -> None:
    text = repr(FOREIGNER)
    assert "90030445674" not in text
    assert "90.03.04-***.**" in text
    assert PHOTO_SHA384.hex() not in text
    assert repr(PHOTO_SHA384) not in text
    assert "<48 bytes>" in text
    assert "future" not in text  # unknown tag values may be personal data
    assert str(FOREIGNER) == text
    assert f"{FOREIGNER}" == text
    assert "Ruiz García" in text  # the rest stays readable for debugging


def test_address_repr_shows_no_value() -> None:
    for text in (repr(ADDRESS), str(ADDRESS), f"{ADDRESS!r}"):
        assert "Église" not in text
        assert "7000" not in text
        assert "Mons" not in text
        assert "redacted" in text


def test_mask_national_number() -> None:
    assert mask_national_number("85073012434") == "85.07.30-***.**"
    assert mask_national_number("123") == "***"
    assert CITIZEN.masked_national_number == "85.07.30-***.**"


# --- encoder guards ---------------------------------------------------------------------


def test_encode_refuses_values_a_card_cannot_hold() -> None:
    with pytest.raises(ValueError, match="11 digits"):
        encode_identity(replace(CITIZEN, national_number="85.07.30-124.34"))
    with pytest.raises(ValueError, match="known field"):
        encode_identity(replace(CITIZEN, unknown_tags=((0x07, b"x"),)))
    with pytest.raises(ValueError, match="alpha-2"):
        encode_identity(replace(FOREIGNER, protection=Protection(date(2019, 1, 1), "FRA")))
    with pytest.raises(ValueError, match="upper case"):
        encode_identity(replace(FOREIGNER, protection=Protection(date(2019, 1, 1), "fr")))


# --- properties -------------------------------------------------------------------------

LANGUAGES: tuple[CardLanguage, ...] = ("fr", "nl", "de")


E = TypeVar("E", SpecialOrganisation, WorkPermitMention, BrexitMention, CardAMention)


def codes(kind: type[E]) -> st.SearchStrategy[E | None]:
    unknown = st.from_regex(r"[A-Z0-9]{1,2}", fullmatch=True).map(kind)
    return st.one_of(st.none(), st.sampled_from(list(kind)), unknown)


birth_dates = st.one_of(
    st.builds(
        lambda d, lang: BirthDate.from_date(d, language=lang),
        st.dates(),
        st.sampled_from(LANGUAGES),
    ),
    st.builds(
        lambda y, m, lang: BirthDate.from_parts(y, m, language=lang),
        st.integers(1, 9999),
        st.one_of(st.none(), st.integers(1, 12)),
        st.sampled_from(LANGUAGES),
    ),
)

identities = st.builds(
    Identity,
    file_structure_version=st.one_of(st.none(), st.binary(max_size=2)),
    card_number=st.text(max_size=12),
    chip_number=st.binary(max_size=16),
    validity_begin=st.dates(),
    validity_end=st.dates(),
    delivery_municipality=st.text(max_size=80),
    national_number=st.from_regex(r"[0-9]{11}", fullmatch=True),
    surname=st.text(max_size=300),
    first_names=st.text(max_size=95),
    third_name_initial=st.text(max_size=3),
    nationality=st.text(max_size=85),
    birth_location=st.text(max_size=80),
    birth_date=birth_dates,
    sex=st.one_of(st.sampled_from(list(Sex)), st.sampled_from("XYZ9").map(Sex)),
    noble_condition=st.text(max_size=50),
    document_type=st.one_of(
        st.sampled_from(list(DocumentType)), st.integers(0, 99).map(DocumentType)
    ),
    special_status=st.one_of(
        st.sampled_from(list(SpecialStatus)), st.integers(0, 99).map(SpecialStatus)
    ),
    photo_hash=st.binary(max_size=48),
    duplicate=st.text(max_size=2),
    special_organisation=codes(SpecialOrganisation),
    member_of_family=st.booleans(),
    protection=st.one_of(
        st.none(),
        st.builds(
            Protection,
            since=st.dates(),
            country=st.from_regex(r"[A-Z]{2}", fullmatch=True),
        ),
    ),
    work_permit_mention=codes(WorkPermitMention),
    employer_vat_1=st.text(max_size=13),
    employer_vat_2=st.text(max_size=13),
    regional_file_number=st.text(max_size=18),
    basic_key_hash=st.one_of(st.none(), st.binary(max_size=48)),
    brexit_mention_1=codes(BrexitMention),
    brexit_mention_2=codes(BrexitMention),
    card_a_mention_1=codes(CardAMention),
    card_a_mention_2=codes(CardAMention),
    registration_date=st.one_of(st.none(), st.dates()),
    unknown_tags=st.dictionaries(st.integers(0x20, 0xFF), st.binary(max_size=20), max_size=3).map(
        lambda tags: tuple(sorted(tags.items()))
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(identities, st.integers(0, 64))
def test_identity_round_trip(identity: Identity, padding: int) -> None:
    encoded = encode_identity(identity)
    assert parse_identity(encoded) == identity
    padded = encode_identity(identity, size=len(encoded) + padding)
    assert parse_identity(padded) == identity
    assert encode_identity(parse_identity(encoded)) == encoded


@given(st.text(max_size=60), st.text(max_size=6), st.text(max_size=47), st.integers(0, 64))
def test_address_round_trip(street: str, zip_code: str, municipality: str, padding: int) -> None:
    address = Address(street_and_number=street, zip_code=zip_code, municipality=municipality)
    encoded = encode_address(address, size=len(encode_address(address)) + padding)
    assert parse_address(encoded) == address


@given(birth_dates)
def test_birth_date_text_round_trip(birth: BirthDate) -> None:
    again = BirthDate(birth.text)
    assert again == birth
    complete = birth.to_date()
    assert (complete is not None) == birth.is_complete
    if complete is not None:
        assert (complete.year, complete.month, complete.day) == (birth.year, birth.month, birth.day)


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_parse_identity_arbitrary_bytes_raise_only_card_data_errors(data: bytes) -> None:
    with contextlib.suppress(CardDataError):
        parse_identity(data)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_parse_address_arbitrary_bytes_raise_only_card_data_errors(data: bytes) -> None:
    with contextlib.suppress(CardDataError):
        parse_address(data)


field_values = st.one_of(
    st.binary(max_size=16),
    st.sampled_from(
        [b"", b" ", b"0", b"01", b"99", b"M", b"X", b"31.02.2020", b"12 MARS 1983", b"\xff"]
    ),
    st.text(alphabet="0123456789 .-ABCDEFJMNORSTUVZÄ", max_size=14).map(str.encode),
)


@st.composite
def mutated_identity_files(draw: st.DrawFn) -> bytes:
    """Well-formed TLV whose field values are mangled, to reach every field reader."""
    base = FOREIGNER_KNOWN_TAGS
    for _ in range(draw(st.integers(1, 4))):
        tag = draw(st.integers(0x01, 0x1F))
        if draw(st.booleans()):
            base = with_tag(base, tag, draw(field_values))
        else:
            base = without_tag(base, tag)
    return base


@settings(max_examples=500)
@given(mutated_identity_files())
def test_parse_identity_mangled_fields_raise_only_field_errors(data: bytes) -> None:
    try:
        identity = parse_identity(data)
    except FieldError:
        return
    assert parse_identity(encode_identity(identity)) == identity
