"""An SMTP server on 127.0.0.1 that keeps mails in memory instead of sending them.

The demo points the portal's mailer at it and shows what was "sent" on a web page; the
tests wait for a mail (an activation link, a notification) with :meth:`MailCatcher.wait_for`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

DEFAULT_MAX_MESSAGES = 500


@dataclass(frozen=True)
class CaughtMail:
    id: int
    received_at: datetime
    mail_from: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    message: EmailMessage

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "mail_from": self.mail_from,
            "to": list(self.to),
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
        }


def parse_mail(
    mail_id: int, mail_from: str, to: tuple[str, ...], raw: bytes, received_at: datetime
) -> CaughtMail:
    # SMTP carries CRLF line ends; the parser keeps them in bodies, Python code expects "\n".
    message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # guaranteed by policy.default
    return CaughtMail(
        id=mail_id,
        received_at=received_at,
        mail_from=mail_from,
        to=to,
        subject=str(message.get("Subject", "")),
        text=_body(message, "plain") or "",
        html=_body(message, "html"),
        message=message,
    )


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    return content if isinstance(content, str) else None


class _Controller(Controller):
    """aiosmtpd's Controller, able to listen on port 0: its readiness probe connects to
    ``self.port``, so it must learn the port the OS chose first."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class MailCatcher:
    """Keeps the last ``max_messages`` mails received over SMTP on 127.0.0.1.

    aiosmtpd serves from its own event loop in a thread, so the store is guarded by a lock
    and :meth:`wait_for` polls it rather than waiting on a primitive bound to one loop.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, max_messages: int = DEFAULT_MAX_MESSAGES
    ) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._mails: deque[CaughtMail] = deque(maxlen=max_messages)
        self._last_id = 0
        self._controller: _Controller | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = _Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            # Accepts mails whose addresses or headers are raw UTF-8 (RFC 6531).
            enable_SMTPUTF8=True,
        )
        controller.start()
        self._controller = controller
        self.port = int(controller.port)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- store --------------------------------------------------------------------------

    def add(self, mail_from: str, to: tuple[str, ...], raw: bytes) -> CaughtMail:
        """Store a mail (the SMTP handler calls this; tests may too)."""
        received_at = datetime.now(UTC)
        with self._lock:
            self._last_id += 1
            mail = parse_mail(self._last_id, mail_from, to, raw, received_at)
            self._mails.append(mail)
        return mail

    def messages(self, to: str | None = None) -> list[CaughtMail]:
        """Caught mails, oldest first; only those for ``to`` (any envelope recipient)."""
        with self._lock:
            mails = list(self._mails)
        if to is None:
            return mails
        return [mail for mail in mails if _addressed_to(mail, to)]

    def get(self, mail_id: int) -> CaughtMail | None:
        with self._lock:
            return next((mail for mail in self._mails if mail.id == mail_id), None)

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()

    @property
    def last_id(self) -> int:
        """Id of the newest mail so far: pass it as ``after_id`` to wait for a later one."""
        with self._lock:
            return self._last_id

    async def wait_for(
        self,
        to: str,
        *,
        subject_contains: str | None = None,
        timeout: float = 10.0,
        after_id: int = 0,
    ) -> CaughtMail:
        """The oldest mail for ``to`` with an id above ``after_id`` (and a subject containing
        ``subject_contains``), waiting up to ``timeout`` seconds for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for mail in self.messages(to):
                if mail.id > after_id and (
                    subject_contains is None or subject_contains in mail.subject
                ):
                    return mail
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        wanted = f"to {to!r}"
        if subject_contains is not None:
            wanted += f" with a subject containing {subject_contains!r}"
        if after_id:
            wanted += f" after mail #{after_id}"
        caught = self.messages()
        listing = "\n".join(f"  #{m.id} to {', '.join(m.to)}: {m.subject!r}" for m in caught[-20:])
        raise TimeoutError(
            f"no mail {wanted} within {timeout:g}s; caught {len(caught)} mail(s)"
            + (f" (last 20):\n{listing}" if caught else "")
        )


