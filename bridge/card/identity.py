"""Identity, address and photo data of the Belgian eID card: typed model, parser, encoder.

Sources: "ID and Address file contents" v5.0 (IDA5, ``shared/specs/eid-id-address-files-
applet-1.8-v5.txt``) for every tag and value; card content v5.4 §6.1-6.2 for the TLV and
the photo; digest and cross-checks in ``shared/belpic.md`` §3 and §6.3.

Choices this module makes where the documents leave room:

- Presence. IDA5 marks tags 12-19 and 1B-1F as foreigner-card tags whose default is
  ``""`` (present but blank). Parsing maps "absent" and "blank" to the same value (``""``
  for free text, ``None`` for codes and dates); encoding writes those tags on foreigner
  documents (document type 11 and above) even when blank, and on other documents only
  when they carry a value, so a citizen card gets no foreigner tags. Tag 14 (member of
  family) is present only when true, with length 0 (IDA5 default "absent").
- Codes keep unknown values. Every code enum answers an unknown code with a pseudo-member
  named ``UNKNOWN`` that keeps the raw value (``DocumentType(42).value == 42``;
  ``.known`` is ``False``), so a card issued after this code was written still reads.
- Birth date. :class:`BirthDate` keeps the card text (``DD mmmm YYYY`` or German
  ``DD.mmm.YYYY``) and exposes ``year`` plus ``month``/``day`` that are ``None`` when the
  card leaves them blank; ``to_date()`` is ``None`` for such incomplete dates.
- Privacy. ``repr`` of :class:`Identity` masks the national number and shows binary
  fields by length; :class:`Address` shows none of its values; error messages never quote
  a field's content.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from enum import IntEnum, StrEnum
from typing import Literal, TypeVar

from bridge.card.errors import CardDataError, IntegrityError
from bridge.card.tlv import encode_tlv, parse_tlv

__all__ = [
    "Address",
    "BirthDate",
    "BrexitMention",
    "CardAMention",
    "CardLanguage",
    "DocumentType",
    "FieldError",
    "Identity",
    "Protection",
    "Sex",
    "SpecialOrganisation",
    "SpecialStatus",
    "WorkPermitMention",
    "check_photo",
    "encode_address",
    "encode_identity",
    "format_birth_date",
    "mask_national_number",
    "parse_address",
    "parse_identity",
]


class FieldError(CardDataError, ValueError):
    """One field of the identity or address file is malformed or missing.

    The message names the tag and the field, never the field's content (personal data).
    """

    def __init__(self, tag: int, name: str, problem: str) -> None:
        self.tag = tag
        self.field = name
        super().__init__(f"tag {tag:02X} ({name}) {problem}")


# --- codes ------------------------------------------------------------------------------

_UNKNOWN = "UNKNOWN"


class _IntCode(IntEnum):
    """Numeric card code (one or two ASCII digits on the card) that tolerates new values."""

    @classmethod
    def _missing_(cls, value: object) -> _IntCode | None:
        # Two ASCII digits is all the field can hold (IDA5 max length 2).
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 99:
            member = int.__new__(cls, value)
            member._name_ = _UNKNOWN
            member._value_ = value
            return member
        return None

    @property
    def known(self) -> bool:
        """Whether IDA5 v5.0 defines this value."""
        return self._name_ in type(self).__members__


class _StrCode(StrEnum):
    """Letter/digit card code that tolerates new values."""

    @classmethod
    def _missing_(cls, value: object) -> _StrCode | None:
        if isinstance(value, str) and value:
            member = str.__new__(cls, value)
            member._name_ = _UNKNOWN
            member._value_ = value
            return member
        return None

    @property
    def known(self) -> bool:
        """Whether IDA5 v5.0 defines this value."""
        return self._name_ in type(self).__members__


class DocumentType(_IntCode):
    """Tag 0F (IDA5 §1; SDK "Document_Type"). Written as two digits, ``01`` for eID."""

    EID = 1
    KIDS_ID = 6
    BOOTSTRAP = 7
    HABILITATION = 8
    FOREIGNER_A = 11
    FOREIGNER_B = 12
    FOREIGNER_C = 13
    FOREIGNER_D = 14
    FOREIGNER_E = 15
    FOREIGNER_E_PLUS = 16
    FOREIGNER_F = 17
    FOREIGNER_F_PLUS = 18
    FOREIGNER_H = 19  # European blue card
    FOREIGNER_I = 20
    FOREIGNER_J = 21
    FOREIGNER_M = 22
    FOREIGNER_N = 23
    FOREIGNER_K = 27
    FOREIGNER_L = 28
    FOREIGNER_EU = 31
    FOREIGNER_EU_PLUS = 32
    # 33-36: the A, B, F and F+ cards in the Council Regulation (EC) 1030/2002 layout.
    FOREIGNER_A_1030 = 33
    FOREIGNER_B_1030 = 34
    FOREIGNER_F_1030 = 35
    FOREIGNER_F_PLUS_1030 = 36
    # 61-69: foreigner cards for children under 12 (IDA5 v5.0, 15/11/2023).
    KIDS_FOREIGNER_EU = 61
    KIDS_FOREIGNER_EU_PLUS = 62
    KIDS_FOREIGNER_A = 63
    KIDS_FOREIGNER_B = 64
    KIDS_FOREIGNER_K = 65
    KIDS_FOREIGNER_L = 66
    KIDS_FOREIGNER_F = 67
    KIDS_FOREIGNER_F_PLUS = 68
    KIDS_FOREIGNER_M = 69

    @property
    def is_foreigner(self) -> bool:
        """Residence cards: every code from 11 up (1, 6, 7 and 8 are Belgian documents)."""
        return self.value >= 11


class SpecialStatus(_IntCode):
    """Tag 10. Values 1-5 are "present on existing cards, not used on new cards"."""

    NONE = 0
    WHITE_CANE = 1
    EXTENDED_MINORITY = 2
    WHITE_CANE_EXTENDED_MINORITY = 3
    YELLOW_CANE = 4
    YELLOW_CANE_EXTENDED_MINORITY = 5


class Sex(_StrCode):
    """Tag 0D: ``M`` man; a woman is ``F``, ``V`` or ``W`` depending on the card language
    (IDA5; commons-eid ``GenderDataConvertor``). The letter is kept so that a card encodes
    back as it was; compare with :attr:`is_female`, not with ``FEMALE``."""

    MALE = "M"
    FEMALE = "F"
    FEMALE_NL = "V"
    FEMALE_DE = "W"

    @property
    def is_male(self) -> bool:
        return self is Sex.MALE

    @property
    def is_female(self) -> bool:
        return self in (Sex.FEMALE, Sex.FEMALE_NL, Sex.FEMALE_DE)


class SpecialOrganisation(_StrCode):
    """Tag 13 (foreigner cards); 1 and 2 are no longer issued (IDA5 note a)."""

    SHAPE = "1"
    NATO = "2"
    OLD_EUROPEAN_BLUE_CARD = "4"
    RESEARCHER = "5"


class WorkPermitMention(_StrCode):
    """Tag 16 (foreigner cards, Directive 2011/98/EU). ``A`` is struck out in IDA5 v4
    (moved to tag 1D) but may still be on cards, and eid-viewer still decodes it."""

    LABOUR_MARKET_UNLIMITED = "7"
    LABOUR_MARKET_LIMITED = "8"
    LABOUR_MARKET_NONE = "9"
    SEASONAL_WORKER = "A"


class BrexitMention(_StrCode):
    """Tags 1B (``B``) and 1C (``C``), Brexit withdrawal agreement."""

    ARTICLE_18_1_AGREEMENT = "B"
    PERMANENT_RESIDENCE = "C"  # "Séjour permanent"


class CardAMention(_StrCode):
    """Tags 1D (``A``, ``D``-``J``) and 1E (``K``) of A cards (Directive (EU) 2016/801)."""

    SEASONAL_WORKER = "A"
    STUDENT = "D"
    SCHOOL_PUPIL = "E"
    TRAINEE = "F"
    VOLUNTEER = "G"
    AU_PAIR = "H"
    RESEARCHER = "I"
    JOB_SEARCH = "J"
    MOBILITY_PROGRAM = "K"


# --- birth date -------------------------------------------------------------------------

CardLanguage = Literal["fr", "nl", "de"]
"""The language a card is personalised in; it decides the birth-date month tokens."""

_MONTH_TOKENS: Mapping[str, tuple[str, ...]] = {
    # IDA5 §3 "Birth date month encoding"; there is no "MAR" token on cards.
    "fr": ("JAN", "FEV", "MARS", "AVR", "MAI", "JUIN", "JUIL", "AOUT", "SEPT", "OCT", "NOV", "DEC"),
    "nl": ("JAN", "FEB", "MAAR", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC"),
    "de": ("JAN", "FEB", "MÄR", "APR", "MAI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEZ"),
}
_MONTH_NUMBERS: Mapping[str, int] = {
    token: number
    for tokens in _MONTH_TOKENS.values()
    for number, token in enumerate(tokens, start=1)
}
_DATE_SEPARATORS = re.compile(r"[\s.]+")
_YEAR = re.compile(r"[0-9]{4}")
_DAY = re.compile(r"[0-9]{1,2}")
_TAG_BIRTH_DATE = 0x0C


def _birth_date_error(problem: str) -> FieldError:
    return FieldError(_TAG_BIRTH_DATE, "birth_date", problem)


def _parse_birth_date(text: str) -> tuple[int, int | None, int | None]:
    """``(year, month, day)`` of a tag-0C text; see :class:`BirthDate` for the rules."""
    tokens = [t for t in _DATE_SEPARATORS.split(unicodedata.normalize("NFC", text)) if t]
    if not tokens:
        raise _birth_date_error("is blank")
    if not _YEAR.fullmatch(tokens[-1]):
        raise _birth_date_error("does not end with a 4-digit year")
    year = int(tokens[-1])
    if year == 0:
        raise _birth_date_error("has year 0000")
    rest = tokens[:-1]
    day: int | None = None
    month: int | None = None
    if len(rest) == 2:
        day_token, month_token = rest
        if not _DAY.fullmatch(day_token):
            raise _birth_date_error("has a day that is not 1 or 2 digits")
        day = int(day_token)
        month = _month_number(month_token)
    elif len(rest) == 1:
        if _DAY.fullmatch(rest[0]):
            day = int(rest[0])  # blank month, as eid-viewer's "   " month 0
        else:
            month = _month_number(rest[0])  # blank day
    elif rest:
        raise _birth_date_error(f"has {len(tokens)} parts, at most 3 expected")
    if day == 0:
        day = None  # [inferred] 00 = unknown day, as in the national register number
    if day is not None and day > 31:
        raise _birth_date_error("has a day above 31")
    if day is not None and month is not None:
        try:
            date(year, month, day)
        except ValueError:
            raise _birth_date_error("is not a calendar date") from None
    return year, month, day


def _month_number(token: str) -> int:
    number = _MONTH_NUMBERS.get(token.upper())
    if number is None:
        raise _birth_date_error("has an unknown month token (FR, NL or DE expected)")
    return number


def format_birth_date(year: int, month: int | None, day: int | None, language: CardLanguage) -> str:
    """Tag-0C text in a card language: ``30 JUL 1985`` (fr/nl), ``30.JUL.1985`` (de).

    Month tokens are IDA5's; FR/NL tokens are written without padding to four letters
    (whether cards pad them is **not verified**, ``belpic.md`` §3.4; the parser accepts
    both). An unknown day gives ``JUL 1985`` / ``JUL.1985``, an unknown month the year
    alone (commons-eid "case II2b2"). Raises ``ValueError`` for impossible input.
    """
    if language not in _MONTH_TOKENS:
        raise ValueError(f"card language must be one of {sorted(_MONTH_TOKENS)}")
    if not 1 <= year <= 9999:
        raise ValueError("birth year must have 4 digits")
    if month is None:
        if day is not None:
            raise ValueError("a birth day without a month cannot be written")
        return f"{year:04d}"
    if not 1 <= month <= 12:
        raise ValueError("birth month must be 1 to 12")
    token = _MONTH_TOKENS[language][month - 1]
    separator = "." if language == "de" else " "
    if day is None:
        return f"{token}{separator}{year:04d}"
    date(year, month, day)  # ValueError for 30 February and the like
    return f"{day:02d}{separator}{token}{separator}{year:04d}"


@dataclass(frozen=True)
class BirthDate:
    """Tag 0C: the card's birth-date text and what it says.

    Parsing is tolerant (``shared/belpic.md`` §3.4): the text is split on runs of spaces
    and dots, so ``30 JUL 1985``, ``30 JUL  1985`` (padded token), ``30.MÄR.1983``,
    ``30.MÄR. 1983`` and ``30 JUL. 1985`` all read; month tokens are the FR, NL and DE
    ones of IDA5 (case-insensitive, ``MÄR`` in composed or decomposed form). Incomplete
    dates give a typed result instead of an error: ``1950`` (year only), ``JAN 1950``
    (blank day), ``15 1950`` (blank month), and a day ``00`` reads as unknown. Anything
    else raises :class:`FieldError`, also when built directly.

    ``text`` is kept verbatim so that encoding gives back the card's bytes; build new
    values with :meth:`from_parts` or :meth:`from_date`.
    """

    text: str
    year: int = field(init=False)
    month: int | None = field(init=False)
    day: int | None = field(init=False)

    def __post_init__(self) -> None:
        year, month, day = _parse_birth_date(self.text)
        object.__setattr__(self, "year", year)
        object.__setattr__(self, "month", month)
        object.__setattr__(self, "day", day)

    @classmethod
    def from_parts(
        cls,
        year: int,
        month: int | None = None,
        day: int | None = None,
        *,
        language: CardLanguage,
    ) -> BirthDate:
        return cls(format_birth_date(year, month, day, language))

    @classmethod
    def from_date(cls, value: date, *, language: CardLanguage) -> BirthDate:
        return cls.from_parts(value.year, value.month, value.day, language=language)

    @property
    def is_complete(self) -> bool:
        return self.month is not None and self.day is not None

    def to_date(self) -> date | None:
        """The calendar date, or ``None`` when the card gives no day or no month."""
        if self.month is None or self.day is None:
            return None
        return date(self.year, self.month, self.day)


# --- records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Protection:
    """Tag 15 ``dd.MM.yyyy-A2``: date of protection and ISO 3166 alpha-2 country."""

    since: date
    country: str


def mask_national_number(national_number: str) -> str:
    """``85.07.30-***.**``: the birth-date part only, for logs and reprs."""
    if len(national_number) != 11 or not national_number.isascii():
        return "***"
    nn = national_number
    return f"{nn[0:2]}.{nn[2:4]}.{nn[4:6]}-***.**"


def _redact_bytes(value: bytes | None) -> str:
    return "None" if value is None else f"<{len(value)} bytes>"


def _redact_unknown(tags: tuple[tuple[int, bytes], ...]) -> str:
    inner = ", ".join(f"{tag:02X}: <{len(value)} bytes>" for tag, value in tags)
    return f"({inner})"


@dataclass(frozen=True, kw_only=True, repr=False)
class Identity:
    """EF(ID#RN) (file 4031): every tag of IDA5 v5.0, in tag order.

    Tags that IDA5 marks mandatory ("M") on every card have no default and their absence
    is a :class:`FieldError`. Tags 1A (applet 1.8 only) and 1F (recent foreigner layouts
    only) are "M" too, but older cards lack them, so they are optional here. For optional
    codes and dates ``None`` means "absent or blank", for optional text ``""`` does;
    binary fields keep what the card holds (``None`` = absent). ``unknown_tags`` holds the
    tags above 1F, in file order.
    """

    file_structure_version: bytes | None = None  # 00, binary; encoding not documented
    card_number: str  # 01
    chip_number: bytes  # 02
    validity_begin: date  # 03
    validity_end: date  # 04
    delivery_municipality: str  # 05
    national_number: str  # 06, 11 digits
    surname: str  # 07
    first_names: str = ""  # 08, first two given names
    third_name_initial: str = ""  # 09
    nationality: str  # 0A
    birth_location: str  # 0B
    birth_date: BirthDate  # 0C
    sex: Sex  # 0D
    noble_condition: str = ""  # 0E
    document_type: DocumentType  # 0F
    special_status: SpecialStatus = SpecialStatus.NONE  # 10
    photo_hash: bytes  # 11, SHA-1 (1.7) or SHA-384 (1.8)
    duplicate: str = ""  # 12
    special_organisation: SpecialOrganisation | None = None  # 13
    member_of_family: bool = False  # 14
    protection: Protection | None = None  # 15
    work_permit_mention: WorkPermitMention | None = None  # 16
    employer_vat_1: str = ""  # 17
    employer_vat_2: str = ""  # 18
    regional_file_number: str = ""  # 19
    basic_key_hash: bytes | None = None  # 1A, SHA-384 of file 4040 (applet 1.8)
    brexit_mention_1: BrexitMention | None = None  # 1B
    brexit_mention_2: BrexitMention | None = None  # 1C
    card_a_mention_1: CardAMention | None = None  # 1D
    card_a_mention_2: CardAMention | None = None  # 1E
    registration_date: date | None = None  # 1F, EU registration / EU+ permanent stay
    unknown_tags: tuple[tuple[int, bytes], ...] = ()

    @property
    def masked_national_number(self) -> str:
        return mask_national_number(self.national_number)

    def __repr__(self) -> str:
        shown: dict[str, str] = {}
        for item in fields(self):
            name = item.name
            value = getattr(self, name)
            if name == "national_number":
                shown[name] = repr(self.masked_national_number)
            elif name == "unknown_tags":
                shown[name] = _redact_unknown(self.unknown_tags)
            elif isinstance(value, bytes) or value is None:
                shown[name] = _redact_bytes(value)
            else:
                shown[name] = repr(value)
        return "Identity(" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"


@dataclass(frozen=True, kw_only=True, repr=False)
class Address:
    """EF(ID#Address) (file 4033), IDA5 §2."""

    file_structure_version: bytes | None = None  # 00
    street_and_number: str  # 01
    zip_code: str  # 02
    municipality: str  # 03
    unknown_tags: tuple[tuple[int, bytes], ...] = ()

    def __repr__(self) -> str:
        return (
            "Address(street_and_number=<redacted>, zip_code=<redacted>, "
            "municipality=<redacted>, "
            f"file_structure_version={_redact_bytes(self.file_structure_version)}, "
            f"unknown_tags={_redact_unknown(self.unknown_tags)})"
        )


# --- parsing ----------------------------------------------------------------------------

_ID_FIELDS: Mapping[int, str] = {
    0x00: "file_structure_version",
    0x01: "card_number",
    0x02: "chip_number",
    0x03: "validity_begin",
    0x04: "validity_end",
    0x05: "delivery_municipality",
    0x06: "national_number",
    0x07: "surname",
    0x08: "first_names",
    0x09: "third_name_initial",
    0x0A: "nationality",
    0x0B: "birth_location",
    0x0C: "birth_date",
    0x0D: "sex",
    0x0E: "noble_condition",
    0x0F: "document_type",
    0x10: "special_status",
    0x11: "photo_hash",
    0x12: "duplicate",
    0x13: "special_organisation",
    0x14: "member_of_family",
    0x15: "protection",
    0x16: "work_permit_mention",
    0x17: "employer_vat_1",
    0x18: "employer_vat_2",
    0x19: "regional_file_number",
    0x1A: "basic_key_hash",
    0x1B: "brexit_mention_1",
    0x1C: "brexit_mention_2",
    0x1D: "card_a_mention_1",
    0x1E: "card_a_mention_2",
    0x1F: "registration_date",
}
_ADDRESS_FIELDS: Mapping[int, str] = {
    0x00: "file_structure_version",
    0x01: "street_and_number",
    0x02: "zip_code",
    0x03: "municipality",
}

_DOTTED_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")
_PROTECTION = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})-([A-Za-z]{2})")
_NATIONAL_NUMBER = re.compile(r"[0-9]{11}")
_CODE_DIGITS = re.compile(r"[0-9]{1,2}")


