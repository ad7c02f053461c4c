"""Outgoing mail: rendered from ``templates/mail/<name>.txt`` in the recipient's language.

The first line of a mail template is its subject. Sent through SMTP in a worker thread (the
event loop never waits on a mail server); in the demo and the tests the SMTP server is the
mail catcher.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from webclient.portal.i18n import jinja_globals, using_language
from webclient.portal.settings import PortalSettings

log = logging.getLogger("webclient.portal.mail")


class MailError(RuntimeError):
    pass


class Mailer:
    def __init__(self, settings: PortalSettings) -> None:
        self.settings = settings

    def compose(self, to: str, subject: str, text: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="portal.invalid")
        message.set_content(text)
        return message

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=15) as smtp:
            smtp.send_message(message)

    async def send(self, to: str, subject: str, text: str) -> None:
        message = self.compose(to, subject, text)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            # Addresses are personal data: the log names the template, not the recipient.
            log.warning("mail %r not sent: %s", subject, exc)
            raise MailError(str(exc)) from exc

    async def send_template(
        self,
        app: web.Application,
        to: str,
        template: str,
        values: dict[str, Any],
        *,
        language: str,
    ) -> None:
        environment = aiohttp_jinja2.get_env(app)
        with using_language(language):
            rendered = environment.get_template(f"mail/{template}.txt").render(
                **jinja_globals(), **values, settings=self.settings
            )
        subject, _, body = rendered.lstrip().partition("\n")
        await self.send(to, subject.strip(), body.lstrip("\n"))
