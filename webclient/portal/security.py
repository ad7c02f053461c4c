"""Secrets handling: passwords, keyed hashes and sealing of personal data, codes and tokens."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_hasher = PasswordHasher()
# A hash to verify against when the username does not exist, so that "no such user" and
# "wrong password" take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(secret)


def nrn_hmac(secret: bytes, national_number: str) -> str:
    """The keyed hash that stands for a national register number in the database."""
    key = _derive(secret, b"portal nrn hmac v1")
    return hmac.new(key, national_number.encode("ascii"), hashlib.sha256).hexdigest()


def seal(secret: bytes, plaintext: bytes, context: bytes) -> bytes:
    """AES-GCM with a key derived from the portal secret; ``context`` (e.g. the user id) is
    authenticated so a sealed value cannot be moved to another row."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_derive(secret, b"portal seal v1")).encrypt(nonce, plaintext, context)


def unseal(secret: bytes, sealed: bytes, context: bytes) -> bytes:
    return AESGCM(_derive(secret, b"portal seal v1")).decrypt(sealed[:12], sealed[12:], context)


def numeric_code(digits: int = 6) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(digits))


def url_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
