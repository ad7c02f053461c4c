"""Personal accounts: usernames, checks of what people type, mailed codes, login throttling.

The views in ``views/accounts.py`` call these; nothing here knows about HTTP.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webclient.portal.db import utcnow
from webclient.portal.i18n import gettext as _
from webclient.portal.models import EmailCode, ThrottleEvent, User
from webclient.portal.security import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    numeric_code,
    same,
)

USERNAME_MIN = 3
USERNAME_MAX = 32
USERNAME_PATTERN = re.compile(rf"[a-z0-9._-]{{{USERNAME_MIN},{USERNAME_MAX}}}")
NAME_MAX = 100
EMAIL_MAX = 254
CODE_DIGITS = 6

ACTIVATE = "activate"
CHANGE_EMAIL = "change_email"

# Letters NFKD does not decompose into an ASCII base letter.
_FOLD = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
     "ı": "i"}
)
_NAME_PUNCTUATION = frozenset(" -'’.")
_PHONE = re.compile(r"\+?[0-9 ./()-]{6,30}")
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")


# -- usernames -----------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    """Lowercase ASCII letters and digits of ``text``; other characters become dashes."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def base_username(first_name: str, last_name: str) -> str:
    """``first.last`` in plain ASCII, cut to the maximum length."""
    parts = [part for part in (ascii_fold(first_name), ascii_fold(last_name)) if part]
    base = ".".join(parts)[:USERNAME_MAX].rstrip(".-")
    if len(base) < USERNAME_MIN:
        # Names in another script, or very short ones: still a valid suggestion.
        base = f"{base}.user" if base else "user"
    return base


async def suggest_username(db: AsyncSession, first_name: str, last_name: str) -> str:
    """The first free one of ``first.last``, ``first.last2``, ``first.last3``..."""
    base = base_username(first_name, last_name)
    # The base holds only [a-z0-9.-]: no LIKE wildcard to escape.
    taken = set(
        (
            await db.scalars(
                select(func.lower(User.username)).where(
                    func.lower(User.username).like(f"{base[: USERNAME_MAX - 6]}%")
                )
            )
        ).all()
    )
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = str(number)
        candidate = base[: USERNAME_MAX - len(suffix)].rstrip(".-") + suffix
        if candidate not in taken:
            return candidate
        number += 1


def normalise_username(value: str) -> str:
    return value.strip().lower()


def username_problem(username: str) -> str | None:
    if not USERNAME_PATTERN.fullmatch(username):
        return _(
            "Choose a username of %(min)s to %(max)s characters: letters without accents, "
            "digits, dots, dashes or underscores.",
            min=USERNAME_MIN,
            max=USERNAME_MAX,
        )
    return None


# -- names, e-mail, phone, password ----------------------------------------------------------


def name_problem(value: str) -> str | None:
    if not value:
        return _("Enter this name as it is written on your identity card.")
    if len(value) > NAME_MAX:
        return _("This name is too long (at most %(max)s characters).", max=NAME_MAX)
    if not any(unicodedata.category(char).startswith("L") for char in value) or any(
        not unicodedata.category(char).startswith(("L", "M")) and char not in _NAME_PUNCTUATION
        for char in value
    ):
        return _(
            "Use only letters, spaces, dashes and apostrophes, as on your identity card."
        )
    return None


def normalise_email(value: str) -> str:
    """The address as typed, with its domain in lowercase (the local part may be
    case-sensitive, so it is kept)."""
    local, _at, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if local else value.strip()


def email_problem(value: str) -> str | None:
    """A syntax check only: whether the address receives mail is what the code proves."""
    wrong = _("Enter a valid e-mail address, such as name@example.be.")
    if not value:
        return _("Enter your personal e-mail address.")
    if len(value) > EMAIL_MAX or parseaddr(value)[1] != value or value.count("@") != 1:
        return wrong
    local, domain = value.split("@")
    if not _LOCAL_PART.fullmatch(local) or local.startswith(".") or local.endswith(".") or (
        ".." in local
    ):
        return wrong
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return wrong
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return wrong
    if not re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}", labels[-1]):
        return wrong
    return None


def phone_problem(value: str) -> str | None:
    if value and (not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 6):
        return _("Enter a phone number with digits only, such as +32 2 123 45 67.")
    return None


