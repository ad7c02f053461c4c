"""The demo/test SMTP catcher, fed over real SMTP by smtplib."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from webclient.portal.mailcatcher import MailCatcher, catcher_app


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    with MailCatcher() as running:
        yield running


def make_mail(
    to: str, subject: str, text: str, *, html: str | None = None, sender: str = "portal@example.be"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send(catcher: MailCatcher, *messages: EmailMessage, to_addrs: list[str] | None = None) -> None:
    with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
        for message in messages:
            smtp.send_message(message, to_addrs=to_addrs)


async def test_plain_text_mail(catcher: MailCatcher) -> None:
    assert catcher.host == "127.0.0.1"
    assert catcher.port > 0
    await asyncio.to_thread(
        send, catcher, make_mail("anna@example.be", "Hello", "Line one\nLine two\n")
    )

    mail = await catcher.wait_for("anna@example.be")

    assert mail.id == 1
    assert mail.mail_from == "portal@example.be"
    assert mail.to == ("anna@example.be",)
    assert mail.subject == "Hello"
    assert mail.text == "Line one\nLine two\n"
    assert mail.html is None
    assert mail.message["To"] == "anna@example.be"
    assert mail.received_at.tzinfo is not None
    assert catcher.messages() == [mail]


async def test_multipart_mail_keeps_accents(catcher: MailCatcher) -> None:
    subject = "Activez votre compte — Één klik, Zoë, ça marche"
    text = "Bonjour Zoë,\nCliquez ici : https://portal.example.be/activate?t=é\nDank u, Één!\n"
    html = "<p>Bonjour Zoë, <a href='https://portal.example.be/'>activez</a> — ça marche</p>\n"
    send(catcher, make_mail("zoe@example.be", subject, text, html=html))

    mail = await catcher.wait_for("ZOE@example.be", subject_contains="Één klik")

    assert mail.subject == subject
    assert mail.text == text
    assert mail.html == html
    assert mail.message.get_content_type() == "multipart/alternative"


async def test_several_recipients(catcher: MailCatcher) -> None:
    message = make_mail("a@example.be, b@example.be", "Team", "Hi all\n")
    message["Cc"] = "c@example.be"
    send(
        catcher,
        message,
        to_addrs=["a@example.be", "b@example.be", "c@example.be", "hidden@example.be"],
    )

    mail = await catcher.wait_for("hidden@example.be")

    assert mail.to == ("a@example.be", "b@example.be", "c@example.be", "hidden@example.be")
    for address in mail.to:
        assert catcher.messages(address) == [mail]
    assert catcher.messages("nobody@example.be") == []


async def test_wait_for_after_id_and_subject(catcher: MailCatcher) -> None:
    send(catcher, make_mail("x@example.be", "First", "1\n"))
    first = await catcher.wait_for("x@example.be")

    waiter = asyncio.create_task(
        catcher.wait_for("x@example.be", subject_contains="Second", after_id=first.id)
    )
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await asyncio.to_thread(send, catcher, make_mail("x@example.be", "Second", "2\n"))

    second = await asyncio.wait_for(waiter, 5)
    assert second.id == first.id + 1
    assert second.subject == "Second"


async def test_wait_for_timeout_lists_what_was_caught(catcher: MailCatcher) -> None:
    send(catcher, make_mail("someone@example.be", "Welcome aboard", "Hi\n"))
    await catcher.wait_for("someone@example.be")

    with pytest.raises(TimeoutError) as failure:
        await catcher.wait_for("other@example.be", subject_contains="Reset", timeout=0.2)

    message = str(failure.value)
    assert "'other@example.be'" in message
    assert "'Reset'" in message
    assert "caught 1 mail(s)" in message
    assert "#1 to someone@example.be: 'Welcome aboard'" in message


async def test_storage_is_bounded() -> None:
    with MailCatcher(max_messages=3) as catcher:
        send(catcher, *(make_mail("b@example.be", f"Mail {n}", f"{n}\n") for n in range(1, 6)))
        await catcher.wait_for("b@example.be", subject_contains="Mail 5")

        assert [mail.subject for mail in catcher.messages()] == ["Mail 3", "Mail 4", "Mail 5"]
        assert [mail.id for mail in catcher.messages()] == [3, 4, 5]
        assert catcher.last_id == 5

        catcher.clear()
        assert catcher.messages() == []
        send(catcher, make_mail("b@example.be", "Mail 6", "6\n"))
        assert (await catcher.wait_for("b@example.be")).id == 6


async def test_stop_closes_the_port() -> None:
    catcher = MailCatcher()
    catcher.start()
    port = catcher.port
    catcher.stop()
    with pytest.raises(ConnectionRefusedError), smtplib.SMTP("127.0.0.1", port, timeout=2):
        pass


async def test_web_pages_escape_mail_content(catcher: MailCatcher) -> None:
    send(
        catcher,
        make_mail(
            "evil@example.be",
            "<script>alert(1)</script> Zoë",
            "Go to https://portal.example.be/activate?a=1&b=<x> now.\n",
        ),
        make_mail("plain@example.be", "Second mail", "Hi\n"),
    )
    await catcher.wait_for("plain@example.be")
    root = web.Application()
    root.add_subapp("/mail/", catcher_app(catcher))

    async with TestClient(TestServer(root)) as client:
        index = await client.get("/mail/")
        assert index.status == 200
        page = await index.text()
        assert "Demo mail catcher — mails are not sent" in page
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Zoë" in page
        # Newest first, each linking to its page under the mount point.
        assert page.index("Second mail") < page.index("Zoë")
        assert 'href="/mail/1"' in page
        assert "default-src 'none'" in index.headers["Content-Security-Policy"]

        detail = await client.get("/mail/1")
        assert detail.status == 200
        body = await detail.text()
        assert "<script>" not in body
        assert '<a href="https://portal.example.be/activate?a=1&amp;b=">' in body
        assert "&lt;x&gt; now." in body
        assert "evil@example.be" in body

        assert (await client.get("/mail/99")).status == 404

        api = await client.get("/mail/api/messages", params={"to": "evil@example.be"})
        data = await api.json()
        assert [item["subject"] for item in data] == ["<script>alert(1)</script> Zoë"]
        assert data[0]["to"] == ["evil@example.be"]
        all_mails = await (await client.get("/mail/api/messages")).json()
        assert [item["id"] for item in all_mails] == [2, 1]
