"""The contact page and the helpdesk: questions with a real diagnostics report made by the
bridge's own code, checked, redacted and stored; the helpdesk reads them failing first."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from aiohttp import ClientResponse, FormData
from sqlalchemy import select

from bridge.card.local import LocalReader
from bridge.diagnostics import Options, diagnose
from bridge.emulator.applet import BelpicApplet
from bridge.service.cards import LocalSource
from bridge.trust.anchors import TrustStore
from tests.bridge_harness import ServicePki
from tests.portal_harness import Browser, Portal, browser
from webclient.portal.db import transaction
from webclient.portal.models import SupportRequest, User, UserRole
from webclient.portal.support import normalise_code, valid_code

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
NRN = "85073100130"  # passes the national register number's check (1985-07-31, 001)
NRN_2000S = "01020304526"  # born in 2001: as a JSON number it loses its leading zero


async def bridge_report(service_pki: ServicePki, profile: str | None) -> dict[str, Any]:
    """A report from the bridge's diagnostics, as ``GET /v1/diagnostics`` gives it to pages
    (``profile`` None: an empty reader, so ``card.present`` fails)."""

    def run() -> dict[str, Any]:
        source = LocalSource(LocalReader("Virtual in-process reader"))
        if profile is not None:
            source.reader.insert(BelpicApplet(service_pki.card(profile).profile))
        options = Options(source=source, store=TrustStore.for_test_pki(service_pki.pki),
                          tls_probes=())
        return diagnose(options).to_dict(redact=True, identifiers=False)

    report = await asyncio.to_thread(run)
    report["page"] = {"library": "1.0.0", "userAgent": "Mozilla/5.0 Chrome/126.0 Safari/537",
                      "browser": "Chrome 126.0.6478.126 (Linux)", "origin": "http://x",
                      "secureContext": True, "localNetworkAccessDenied": False,
                      "bridgeReached": True, "baseUrl": "http://127.0.0.1:24801"}
    return report


async def submit(visitor: Browser, fields: dict[str, str],
                 screenshot: bytes | None = None) -> ClientResponse:
    form = FormData()
    form.add_field("_csrf", await visitor.token())
    for name, value in fields.items():
        form.add_field(name, value)
    if screenshot is not None:
        form.add_field("screenshot", screenshot, filename="screen.png",
                       content_type="image/png")
    return await visitor.client.post("/contact", data=form, allow_redirects=False,
                                     headers={"Accept-Language": "en"})


def question(**extra: str) -> dict[str, str]:
    return {"tool": "cadastrefinder", "question": "My card reader is not seen.",
            "email": "visitor@example.be", **extra}


async def stored(portal: Portal) -> list[SupportRequest]:
    async with transaction(portal.db) as db:
        return list((await db.scalars(select(SupportRequest).order_by(SupportRequest.id))).all())


async def test_anonymous_question_with_a_real_report_is_stored_and_acknowledged(
    portal: Portal, service_pki: ServicePki
) -> None:
    report = await bridge_report(service_pki, None)
    visitor = browser(portal)
    page = await visitor.get("/contact", headers={"Accept-Language": "en"})
    assert page.status == 200
    assert "Run the eID diagnostics" in await page.text()
    response = await submit(visitor, question(report=json.dumps(report),
                                              support_code=report["supportCode"]))
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/contact"
    [row] = await stored(portal)
    assert row.user_id is None
    assert row.contact_email == "visitor@example.be"
    assert row.tool == "cadastrefinder"
    assert row.support_code == report["supportCode"]
    assert (row.failing_checks, row.warning_checks) == (1, 0)
    assert row.browser == "Chrome 126.0.6478.126 (Linux)"
    assert row.status == "open"
    kept = json.loads(row.report or "")
    assert [c["id"] for c in kept["checks"]] == [c["id"] for c in report["checks"]]
    assert kept["pageChecks"][0] == {**kept["pageChecks"][0], "id": "browser.bridge",
                                     "status": "ok"}
    mail = await portal.mail.wait_for("visitor@example.be", subject_contains=row.reference)
    assert "CadastreFinder" in mail.text
    assert report["supportCode"] in mail.text
    after = await visitor.get("/contact", headers={"Accept-Language": "en"})
    assert f"received under reference {row.reference}" in await after.text()


async def test_logged_in_question_is_linked_to_the_account(
    portal: Portal, service_pki: ServicePki
) -> None:
    user = await portal.make_user("marie", email="marie@immo.example.be", language="nl")
    visitor = browser(portal)
    await visitor.login("marie")
    page = await visitor.get("/contact")
    assert 'value="marie@immo.example.be"' in await page.text()
    report = await bridge_report(service_pki, "citizen-1.8")
    response = await submit(visitor, question(email="", tool="eid_login",
                                              report=json.dumps(report)))
    assert response.status == 303, await response.text()
    [row] = await stored(portal)
    assert row.user_id == user.id
    assert row.contact_email == "marie@immo.example.be"
    assert row.failing_checks == 0
    mail = await portal.mail.wait_for("marie@immo.example.be", subject_contains=row.reference)
    assert mail.subject.startswith("Uw vraag aan de helpdesk")  # the account's language
    assert "Aanmelden met de eID-kaart" in mail.text


async def test_report_when_the_page_could_not_reach_the_bridge(portal: Portal) -> None:
    report = {"page": {"browser": "Firefox 128.0", "userAgent": "Mozilla/5.0 Firefox/128.0",
                       "bridgeReached": False, "localNetworkAccessDenied": True,
                       "error": {"name": "LocalNetworkAccessDeniedError",
                                 "code": "LOCAL_NETWORK_ACCESS_DENIED", "message": "blocked"}}}
    visitor = browser(portal)
    response = await submit(visitor, question(report=json.dumps(report)))
    assert response.status == 303, await response.text()
    [row] = await stored(portal)
    assert row.failing_checks == 2
    assert row.support_code is None
    assert row.browser == "Firefox 128.0"
    kept = json.loads(row.report or "")
    found = {c["id"]: c for c in kept["pageChecks"]}
    assert found["browser.bridge"]["status"] == "failed"
    assert "Local network access" in found["browser.local_network_access"]["remedy"]["en"]
    assert "réseau local" in found["browser.local_network_access"]["remedy"]["fr"]


BAD_REPORTS = [
    pytest.param("this is not json", "not in the expected form", id="not-json"),
    pytest.param("[1, 2]", "not in the expected form", id="not-an-object"),
    pytest.param('{"hello": 1}', "not in the expected form", id="no-checks"),
    pytest.param('{"checks": "many"}', "not in the expected form", id="checks-not-a-list"),
    pytest.param('{"checks": [{"id": "card.present", "status": "broken"}]}',
                 "not in the expected form", id="unknown-status"),
    pytest.param('{"checks": [{"id": "card.present", "status": "ok", "evidence": []}]}',
                 "not in the expected form", id="evidence-not-an-object"),
    pytest.param('{"supportCode": "??", "checks": []}', "not in the expected form",
                 id="bad-support-code"),
    pytest.param("[" * 5000 + "]" * 5000, "not in the expected form", id="too-deep"),
    pytest.param(json.dumps({"checks": [], "system": {"pad": "x" * (256 * 1024)}}),
                 "too large", id="too-large"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_REPORTS)
async def test_a_bad_report_is_refused_and_the_question_kept(
    sqlite_portal: Portal, raw: str, message: str
) -> None:
    visitor = browser(sqlite_portal)
    response = await submit(visitor, question(question="Reader <b>gone</b> & more",
                                              report=raw))
    assert response.status == 400
    page = await response.text()
    assert message in page
    assert "Reader &lt;b&gt;gone&lt;/b&gt; &amp; more</textarea>" in page
    assert 'value="visitor@example.be"' in page
    assert await stored(sqlite_portal) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"question": ""}, "question", "Write your question."),
        ({"question": "x" * 5001}, "question", "at most 5000 characters"),
        ({"email": ""}, "email", "Give the e-mail address"),
        ({"email": "not-an-address"}, "email", "does not look right"),
        ({"tool": "spaceship"}, "tool", "Choose the tool"),
        ({"support_code": "AB"}, "support_code", "8 letters and digits"),
    ],
)
async def test_form_errors_keep_what_was_written(
    sqlite_portal: Portal, fields: dict[str, str], field: str, message: str
) -> None:
    visitor = browser(sqlite_portal)
    response = await submit(visitor, question(**fields))
    assert response.status == 400
    page = await response.text()
    assert message in page
    assert f'aria-describedby="e-{field}"' in page
    written = fields.get("question", "My card reader is not seen.")
    assert f">{written}</textarea>" in page
    assert await stored(sqlite_portal) == []


async def test_screenshots_checked_by_their_bytes(sqlite_portal: Portal) -> None:
    visitor = browser(sqlite_portal)
    for image, kind in ((PNG, "image/png"), (JPEG, "image/jpeg")):
        response = await submit(visitor, question(), screenshot=image)
        assert response.status == 303, await response.text()
        assert (await stored(sqlite_portal))[-1].screenshot_type == kind
    for bad, message in ((b"GIF89a" + b"\x00" * 40, "must be a PNG or JPEG"),
                         (b"<svg onload=alert(1)>", "must be a PNG or JPEG"),
                         (PNG + b"\x00" * (2 * 1024 * 1024), "larger than 2 MB")):
        response = await submit(visitor, question(question="Kept?"), screenshot=bad)
        assert response.status == 400
        page = await response.text()
        assert message in page
        assert ">Kept?</textarea>" in page
    assert len(await stored(sqlite_portal)) == 2


async def test_national_numbers_never_stored_and_name_only_with_consent(
    portal: Portal, service_pki: ServicePki
) -> None:
    report = await bridge_report(service_pki, "citizen-1.8")
    planted = report["checks"][0]["evidence"]
    planted["note"] = f"holder {NRN} and {NRN[:2]}.{NRN[2:4]}.{NRN[4:6]}-{NRN[6:9]}.{NRN[9:]}"
    planted["number"] = int(NRN)
    planted["young"] = int(NRN_2000S)
    planted[f"key-{NRN}"] = "x"
    planted["holder_name"] = "Alice Test"
    planted["notAnNrn"] = "12345678901"  # 11 digits that fail the check: kept
    report["page"]["userAgent"] = f"Mozilla/5.0 ({NRN})"
    visitor = browser(portal)
    response = await submit(visitor, question(question=f"My number is {NRN}, help",
                                              report=json.dumps(report)))
    assert response.status == 303, await response.text()
    consented = await submit(visitor, question(report=json.dumps(report), include_name="1"))
    assert consented.status == 303
    first, second = await stored(portal)
    for row in (first, second):
        text = json.dumps([row.report, row.question, row.browser])
        for secret in (NRN, NRN_2000S.lstrip("0"), "85.07.31-001.30"):
            assert secret not in text
        assert "[redacted]" in (row.report or "")
        assert "12345678901" in (row.report or "")
    assert first.question == "My number is [redacted], help"
    assert "Alice Test" not in (first.report or "")
    assert json.loads(first.report or "")["nameIncluded"] is False
    assert "Alice Test" in (second.report or "")


async def test_anonymous_submissions_are_throttled_per_address(sqlite_portal: Portal) -> None:
    visitor = browser(sqlite_portal)
    for _ in range(5):
        assert (await submit(visitor, question())).status == 303
    response = await submit(visitor, question(question="The sixth one"))
    assert response.status == 429
    page = await response.text()
    assert "Wait a quarter of an hour" in page
    assert ">The sixth one</textarea>" in page
    assert len(await stored(sqlite_portal)) == 5
    # A logged-in user is counted on their own.
    await sqlite_portal.make_user("paul")
    member = sqlite_portal.browser()
    await member.login("paul")
    assert (await submit(member, question())).status == 303


async def test_mail_failure_loses_nothing(sqlite_portal: Portal) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    working = sqlite_portal.settings.smtp_port
    sqlite_portal.settings.smtp_port = closed
    try:
        visitor = browser(sqlite_portal)
        response = await submit(visitor, question())
    finally:
        sqlite_portal.settings.smtp_port = working
    assert response.status == 303
    [row] = await stored(sqlite_portal)
    page = await visitor.get("/contact", headers={"Accept-Language": "en"})
    assert f"received under reference {row.reference}, but the confirmation" in await page.text()


# -- helpdesk ------------------------------------------------------------------------------


async def helpdesk(portal: Portal, language: str = "en") -> Browser:
    await portal.make_user("help", role=UserRole.HELPDESK, language=language)
    desk = portal.browser()
    await desk.login("help")
    assert (await desk.post("/language", {"lang": language, "next": "/"})).status == 303
    return desk


def order_on(page: str, rows: list[SupportRequest]) -> list[int]:
    positions = {row.id: page.find(f'data-request="{row.id}"') for row in rows}
    return [rid for rid, at in sorted(positions.items(), key=lambda kv: kv[1]) if at >= 0]


async def test_helpdesk_lists_failing_first(portal: Portal, service_pki: ServicePki) -> None:
    await portal.make_user("asker")  # more questions than one address may send anonymously
    visitor = browser(portal)
    await visitor.login("asker")
    reports = {name: await bridge_report(service_pki, profile) for name, profile in
               (("empty", None), ("expired", "expired-1.8"), ("one-try", "one-try-left-1.8"))}
    for fields in (question(), question(report=json.dumps(reports["empty"])),
                   question(report=json.dumps(reports["one-try"])),
                   question(report=json.dumps(reports["expired"])), question(),
                   question(report=json.dumps(reports["expired"]))):
        assert (await submit(visitor, fields)).status == 303
    plain_old, empty, one_try, expired, plain_new, closed = await stored(portal)
    assert expired.failing_checks >= 2
    assert empty.failing_checks == 1
    assert (one_try.failing_checks, one_try.warning_checks) == (0, 1)
    desk = await helpdesk(portal)
    assert (await desk.post(f"/helpdesk/{closed.id}/close")).status == 303
    page = await (await desk.get("/helpdesk")).text()
    everything = [plain_old, empty, one_try, expired, plain_new, closed]
    assert order_on(page, everything) == [expired.id, empty.id, one_try.id, plain_new.id,
                                          plain_old.id]
    page = await (await desk.get("/helpdesk?status=all")).text()
    assert order_on(page, everything)[-1] == closed.id
    page = await (await desk.get("/helpdesk?status=closed")).text()
    assert order_on(page, everything) == [closed.id]


async def test_helpdesk_finds_a_support_code_however_it_is_written(
    portal: Portal, service_pki: ServicePki
) -> None:
    visitor = browser(portal)
    report = await bridge_report(service_pki, None)
    await submit(visitor, question(report=json.dumps(report), email="found@example.be"))
    await submit(visitor, question(email="other@example.be"))
    found, other = await stored(portal)
    code = report["supportCode"]
    desk = await helpdesk(portal)
    spellings = [code, code.lower(), f"{code[:4]}-{code[4:]}", f" {code[:4]} {code[4:]} ",
                 f"{code[:4].lower()}_{code[4:]}", code[:5]]
    for spelling in spellings:
        page = await (await desk.get("/helpdesk", params={"code": spelling})).text()
        assert order_on(page, [found, other]) == [found.id], spelling
    page = await (await desk.get("/helpdesk", params={"code": "ZZZZZZZZ"})).text()
    assert "No request matches." in page
    # Found when closed as well: a searched code looks through every status.
    await desk.post(f"/helpdesk/{found.id}/close")
    page = await (await desk.get("/helpdesk", params={"code": code.lower()})).text()
    assert order_on(page, [found, other]) == [found.id]
    page = await (await desk.get("/helpdesk", params={"email": "OTHER@example"})).text()
    assert order_on(page, [found, other]) == [other.id]


def test_lookalike_characters_in_a_code() -> None:
    assert normalise_code("ab0d-1f8z ") == "ABODIFBZ"
    assert valid_code(normalise_code("abcd-ef23"))
    assert not valid_code(normalise_code("abcd-ef2"))


async def test_helpdesk_detail_reads_the_report_failing_first_in_its_language(
    portal: Portal, service_pki: ServicePki
) -> None:
    visitor = browser(portal)
    report = await bridge_report(service_pki, None)
    await submit(visitor, question(report=json.dumps(report), question="Où est ma carte ?"),
                 screenshot=PNG)
    [row] = await stored(portal)
    desk = await helpdesk(portal, language="fr")
    page = await (await desk.get(f"/helpdesk/{row.id}")).text()
    assert "Où est ma carte ?" in page
    assert row.reference in page
    assert "visitor@example.be" in page
    assert "CadastreFinder" in page
    assert "Chrome 126" in page
    positions = [page.find(f'data-check="{check}"') for check in
                 ("card.present", "system.os", "card.atr")]
    assert 0 < positions[0] < positions[1] < positions[2]  # failed, ok, skipped
    remedy = next(c for c in report["checks"] if c["id"] == "card.present")["remedy"]
    table = page.split("<details>")[0]  # the raw JSON after it has every language
    assert remedy["fr"] in table  # the helpdesk user's language
    assert remedy["en"] not in table
    assert "<details>" in page
    assert '"supportCode"' in page.replace("&#34;", '"')
    assert f'src="/helpdesk/{row.id}/screenshot"' in page
    image = await desk.get(f"/helpdesk/{row.id}/screenshot")
    assert image.status == 200
    assert await image.read() == PNG
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Cache-Control"] == "private, no-store"


async def test_helpdesk_is_refused_to_others(sqlite_portal: Portal) -> None:
    visitor = browser(sqlite_portal)
    await submit(visitor, question(), screenshot=PNG)
    [row] = await stored(sqlite_portal)
    paths = ["/helpdesk", f"/helpdesk/{row.id}", f"/helpdesk/{row.id}/screenshot"]
    for path in paths:
        response = await visitor.client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"].startswith("/login?next=")
    assert (await visitor.post(f"/helpdesk/{row.id}/close")).status in (401, 303)
    await sqlite_portal.make_user("plain")
    user = sqlite_portal.browser()
    await user.login("plain")
    for path in paths:
        assert (await user.client.get(path, allow_redirects=False)).status == 403, path
    assert (await user.post(f"/helpdesk/{row.id}/close")).status == 403
    [unchanged] = await stored(sqlite_portal)
    assert unchanged.status == "open"


async def test_close_and_reopen_record_who(portal: Portal) -> None:
    visitor = browser(portal)
    await submit(visitor, question())
    [row] = await stored(portal)
    desk = await helpdesk(portal)
    async with transaction(portal.db) as db:
        helper = await db.scalar(select(User).where(User.username == "help"))
    assert helper is not None
    response = await desk.post(f"/helpdesk/{row.id}/close")
    assert response.headers["Location"] == f"/helpdesk/{row.id}"
    [closed] = await stored(portal)
    assert (closed.status, closed.handled_by) == ("closed", helper.id)
    assert closed.handled_at is not None
    page = await (await desk.get(f"/helpdesk/{row.id}")).text()
    assert "Reopen the request" in page
    assert f"{row.reference} is closed" in page
    assert (await desk.post(f"/helpdesk/{row.id}/reopen")).status == 303
    [reopened] = await stored(portal)
    assert reopened.status == "open"
    assert (await desk.post("/helpdesk/999999/close")).status == 404
    assert (await desk.get("/helpdesk/999999")).status == 404
    assert (await desk.get(f"/helpdesk/{row.id}/screenshot")).status == 404  # none sent
    without_token = await desk.client.post(f"/helpdesk/{row.id}/close", allow_redirects=False)
    assert without_token.status == 403
