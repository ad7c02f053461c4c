"""Errors of the localhost API itself (guards, requests, consent, the card queue).

Plain exceptions with no aiohttp import, so :mod:`bridge.messages` can list them in the one
table from errors to codes and texts; :data:`HTTP_STATUS` gives each code its HTTP status.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base class of errors raised by the service layer."""


class HostRejected(ApiError):
    """The Host header is not one of this daemon's loopback names (DNS rebinding)."""


class OriginNotAllowed(ApiError):
    def __init__(self, origin: str) -> None:
        super().__init__(f"origin not allowed: {origin}")
        self.origin = origin


class OriginRequired(ApiError):
    """A card operation without an Origin header (or with ``Origin: null``)."""


class UserDenied(ApiError):
    """The user said no in the consent or approval dialog."""


class UserUnavailable(ApiError):
    """No dialog can be shown (no display, no terminal), so nobody can consent."""


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body above {limit} bytes")
        self.limit = limit


class BodyTimeout(ApiError):
    """The request body did not arrive in time (slow-body attack or broken client)."""


class RateLimited(ApiError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:.1f} s")
        self.retry_after = max(1, round(retry_after + 0.49))


class BadRequest(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsupportedMediaType(ApiError):
    """POST bodies must be ``application/json`` (which also forces a CORS preflight)."""


class NotFound(ApiError):
    pass


class MethodNotAllowed(ApiError):
    pass


class Busy(ApiError):
    """The card queue is full: too many requests are already waiting."""


class RequestTimeout(ApiError):
    """The operation did not finish in time (waiting for the card or for the user)."""


class RequestCancelled(ApiError):
    """The page gave up (tab closed, fetch aborted) before the operation finished."""


class CertificateNotOnCard(ApiError):
    """The page asked to sign with a certificate that is not on the card in the reader."""


class CertificateRejected(ApiError):
    """The card's certificate failed validation; carries the trust verdict's code and text."""

    def __init__(self, code: str, messages: dict[str, str]) -> None:
        super().__init__(f"certificate rejected: {code}")
        self.verdict_code = code
        self.messages = messages


class NoCertificate(ApiError):
    """The card has no certificate for this purpose (Kids ID cards have none)."""


HTTP_STATUS: dict[str, int] = {
    "HOST_REJECTED": 421,
    "ORIGIN_NOT_ALLOWED": 403,
    "ORIGIN_REQUIRED": 403,
    "USER_DENIED": 403,
    "USER_UNAVAILABLE": 503,
    "BODY_TOO_LARGE": 413,
    "BODY_TIMEOUT": 408,
    "RATE_LIMITED": 429,
    "BAD_REQUEST": 400,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "BUSY": 503,
    "REQUEST_TIMEOUT": 504,
    "REQUEST_CANCELLED": 499,
    "CERTIFICATE_NOT_ON_CARD": 409,
    "NO_CERTIFICATE": 409,
    "CERTIFICATE_REJECTED": 422,
    # Card and PIN outcomes: the request was fine, the card or user state is not.
    "PCSC_UNAVAILABLE": 503,
    "NO_READER": 409,
    "READER_GONE": 409,
    "NO_CARD": 409,
    "CARD_REMOVED": 409,
    "CARD_RESET": 409,
    "CARD_MUTE": 409,
    "CARD_BUSY": 409,
    "UNSUPPORTED_CARD": 409,
    "PIN_INCORRECT": 409,
    "PIN_BLOCKED": 409,
    "PIN_FORMAT": 400,
    "PIN_CANCELLED": 409,
    "PIN_TIMEOUT": 409,
    "PIN_REQUIRED": 409,
    "CARD_DATA_NOT_AUTHENTIC": 409,
    "CARD_DATA_UNREADABLE": 409,
    "CARD_ERROR": 409,
    "INTERNAL_ERROR": 500,
}


def http_status(code: str) -> int:
    return HTTP_STATUS.get(code, 409 if code.startswith(("PIN_", "CARD_")) else 500)
