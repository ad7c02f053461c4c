"""What a Belgian national register number says: valid or not, birth date, sex; and how it
may be shown (masked: the number itself is personal data)."""

from __future__ import annotations

from datetime import date

from stdnum.be import bis, nn
from stdnum.exceptions import ValidationError


def compact(raw: str) -> str:
    """The digits of a number as people write it (``85.07.30-033.28``, spaces...)."""
    return nn.compact(raw)


def is_national_number(value: str) -> bool:
    """A valid national register number, or a BIS number (people not in the register)."""
    return nn.is_valid(value) or bis.is_valid(value)


def birth_date_and_sex(national_number: str) -> tuple[date | None, str | None]:
    """Birth date and sex (``M``/``F``) encoded in the number; ``None`` for what it does
    not tell (a BIS number without sex, an unknown birth date, a number that does not
    validate)."""
    for scheme in (nn, bis):
        try:
            number = scheme.validate(national_number)
        except ValidationError:
            continue
        try:
            born = scheme.get_birth_date(number)
        except (ValidationError, ValueError):
            born = None
        sex = scheme.get_gender(number)
        return born, sex if sex in ("M", "F") else None
    return None, None


def mask(national_number: str) -> str:
    """Every character but the last two hidden: enough to find a row again, nothing of the
    birth date or sex."""
    visible = national_number[-2:] if len(national_number) > 4 else ""
    return "*" * (len(national_number) - len(visible)) + visible