class _Fields:
    """The elements of one file by tag, with typed readers that raise FieldError."""

    def __init__(self, values: dict[int, bytes], names: Mapping[int, str]) -> None:
        self._values = values
        self._names = names

    def error(self, tag: int, problem: str) -> FieldError:
        return FieldError(tag, self._names[tag], problem)

    def raw(self, tag: int) -> bytes:
        value = self._values.get(tag)
        if value is None:
            raise self.error(tag, "is missing (mandatory)")
        return value

    def optional_raw(self, tag: int) -> bytes | None:
        return self._values.get(tag)

    def present(self, tag: int) -> bool:
        return tag in self._values

    def text(self, tag: int) -> str:
        return self._decode(tag, self.raw(tag))

    def optional_text(self, tag: int) -> str:
        raw = self._values.get(tag)
        return "" if raw is None else self._decode(tag, raw)

    def _decode(self, tag: int, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(tag, f"is not valid UTF-8 (byte {exc.start})") from None

    def code(self, tag: int) -> str:
        """Stripped text of an optional code; ``""`` when absent or blank."""
        return self.optional_text(tag).strip()

    def dotted_date(self, tag: int, text: str) -> date:
        match = _DOTTED_DATE.fullmatch(text.strip())
        if match is None:
            raise self.error(tag, "is not a DD.MM.YYYY date")
        day, month, year = (int(part) for part in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise self.error(tag, "is not a calendar date") from None


def _elements(
    data: bytes | bytearray | memoryview, known: Mapping[int, str]
) -> tuple[dict[int, bytes], tuple[tuple[int, bytes], ...]]:
    values: dict[int, bytes] = {}
    unknown: list[tuple[int, bytes]] = []
    for tag, value in parse_tlv(data):
        if tag in known:
            values[tag] = value
        else:
            unknown.append((tag, value))
    return values, tuple(unknown)


_C = TypeVar("_C", bound=_StrCode)


def _str_code(kind: type[_C], f: _Fields, tag: int) -> _C | None:
    text = f.code(tag)
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise f.error(tag, "is not a code") from None


def parse_identity(data: bytes | bytearray | memoryview) -> Identity:
    """Read EF(ID#RN) as read from the card (trailing zero padding allowed).

    Raises :class:`~bridge.card.errors.TlvError` for a broken TLV structure and
    :class:`FieldError` for a missing mandatory tag or a malformed value; both are
    :class:`~bridge.card.errors.CardDataError`, and nothing else escapes.
    """
    values, unknown = _elements(data, _ID_FIELDS)
    f = _Fields(values, _ID_FIELDS)

    national_number = f.text(0x06)
    if not _NATIONAL_NUMBER.fullmatch(national_number):
        raise f.error(0x06, "is not 11 digits")

    birth_text = f.text(0x0C)
    birth_date = BirthDate(birth_text)  # raises FieldError(0C) itself

    sex_text = f.text(0x0D).strip()
    if not sex_text:
        raise f.error(0x0D, "is blank")
    sex = Sex(sex_text)

    document_text = f.text(0x0F).strip()
    if not _CODE_DIGITS.fullmatch(document_text):
        raise f.error(0x0F, "is not 1 or 2 digits")
    document_type = DocumentType(int(document_text))

    status_text = f.code(0x10)
    if not status_text:
        special_status = SpecialStatus.NONE  # IDA5 default "0"
    elif _CODE_DIGITS.fullmatch(status_text):
        special_status = SpecialStatus(int(status_text))
    else:
        raise f.error(0x10, "is not 1 or 2 digits")

    protection_text = f.code(0x15)
    protection: Protection | None = None
    if protection_text:
        match = _PROTECTION.fullmatch(protection_text)
        if match is None:
            raise f.error(0x15, "is not dd.MM.yyyy-A2")
        day, month, year = (int(part) for part in match.groups()[:3])
        try:
            protection_date = date(year, month, day)
        except ValueError:
            raise f.error(0x15, "is not a calendar date") from None
        protection = Protection(since=protection_date, country=match.group(4).upper())

    registration_text = f.code(0x1F)
    registration_date = f.dotted_date(0x1F, registration_text) if registration_text else None

    return Identity(
        file_structure_version=f.optional_raw(0x00),
        card_number=f.text(0x01),
        chip_number=f.raw(0x02),
        validity_begin=f.dotted_date(0x03, f.text(0x03)),
        validity_end=f.dotted_date(0x04, f.text(0x04)),
        delivery_municipality=f.text(0x05),
        national_number=national_number,
        surname=f.text(0x07),
        first_names=f.optional_text(0x08),
        third_name_initial=f.optional_text(0x09),
        nationality=f.text(0x0A),
        birth_location=f.text(0x0B),
        birth_date=birth_date,
        sex=sex,
        noble_condition=f.optional_text(0x0E),
        document_type=document_type,
        special_status=special_status,
        photo_hash=f.raw(0x11),
        duplicate=f.optional_text(0x12),
        special_organisation=_str_code(SpecialOrganisation, f, 0x13),
        # IDA5: "Boolean", length 0, default "absent": presence is the value.
        member_of_family=f.present(0x14),
        protection=protection,
        work_permit_mention=_str_code(WorkPermitMention, f, 0x16),
        employer_vat_1=f.optional_text(0x17),
        employer_vat_2=f.optional_text(0x18),
        regional_file_number=f.optional_text(0x19),
        basic_key_hash=f.optional_raw(0x1A),
        brexit_mention_1=_str_code(BrexitMention, f, 0x1B),
        brexit_mention_2=_str_code(BrexitMention, f, 0x1C),
        card_a_mention_1=_str_code(CardAMention, f, 0x1D),
        card_a_mention_2=_str_code(CardAMention, f, 0x1E),
        registration_date=registration_date,
        unknown_tags=unknown,
    )


def parse_address(data: bytes | bytearray | memoryview) -> Address:
    """Read EF(ID#Address) as read from the card (trailing zero padding allowed).

    Raises only :class:`~bridge.card.errors.CardDataError` subclasses, like
    :func:`parse_identity`.
    """
    values, unknown = _elements(data, _ADDRESS_FIELDS)
    f = _Fields(values, _ADDRESS_FIELDS)
    return Address(
        file_structure_version=f.optional_raw(0x00),
        street_and_number=f.text(0x01),
        zip_code=f.text(0x02),
        municipality=f.text(0x03),
        unknown_tags=unknown,
    )


# --- photo ------------------------------------------------------------------------------

_PHOTO_HASH_ALGORITHMS: Mapping[int, str] = {20: "sha1", 32: "sha256", 48: "sha384"}
"""Tag 11 length → algorithm, as eid-viewer and commons-eid pick it (belpic.md §6.3):
SHA-1 on applet 1.7 cards (A17), SHA-384 on 1.8 (IDA5), SHA-256 accepted in between."""


def check_photo(identity: Identity, photo: bytes | bytearray | memoryview) -> None:
    """Raise :class:`IntegrityError` unless ``photo`` (EF(ID#Photo) exactly as read)
    hashes to tag 11. The identity file is signed by the National Register, so a match
    makes the photo as trustworthy as that signature (card content v5.4 §6.2.6)."""
    expected = identity.photo_hash
    algorithm = _PHOTO_HASH_ALGORITHMS.get(len(expected))
    if algorithm is None:
        raise IntegrityError(
            f"photo hash has {len(expected)} bytes; 20, 32 or 48 (SHA-1/256/384) expected"
        )
    # SHA-1 is what applet 1.7 cards carry; refusing it would refuse every such card.
    actual = hashlib.new(algorithm, bytes(photo)).digest()
    if not hmac.compare_digest(actual, expected):
        raise IntegrityError(f"photo does not match its {algorithm.upper()} hash in the identity")


# --- encoding ---------------------------------------------------------------------------


def _utf8(value: str) -> bytes:
    return value.encode("utf-8")


def _dotted(value: date) -> bytes:
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}".encode("ascii")


def _code_bytes(code: _StrCode | None, name: str) -> bytes:
    if code is None:
        return b""
    if not code.value or code.value != code.value.strip():
        raise ValueError(f"{name} code must be non-blank without surrounding spaces")
    return _utf8(code.value)


def _unknown_items(
    unknown: Iterable[tuple[int, bytes]], known: Mapping[int, str]
) -> list[tuple[int, bytes]]:
    items = []
    for tag, value in unknown:
        if tag in known:
            raise ValueError(f"unknown_tags holds tag {tag:02X}, which is a known field")
        items.append((tag, bytes(value)))
    return sorted(items, key=lambda item: item[0])


def _finish(items: list[tuple[int, bytes]], size: int | None) -> bytes:
    encoded = encode_tlv(items)
    if size is None:
        return encoded
    if len(encoded) > size:
        raise ValueError(f"encoded file has {len(encoded)} bytes, more than size {size}")
    # Card files are longer than their data; the rest is zero padding that readers must
    # ignore (card content v5.4 §6.1) and that the address signature excludes (§6.2.5).
    return encoded + bytes(size - len(encoded))


def encode_identity(identity: Identity, *, size: int | None = None) -> bytes:
    """EF(ID#RN) bytes for ``identity``, tags ascending; zero-padded to ``size`` if given.

    Tags 08, 09, 0E and 10 are always written (IDA5 ticks them for every card, default
    ``""`` or ``0``); see the module docstring for the foreigner tags. The document type
    is written as two digits (``01``): commons-eid reads a 2-byte value as two digits and
    eid-viewer falls back to its second character. ``parse_identity`` reads the result
    back to an equal ``Identity``. Raises ``ValueError`` for values a card cannot hold.
    """
    i = identity
    if not _NATIONAL_NUMBER.fullmatch(i.national_number):
        raise ValueError("national number must be 11 digits")
    foreigner = i.document_type.is_foreigner

    items: list[tuple[int, bytes]] = []
    if i.file_structure_version is not None:
        items.append((0x00, i.file_structure_version))
    items += [
        (0x01, _utf8(i.card_number)),
        (0x02, i.chip_number),
        (0x03, _dotted(i.validity_begin)),
        (0x04, _dotted(i.validity_end)),
        (0x05, _utf8(i.delivery_municipality)),
        (0x06, _utf8(i.national_number)),
        (0x07, _utf8(i.surname)),
        (0x08, _utf8(i.first_names)),
        (0x09, _utf8(i.third_name_initial)),
        (0x0A, _utf8(i.nationality)),
        (0x0B, _utf8(i.birth_location)),
        (0x0C, _utf8(i.birth_date.text)),
        (0x0D, _code_bytes(i.sex, "sex")),
        (0x0E, _utf8(i.noble_condition)),
        (0x0F, f"{i.document_type.value:02d}".encode("ascii")),
        (0x10, str(i.special_status.value).encode("ascii")),
        (0x11, i.photo_hash),
    ]

    def foreigner_field(tag: int, value: bytes) -> None:
        # IDA5 default "" = present but blank on foreigner cards, absent elsewhere.
        if foreigner or value:
            items.append((tag, value))

    foreigner_field(0x12, _utf8(i.duplicate))
    foreigner_field(0x13, _code_bytes(i.special_organisation, "special_organisation"))
    if i.member_of_family:
        items.append((0x14, b""))
    if i.protection is None:
        protection = b""
    else:
        country = i.protection.country
        if not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise ValueError("protection country must be an ISO 3166 alpha-2 code")
        if not country.isupper():
            raise ValueError("protection country must be upper case")
        protection = _dotted(i.protection.since) + b"-" + country.encode("ascii")
    foreigner_field(0x15, protection)
    foreigner_field(0x16, _code_bytes(i.work_permit_mention, "work_permit_mention"))
    foreigner_field(0x17, _utf8(i.employer_vat_1))
    foreigner_field(0x18, _utf8(i.employer_vat_2))
    foreigner_field(0x19, _utf8(i.regional_file_number))
    if i.basic_key_hash is not None:
        items.append((0x1A, i.basic_key_hash))
    foreigner_field(0x1B, _code_bytes(i.brexit_mention_1, "brexit_mention_1"))
    foreigner_field(0x1C, _code_bytes(i.brexit_mention_2, "brexit_mention_2"))
    foreigner_field(0x1D, _code_bytes(i.card_a_mention_1, "card_a_mention_1"))
    foreigner_field(0x1E, _code_bytes(i.card_a_mention_2, "card_a_mention_2"))
    registration = b"" if i.registration_date is None else _dotted(i.registration_date)
    foreigner_field(0x1F, registration)

    items += _unknown_items(i.unknown_tags, _ID_FIELDS)
    return _finish(items, size)


def encode_address(address: Address, *, size: int | None = None) -> bytes:
    """EF(ID#Address) bytes, zero-padded to ``size`` if given (real cards: 117 bytes
    since 2004, card content v5.4 §2.3). ``parse_address`` reads it back unchanged."""
    items: list[tuple[int, bytes]] = []
    if address.file_structure_version is not None:
        items.append((0x00, address.file_structure_version))
    items += [
        (0x01, _utf8(address.street_and_number)),
        (0x02, _utf8(address.zip_code)),
        (0x03, _utf8(address.municipality)),
    ]
    items += _unknown_items(address.unknown_tags, _ADDRESS_FIELDS)
    return _finish(items, size)
