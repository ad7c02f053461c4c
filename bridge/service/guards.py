"""The defences every request passes before a route sees it.

Order (outermost first): errors become JSON with stable codes; the Host header must name
this daemon on a loopback address (DNS rebinding: a page on evil.example resolving to
127.0.0.1 still sends ``Host: evil.example``); the Origin decides CORS, the private-network
preflight and what the request may do; a per-origin rate limit; then the route, which reads
its body through :func:`read_json` (size limit, slow-body timeout, JSON only).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bridge.card.errors import CardError
from bridge.messages import LANGUAGES, UNEXPECTED, message_for
from bridge.service.errors import (
    ApiError,
    BadRequest,
    BodyTimeout,
    BodyTooLarge,
    CertificateRejected,
    HostRejected,
    MethodNotAllowed,
    NotFound,
    OriginNotAllowed,
    OriginRequired,
    RateLimited,
    UnsupportedMediaType,
    http_status,
)
from bridge.service.origins import OriginPolicy, normalise_origin

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY = 64 * 1024
"""Bodies carry a nonce or a hash and a label: 64 KiB is generous."""
BODY_TIMEOUT = 5.0
REQUEST_ACCESS_PATH = "/v1/origins"
"""The one route an origin that is not yet allowed may call: it asks the user."""
OPEN_PATHS = frozenset({"/v1/hello", "/v1/status", "/v1/openapi.json", "/v1/diagnostics"})
"""GET routes without personal data: also open to local programs that send no Origin."""
PREFLIGHT_MAX_AGE = "600"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# Details an error may expose to the page: counts and codes, never personal data.
_SAFE_DETAILS = {
    "tries_left": "triesLeft",
    "retry_after": "retryAfter",
    "limit": "limit",
    "origin": "origin",
    "verdict_code": "certificateStatus",
}

ORIGIN_KEY = web.AppKey("origin_policy", OriginPolicy)
REQUEST_ORIGIN = web.RequestKey("origin", str)
"""The caller's normalised Origin; empty for local programs on open routes."""
CORS_ORIGIN = web.RequestKey("cors_origin", str)
"""Set when the answer may be read by the calling page (Access-Control-Allow-Origin)."""


def request_language(request: web.BaseRequest, default: str) -> str:
    """The page's preferred language among ours (Accept-Language), else the user's."""
    header = request.headers.get("Accept-Language", "")
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = tag.strip()[:2].lower()
        if lang in LANGUAGES and quality > 0:
            ranked.append((-quality, index, lang))
    return sorted(ranked)[0][2] if ranked else default


def error_body(error: BaseException, language: str) -> tuple[int, dict[str, Any]]:
    entry = message_for(error)
    values = vars(error)
    messages: dict[str, str] = {lang: entry.text(lang, **values) for lang in LANGUAGES}
    if isinstance(error, CertificateRejected):
        messages = dict(error.messages)  # the trust verdict's own, more precise text
    details = {
        public: values[name]
        for name, public in _SAFE_DETAILS.items()
        if isinstance(values.get(name), int | str)
    }
    body: dict[str, Any] = {
        "error": {
            "code": entry.code,
            "message": messages.get(language, messages["en"]),
            "messages": messages,
        }
    }
    if details:
        body["error"]["details"] = details
    return http_status(entry.code), body


