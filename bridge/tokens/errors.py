"""Typed errors of the authentication token, one per thing a user or a site can do about.

Each class has an entry (code and French, Dutch, English text) in :data:`bridge.messages.
MESSAGES`; placeholders there are filled from the attributes set here. ``detail`` is a
technical explanation in English for logs and support, never shown to end users, and never
contains personal data (no national number, no name).

This module imports nothing from the project at run time, so that :mod:`bridge.messages` can
import it without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.trust.validate import Verdict


class TokenError(Exception):
    """Base of every authentication-token error."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or type(self).__name__)
        self.detail = detail


# -- what the relying party's page sent the bridge ---------------------------------------------


class OriginInvalid(TokenError):
    """Not an origin a token may be bound to (``https://host[:port]``, or ``http://`` only for
    localhost). On the relying party's side: a configuration mistake."""


class NonceMalformed(TokenError):
    """The challenge nonce is not base64 of at least 32 random bytes (or is absurdly long)."""


# -- the token itself ----------------------------------------------------------------------------


class TokenMalformed(TokenError):
    """Not a token: not JSON, a missing or mistyped field, bad base64, unreadable certificate."""


class TokenFormatUnsupported(TokenError):
    """A ``format`` other than ``web-eid:1[.minor]`` (another major version, or no version)."""

    def __init__(self, detail: str = "", *, token_format: str = "") -> None:
        super().__init__(detail)
        self.token_format = token_format


class TokenAlgorithmNotAllowed(TokenError):
    """A well-formed token whose signature algorithm this relying party does not accept."""

    def __init__(self, detail: str = "", *, algorithm: str = "") -> None:
        super().__init__(detail)
        self.algorithm = algorithm


class TokenSignatureInvalid(TokenError):
    """The signature does not verify over this relying party's origin and the nonce: a token
    made for another site, for another challenge, or tampered with."""


# -- the challenge nonce -----------------------------------------------------------------------


class NonceUnknown(TokenError):
    """No such nonce was issued to this session (or it was already used, or pruned)."""


class NonceReplayed(NonceUnknown):
    """The nonce was issued to this session but has already been used once."""


class NonceExpired(TokenError):
    """The nonce was issued to this session too long ago (it is removed anyway)."""


# -- the certificate -----------------------------------------------------------------------------


class CertificateRejected(TokenError):
    """The token verifies, but its certificate does not: revoked, expired, unknown issuer...

    ``verdict`` is the trust layer's :class:`~bridge.trust.validate.Verdict`; ``reason_en``,
    ``reason_fr`` and ``reason_nl`` are its message in each language (what happened and what
    to do), used as placeholders by the entry in :data:`bridge.messages.MESSAGES`.
    """

    def __init__(self, verdict: Verdict) -> None:
        # Only the status: the verdict's detail and subject may quote the certificate's subject,
        # national number included, and exception texts end up in logs.
        super().__init__(f"certificate rejected: {verdict.status.value}")
        self.verdict = verdict
        self.status = verdict.status.value
        self.reason_en = verdict.message("en")
        self.reason_fr = verdict.message("fr")
        self.reason_nl = verdict.message("nl")


__all__ = [
    "CertificateRejected",
    "NonceExpired",
    "NonceMalformed",
    "NonceReplayed",
    "NonceUnknown",
    "OriginInvalid",
    "TokenAlgorithmNotAllowed",
    "TokenError",
    "TokenFormatUnsupported",
    "TokenMalformed",
    "TokenSignatureInvalid",
]
