"""BCE ACP end to end: real Chromium, the real bridge daemon with a virtual card; a syndic
files a new appointment and signs it with the card's signature key; the wallet is debited
once; the back office registers it; the requester gets the mail; pdfsig accepts the PDF."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from playwright.async_api import async_playwright
from sqlalchemy import select

from bridge.ui.scripted import ScriptedUI
from tests.bridge_harness import BridgeFactory, InProcess
from tests.portal.test_syndic import ACT, assert_pdfsig_accepts
from tests.portal_harness import Portal
from tests.webclient.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium
from webclient.portal.catalogue import Recognition
from webclient.portal.db import transaction
from webclient.portal.models import (
    AccountKind,
    EntryKind,
    JournalEntry,
    Membership,
    OrganisationTool,
    ToolAccess,
    UserRole,
)
from webclient.portal.models.syndic import RequestStatus, SyndicRequest
from webclient.portal.syndic import fees
from webclient.portal.syndic.requests import today_in_belgium
from webclient.portal.wallet import ledger


async def test_syndic_files_and_signs_an_appointment_in_the_browser(
    sqlite_portal: Portal, start_bridge: BridgeFactory, in_process: InProcess, tmp_path: Path
) -> None:
    require_chromium()
    portal = sqlite_portal
    source, _applet, built = in_process("citizen-1.8")
    user = await portal.make_user("marie", first_name="Marie Claire", last_name="Dubois",
                                  national_number=built.person.national_number,
                                  recognitions=(Recognition.IPI,))
    org = await portal.make_organisation(manager=user)
    async with transaction(portal.db) as db:
        db.add(OrganisationTool(organisation_id=org.id, tool="bceacp"))
        membership = await db.scalar(select(Membership).where(Membership.user_id == user.id))
        assert membership is not None
        db.add(ToolAccess(membership_id=membership.id, tool="bceacp"))
        await ledger.credit(db, organisation_id=org.id, amount=30_000,
                            kind=EntryKind.ADJUSTMENT, source=(AccountKind.BANK, "bank"),
                            idempotency_key="browser-seed", description="seed")
    start = date.today() + timedelta(days=45)
    act = tmp_path / "act.pdf"
    act.write_bytes(ACT)
    ui = ScriptedUI(pins=["1234", "1234"])
    async with (
        start_bridge(source, ui=ui, allowed=(portal.origin,)) as bridge,
        async_playwright() as pw,
    ):
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                            headless=True)
        try:
            context = await chromium.new_context(locale="en-GB")
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            base = f"{portal.origin}/org/{org.id}/bceacp"
            await page.goto(f"{portal.origin}/login/eid?next=/org/{org.id}/bceacp/new"
                            f"&bridgePort={bridge.port}")
            await page.click("#eid-start")
            await page.wait_for_url(f"{base}/new", timeout=30_000)
            await page.click('button[value="en"]')
            await page.check('input[value="appointment"]')
            await page.click('button[type="submit"].button')
            await page.wait_for_url(f"{base}/*")
            await page.fill("#f-association_number", "0850.123.440")
            await page.fill("#f-association_name", "ACP Résidence Les Tilleuls")
            await page.fill("#f-decision_date", (start - timedelta(days=30)).isoformat())
            await page.fill("#f-start_date", start.isoformat())
            await page.dispatch_event("#f-start_date", "change")
            await page.locator("#syndic-deadline", has_text="File by").wait_for()
            await page.check('input[name="appointed_by"][value="general_assembly"]')
            await page.check('input[name="syndic_kind"][value="natural"]')
            await page.fill("#f-syndic_name", "Dubois")
            await page.fill("#f-syndic_first_names", "Marie Claire")
            await page.fill("#f-syndic_profession", "syndic")
            await page.fill("#f-syndic_person_number", "85.07.30-033.28")
            await page.fill("#f-syndic_address", "Rue Neuve 1, 1000 Bruxelles")
            await page.fill("#f-contact_details", "02 123 45 67, règlement chez le syndic")
            await page.set_input_files("#f-act", str(act))
            await page.click('button[value="review"]')
            try:
                await page.wait_for_url(f"{base}/*/review", timeout=15_000)
            except Exception:
                raise AssertionError((page.url, errors, await page.text_content("main"))) from None
            request_id = int(page.url.split("/")[-2])
            await page.goto(f"{base}/{request_id}/review?bridgePort={bridge.port}")
            await page.click("#sign-start")
            await page.wait_for_url(f"{base}/{request_id}", timeout=60_000)
            text = await page.text_content("main") or ""
            assert "signed, paid" in text
            assert not errors, errors
        finally:
            await chromium.close()

    sign_pins = [r for r in ui.pin_requests if r.label]
    assert sign_pins
    assert f"no. {request_id}" in (sign_pins[-1].label or "")
    async with portal.db() as db:
        item = await db.get(SyndicRequest, request_id)
        debits = list(await db.scalars(select(JournalEntry).where(
            JournalEntry.organisation_id == org.id, JournalEntry.kind == EntryKind.DEBIT)))
    assert item is not None
    assert item.status is RequestStatus.SUBMITTED
    fee = fees.fee_table().fee(today_in_belgium().year)
    assert [d.amount for d in debits] == [-fee]

    staff = await portal.make_user("counter", role=UserRole.HELPDESK)
    desk = portal.browser()
    await desk.login(staff.username)
    response = await desk.post(f"/backoffice/bceacp/{request_id}/register")
    assert response.status == 303
    await portal.mail.wait_for(user.email, subject_contains=f"no. {request_id} filed")
    registered = await portal.mail.wait_for(user.email,
                                            subject_contains=f"no. {request_id} registered")
    assert "ACP Résidence Les Tilleuls" in registered.text
    async with portal.db() as db:
        item = await db.get(SyndicRequest, request_id)
    assert item is not None
    assert item.status is RequestStatus.REGISTERED
    assert item.signed_pdf is not None
    assert_pdfsig_accepts(item.signed_pdf, signing_root(item.signed_pdf), tmp_path)


def signing_root(pdf: bytes) -> bytes:
    """The self-signed certificate embedded in the signature (the test root)."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    embedded = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    for choice in embedded.signed_data["certificates"]:
        cert = choice.chosen
        if cert.subject == cert.issuer:
            return bytes(cert.dump())
    raise AssertionError("no root in the signature")