def password_problems(
    password: str, confirmation: str, *, username: str, email: str, field: str = "password",
    confirm_field: str = "password_confirm",
) -> dict[str, str]:
    """What is wrong with a new password, by form field."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return {field: _("Choose a password of at least %(min)s characters.",
                         min=PASSWORD_MIN_LENGTH)}
    if len(password) > PASSWORD_MAX_LENGTH:
        return {field: _("Choose a password of at most %(max)s characters.",
                         max=PASSWORD_MAX_LENGTH)}
    lowered = password.lower()
    if (username and lowered == username.lower()) or (email and lowered == email.lower()):
        return {field: _("Your password must not be your username or your e-mail address.")}
    if password != confirmation:
        return {confirm_field: _("The two passwords are different. Type the same password "
                                 "twice.")}
    return {}


# -- mailed codes ---------------------------------------------------------------------------


def code_hash(secret: bytes, user_id: int, purpose: str, code: str) -> str:
    """Keyed, so a copy of the database does not give the codes by trying all million."""
    message = f"portal email code v1\0{user_id}\0{purpose}\0{code}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


async def issue_code(
    db: AsyncSession, secret: bytes, user: User, purpose: str, email: str, ttl: int
) -> str:
    """A new code for ``purpose``; earlier ones of the same purpose stop working."""
    now = utcnow()
    await db.execute(
        update(EmailCode)
        .where(EmailCode.user_id == user.id, EmailCode.purpose == purpose,
               EmailCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = numeric_code(CODE_DIGITS)
    db.add(
        EmailCode(
            user_id=user.id, purpose=purpose, email=email,
            code_hash=code_hash(secret, user.id, purpose, code),
            created_at=now, expires_at=now + timedelta(seconds=ttl), attempts=0,
        )
    )
    return code


async def pending_code(db: AsyncSession, user_id: int, purpose: str) -> EmailCode | None:
    return await db.scalar(
        select(EmailCode)
        .where(EmailCode.user_id == user_id, EmailCode.purpose == purpose,
               EmailCode.used_at.is_(None))
        .order_by(EmailCode.id.desc())
        .limit(1)
    )


class CodeResult(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    MISSING = "missing"


@dataclass
class CodeCheck:
    result: CodeResult
    code: EmailCode | None = None
    attempts_left: int = 0


async def check_code(
    db: AsyncSession, secret: bytes, user_id: int, purpose: str, entered: str, max_attempts: int
) -> CodeCheck:
    """Compare ``entered`` with the pending code, counting the attempt; a match uses it."""
    row = await db.scalar(
        select(EmailCode)
        .where(EmailCode.user_id == user_id, EmailCode.purpose == purpose,
               EmailCode.used_at.is_(None))
        .order_by(EmailCode.id.desc())
        .limit(1)
        .with_for_update()  # concurrent guesses must not share one attempt count
    )
    if row is None:
        return CodeCheck(CodeResult.MISSING)
    if row.attempts >= max_attempts:
        return CodeCheck(CodeResult.EXHAUSTED, row)
    now = utcnow()
    if row.expires_at <= now:
        return CodeCheck(CodeResult.EXPIRED, row)
    digits = re.sub(r"\s+", "", entered)
    if digits.isdigit() and same(row.code_hash, code_hash(secret, user_id, purpose, digits)):
        row.used_at = now
        return CodeCheck(CodeResult.OK, row)
    row.attempts += 1
    return CodeCheck(CodeResult.WRONG, row, max(0, max_attempts - row.attempts))


def code_message(check: CodeCheck) -> str:
    if check.result is CodeResult.WRONG and check.attempts_left > 0:
        return _("This code is not right. Check the mail and try again (%(left)s attempts "
                 "left).", left=check.attempts_left)
    if check.result in (CodeResult.WRONG, CodeResult.EXHAUSTED):
        return _("This code was tried too many times and no longer works. Ask for a new "
                 "code.")
    if check.result is CodeResult.EXPIRED:
        return _("This code has expired. Ask for a new code.")
    return _("There is no code waiting. Ask for a new code.")


# -- throttling -------------------------------------------------------------------------------


def login_user_key(username: str) -> str:
    return f"login:user:{normalise_username(username)[:64]}"


def login_ip_key(address: str) -> str:
    return f"login:ip:{address[:64]}"


async def minutes_until_free(db: AsyncSession, key: str, limit: int, window: int) -> int:
    """Minutes until fewer than ``limit`` events remain within ``window`` under ``key``."""
    now = utcnow()
    blocking = await db.scalar(
        select(ThrottleEvent.at)
        .where(ThrottleEvent.key == key, ThrottleEvent.at > now - timedelta(seconds=window))
        .order_by(ThrottleEvent.at.desc())
        .offset(max(0, limit - 1))
        .limit(1)
    )
    if blocking is None:
        return 1
    remaining = (blocking + timedelta(seconds=window) - now).total_seconds()
    return max(1, math.ceil(remaining / 60))