def json_error(error: BaseException, language: str) -> web.Response:
    status, body = error_body(error, language)
    response = web.json_response(body, status=status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@dataclass
class GuardSettings:
    port: int
    language: str
    rate: float = 20.0
    """Requests per second an origin may sustain."""
    burst: float = 40.0
    global_rate: float = 100.0
    global_burst: float = 200.0

    def hosts(self) -> frozenset[str]:
        return frozenset(f"{host}:{self.port}" for host in ("127.0.0.1", "localhost", "[::1]"))


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets per origin plus one for everyone (many origins must not add up)."""

    rate: float
    burst: float
    global_rate: float
    global_burst: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _take(self, key: str, rate: float, burst: float, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 1024:  # forget idle origins rather than grow forever
                self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < 60}
            bucket = self._buckets[key] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate

    def check(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            # The origin's own bucket first: one flooding origin must not drain the
            # shared bucket that keeps the others (and local tools) served.
            wait = self._take(key, self.rate, self.burst, now)
            if not wait:
                wait = self._take("\0global", self.global_rate, self.global_burst, now)
        if wait:
            raise RateLimited(wait)


def _apply_headers(response: web.StreamResponse, cors_origin: str | None) -> None:
    if response.prepared:
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.popall("Set-Cookie", None)
    response.headers["Vary"] = "Origin"
    if cors_origin is not None:
        response.headers["Access-Control-Allow-Origin"] = cors_origin


def build_middlewares(settings: GuardSettings) -> list[Any]:
    hosts = settings.hosts()
    limiter = RateLimiter(
        settings.rate, settings.burst, settings.global_rate, settings.global_burst
    )

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        language = request_language(request, settings.language)
        cors: str | None = None
        try:
            response = await handler(request)
            cors = request.get(CORS_ORIGIN)
        except (ApiError, CardError) as exc:
            response = json_error(exc, language)
            # The class and its text only: card and API errors carry no personal data.
            log.info("%s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
            cors = request.get(CORS_ORIGIN)
        except web.HTTPException as exc:
            mapped: BaseException = {
                404: NotFound("no such route"),
                405: MethodNotAllowed("method not allowed"),
                413: BodyTooLarge(MAX_BODY),
            }.get(exc.status, BadRequest(exc.reason))
            response = json_error(mapped, language)
            if "Allow" in exc.headers:  # a 405 must say what is allowed (RFC 9110 15.5.6)
                response.headers["Allow"] = exc.headers["Allow"]
            cors = request.get(CORS_ORIGIN)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.path)
            response = web.json_response(
                {
                    "error": {
                        "code": UNEXPECTED.code,
                        "message": UNEXPECTED.text(language),
                        "messages": {lang: UNEXPECTED.text(lang) for lang in LANGUAGES},
                    }
                },
                status=500,
            )
            cors = request.get(CORS_ORIGIN)
        _apply_headers(response, cors)
        return response

    @web.middleware
    async def host(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Host", "").lower() not in hosts:
            raise HostRejected("Host header is not a loopback name of this daemon")
        return await handler(request)

    @web.middleware
    async def origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        policy = request.app[ORIGIN_KEY]
        raw = request.headers.get("Origin")
        path = request.path
        normalised = request[REQUEST_ORIGIN] or None
        if raw is not None and normalised is None:
            # "null" (sandboxed frames, file:, data:) and malformed origins: never a caller.
            raise OriginRequired(f"unusable Origin header {raw[:80]!r}")
        allowed = normalised is not None and policy.is_allowed(normalised)
        if request.method == "OPTIONS":
            return _preflight(request, normalised, allowed)
        if normalised is None:
            if request.method == "GET" and path in OPEN_PATHS:
                return await handler(request)
            if request.method == "GET" and path == "/v1/events":
                return await handler(request)
            raise OriginRequired("card operations need the calling page's Origin")
        if allowed:
            request[CORS_ORIGIN] = normalised
            return await handler(request)
        if path == REQUEST_ACCESS_PATH and request.method == "POST":
            request[CORS_ORIGIN] = normalised  # so the page can read the user's answer
            return await handler(request)
        raise OriginNotAllowed(normalised)

    def _preflight(
        request: web.Request, normalised: str | None, allowed: bool
    ) -> web.StreamResponse:
        method = request.headers.get("Access-Control-Request-Method", "")
        may_ask = request.path == REQUEST_ACCESS_PATH and method == "POST"
        if normalised is None or not (allowed or may_ask):
            raise OriginNotAllowed(normalised or "(none)")
        response = web.Response(status=204)
        response.headers.update(
            {
                "Access-Control-Allow-Origin": normalised,
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Content-Type, Accept-Language",
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            }
        )
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            response.headers["Access-Control-Allow-Private-Network"] = "true"
        if request.headers.get("Access-Control-Request-Local-Network") == "true":
            response.headers["Access-Control-Allow-Local-Network"] = "true"
        request[CORS_ORIGIN] = normalised
        return response

    @web.middleware
    async def rate(request: web.Request, handler: Handler) -> web.StreamResponse:
        normalised = normalise_origin(request.headers.get("Origin", ""))
        request[REQUEST_ORIGIN] = normalised or ""  # parsed once, used by the origin guard
        limiter.check(normalised or "local")
        return await handler(request)

    return [errors, host, rate, origin]


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object: ``application/json``, at most :data:`MAX_BODY` bytes,
    arrived within :data:`BODY_TIMEOUT` seconds."""
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType(content_type or "(none)")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BodyTooLarge(MAX_BODY)

    async def read() -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await request.content.readany()
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_BODY:
                raise BodyTooLarge(MAX_BODY)
            chunks.append(chunk)

    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            raw = await read()
    except TimeoutError:
        raise BodyTimeout("the body did not arrive in time") from None
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data
