"""The eID login end to end: real Chromium, the real bridge daemon with a virtual card, the
portal on 127.0.0.1; and the example relying party mounted under ``/example/``."""

from __future__ import annotations

from playwright.async_api import async_playwright

from bridge.ui.scripted import ScriptedUI
from tests.bridge_harness import BridgeFactory, InProcess
from tests.portal_harness import Portal
from tests.webclient.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium


async def test_login_page_and_example_log_in_with_the_card(
    sqlite_portal: Portal, start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    require_chromium()
    portal = sqlite_portal
    source, _applet, built = in_process("citizen-1.8")
    await portal.make_user("marie", first_name="Marie Claire", last_name="Dubois",
                           national_number=built.person.national_number)
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
            await page.goto(f"{portal.origin}/login/eid?next=/profile/eid&bridgePort={bridge.port}")
            await page.click("#eid-start")
            await page.wait_for_url(f"{portal.origin}/profile/eid", timeout=30_000)
            text = await page.text_content("main")
            assert text is not None
            assert "Dubois" in text
            assert "marie" in (await page.text_content("header") or "")

            # The example relying party under /example/, sharing the portal's validator.
            await page.goto(f"{portal.origin}/example/?bridgePort={bridge.port}&noevents")
            await page.wait_for_function("window.demo !== undefined", timeout=10_000)
            await page.click("#login")
            await page.wait_for_function(
                "/Welcome/.test(document.querySelector('#message').textContent)",
                timeout=30_000,
            )
            message = await page.text_content("#message")
            assert message == "Welcome, Marie Claire Dubois."
            assert not errors, errors
        finally:
            await chromium.close()
    assert [r.origin for r in ui.pin_requests] == [portal.origin] * 2
