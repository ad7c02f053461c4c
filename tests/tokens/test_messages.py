"""Every token error has its own code and a French, Dutch and English text in the one table."""

from __future__ import annotations

import datetime as dt
import inspect

from bridge import messages
from bridge.tokens import errors
from bridge.tokens.errors import (
    CertificateRejected,
    NonceExpired,
    TokenAlgorithmNotAllowed,
    TokenError,
    TokenFormatUnsupported,
)
from bridge.trust.validate import Purpose, Status, Verdict

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, TokenError) and cls.__module__ == errors.__name__
]


def test_every_token_error_has_its_own_message() -> None:
    assert len(ERROR_CLASSES) == 11
    codes = set()
    for cls in ERROR_CLASSES:
        assert cls in messages.MESSAGES, cls
        entry = messages.MESSAGES[cls]
        assert entry.code.startswith("TOKEN_")
        codes.add(entry.code)
        texts = (entry.en, entry.fr, entry.nl)
        assert all(texts)
        assert len(set(texts)) == 3
    assert len(codes) == len(ERROR_CLASSES)
    all_codes = [m.code for m in messages.MESSAGES.values()]
    assert all(all_codes.count(code) == 1 for code in codes)  # no clash with other layers


def test_placeholders_are_filled() -> None:
    unsupported = TokenFormatUnsupported("x", token_format="web-eid:2.0")
    assert "web-eid:2.0" in messages.explain(unsupported, "fr")
    assert "PS512" in messages.explain(TokenAlgorithmNotAllowed("x", algorithm="PS512"), "en")
    when = dt.datetime(2025, 3, 4, tzinfo=dt.UTC)
    rejected = CertificateRejected(
        Verdict(
            Status.REVOKED,
            Purpose.AUTHENTICATION,
            subject="serialNumber=85073003328,CN=Jan Peeters (Authentication)",
            detail="revoked: serialNumber=85073003328",
            revoked_at=when,
            revocation_reason="key_compromise",
        )
    )
    for language, words in (("en", "key compromised"), ("fr", "clé compromise"), ("nl", "sleutel")):
        text = messages.explain(rejected, language)
        assert "{" not in text
        assert "2025-03-04" in text
        assert words in text
    assert "85073003328" not in str(rejected)  # exception texts reach logs


def test_messages_say_what_to_do_next() -> None:
    assert "log in again" in messages.explain(NonceExpired("x"), "en").lower()
    assert "connectez-vous" in messages.explain(NonceExpired("x"), "fr").lower()
    assert "meld u opnieuw aan" in messages.explain(NonceExpired("x"), "nl").lower()
