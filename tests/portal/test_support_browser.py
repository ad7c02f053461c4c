"""The contact page in real Chromium: the diagnostics run through the real bridge, the question
is sent, and a helpdesk user finds it by its support code."""

from __future__ import annotations

from playwright.async_api import async_playwright

from bridge.card.local import LocalReader
from bridge.service.cards import LocalSource
from tests.bridge_harness import BridgeFactory
from tests.portal_harness import PASSWORD, Portal
from tests.webclient.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium
from webclient.portal.models import UserRole


async def test_diagnostics_sent_from_the_contact_page_reach_the_helpdesk(
    sqlite_portal: Portal, start_bridge: BridgeFactory
) -> None:
    require_chromium()
    portal = sqlite_portal
    await portal.make_user("help", role=UserRole.HELPDESK)
    # An empty reader: the bridge answers, card.present fails, so the report has a remedy.
    source = LocalSource(LocalReader("Virtual in-process reader"))
    async with (
        start_bridge(source, allowed=(portal.origin,)) as bridge,
        async_playwright() as pw,
    ):
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            visitor = await chromium.new_context(locale="en-GB", viewport={"width": 390,
                                                                              "height": 844})
            page = await visitor.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{portal.origin}/contact?bridgePort={bridge.port}")
            await page.click("#run-diagnostics")
            await page.wait_for_selector("#diagnostics[data-done='1']", timeout=30_000)
            summary = await page.inner_text("#diagnostics-summary")
            assert "Problems: 1. Warnings: 0." in summary
            assert "No card in the reader" in summary  # the remedy, in the page's language
            code = await page.input_value("#f-support_code")
            assert len(code) == 8
            assert code in summary
            # Nothing on the phone-sized page is wider than the screen.
            assert await page.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth")
            await page.select_option("#f-tool", "eid_login")
            await page.fill("#f-question", "The portal says my card is missing.")
            await page.fill("#f-email", "phone@example.be")
            await page.click("#contact-form button[type=submit]")
            await page.wait_for_selector(".flash.success")
            assert "received under reference SR-" in await page.inner_text(".flash.success")
            assert not errors, errors
            await visitor.close()

            desk = await chromium.new_context(locale="en-GB")
            page = await desk.new_page()
            await page.goto(f"{portal.origin}/login")
            await page.fill("#f-username", "help")
            await page.fill("#f-password", PASSWORD)
            await page.click("form.stack button[type=submit]")
            await page.wait_for_url(lambda url: "/login" not in url)
            spoken = f"{code[:4].lower()} {code[4:].lower()}"  # as read out on the phone
            await page.goto(f"{portal.origin}/helpdesk")
            await page.fill("#f-code", spoken)
            await page.click("form.search button[type=submit]")
            rows = page.locator("table.requests tbody tr")
            assert await rows.count() == 1
            await rows.locator("a").first.click()
            await page.wait_for_selector("table.report")
            assert "The portal says my card is missing." in await page.inner_text(".question")
            first = page.locator("table.report tbody tr").first
            assert await first.get_attribute("data-check") == "card.present"
            assert "No card in the reader" in await first.inner_text()
            assert "phone@example.be" in await page.inner_text("dl.facts")
            await desk.close()
        finally:
            await chromium.close()
