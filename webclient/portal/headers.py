"""Security headers on every response, static files and error pages included.

The Content-Security-Policy allows scripts only from the portal itself (no inline code), and
network connections to the portal and to the eID bridge on the user's own machine (the
browser library reaches it on 127.0.0.1/[::1]/localhost, HTTP and WebSocket). Pages are never
framed. The example relying party (an inline-script demo page) and the demo mail catcher keep
their own policies.
"""

from __future__ import annotations

from aiohttp import web

from webclient.portal.keys import SETTINGS

_LOCAL = " ".join(
    f"{scheme}://{host}:*"
    for scheme in ("http", "ws")
    for host in ("127.0.0.1", "[::1]", "localhost")
)
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        f"connect-src 'self' {_LOCAL}",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        # A top-up form redirects to the payment provider's checkout page.
        "form-action 'self' https:",
        "object-src 'none'",
    ]
)
_OWN_POLICY = ("/example/", "/demo/mail/")


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if not request.path.startswith(_OWN_POLICY):
        headers.setdefault("Content-Security-Policy", POLICY)
    if request.config_dict[SETTINGS].secure_cookies:  # sub-apps see the parent's settings
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