def _addressed_to(mail: CaughtMail, address: str) -> bool:
    address = address.strip().lower()
    return any(recipient.lower() == address for recipient in mail.to)


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        self.catcher.add(str(envelope.mail_from), tuple(envelope.rcpt_tos), raw)
        return "250 Message accepted for delivery (caught, not sent)"


# -- web page (demo mode) -------------------------------------------------------------------

CATCHER_KEY = web.AppKey("mail_catcher", MailCatcher)
BANNER = "Demo mail catcher — mails are not sent"
# The mails are untrusted HTML-ish content: no scripts, no remote loads, inline style only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
.banner { background: #fff3cd; border: 1px solid #e0c060; padding: .6rem 1rem; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 1rem; }
dt { font-weight: bold; } dd { margin: 0 0 .4rem 1rem; }
"""
_URL = re.compile(r"https?://[^\s<>\"']+")


def catcher_app(catcher: MailCatcher) -> web.Application:
    """A sub-application showing the caught mails (mount it with ``add_subapp``)."""
    app = web.Application()
    app[CATCHER_KEY] = catcher
    app.router.add_get("/", _index, name="index")
    app.router.add_get("/api/messages", _api_messages, name="api_messages")
    app.router.add_get(r"/{id:\d+}", _message, name="message")
    return app


def _page(title: str, body: str) -> web.Response:
    document = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<p class="banner"><strong>{html.escape(BANNER)}</strong></p>{body}</body></html>'
    )
    return web.Response(
        text=document, content_type="text/html", headers={"Content-Security-Policy": CSP}
    )


async def _index(request: web.Request) -> web.Response:
    mails = request.app[CATCHER_KEY].messages()
    rows = []
    for mail in reversed(mails):
        link = request.app.router["message"].url_for(id=str(mail.id))
        rows.append(
            "<tr>"
            f"<td>{html.escape(_local_time(mail.received_at))}</td>"
            f"<td>{html.escape(', '.join(mail.to))}</td>"
            f'<td><a href="{html.escape(str(link))}">'
            f"{html.escape(mail.subject or '(no subject)')}</a></td>"
            "</tr>"
        )
    table = (
        "<table><thead><tr><th>Received</th><th>To</th><th>Subject</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No mail caught yet.</p>"
    )
    return _page("Caught mails", f"<h1>Caught mails ({len(mails)})</h1>{table}")


async def _message(request: web.Request) -> web.Response:
    mail = request.app[CATCHER_KEY].get(int(request.match_info["id"]))
    if mail is None:
        raise web.HTTPNotFound(text="no such mail (the catcher keeps only the latest ones)")
    index = request.app.router["index"].url_for()
    headers = "".join(
        f"<dt>{html.escape(name)}</dt><dd>{html.escape(str(value))}</dd>"
        for name, value in mail.message.items()
    )
    body = (
        f'<p><a href="{html.escape(str(index))}">← all mails</a></p>'
        f"<h1>{html.escape(mail.subject or '(no subject)')}</h1>"
        f"<dl><dt>Envelope from</dt><dd>{html.escape(mail.mail_from)}</dd>"
        f"<dt>Envelope to</dt><dd>{html.escape(', '.join(mail.to))}</dd>"
        f"<dt>Received</dt><dd>{html.escape(_local_time(mail.received_at))}</dd></dl>"
        f"<h2>Text</h2><pre>{_linkify(mail.text)}</pre>"
    )
    if mail.html is not None:
        source = html.escape(mail.html)
        body += f"<details><summary>HTML source</summary><pre>{source}</pre></details>"
    body += f"<details><summary>Headers</summary><dl>{headers}</dl></details>"
    return _page(mail.subject or "Mail", body)


async def _api_messages(request: web.Request) -> web.Response:
    mails = request.app[CATCHER_KEY].messages(request.query.get("to"))
    return web.json_response([mail.as_json() for mail in reversed(mails)])


def _linkify(text: str) -> str:
    """Escape ``text``, making its URLs clickable (the demo follows activation links)."""
    out, position = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        out.append(html.escape(text[position : match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        position = match.start() + len(url)
    out.append(html.escape(text[position:]))
    return "".join(out)


def _local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
