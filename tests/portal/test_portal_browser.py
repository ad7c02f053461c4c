"""The portal end to end in Chromium, with the real bridge and the virtual card: create an
account, activate it from the caught mail, link the eID, log out, log in with the eID, create
an organisation, let a second user join, confirm them and grant a tool, and the employee
enters the tool for that organisation. The same card then cannot link to a second account."""

from __future__ import annotations

import re

from playwright.async_api import Page, async_playwright, expect

from bridge.ui.scripted import ScriptedUI
from tests.bridge_harness import BridgeFactory, InProcess
from tests.portal_harness import PASSWORD, Portal
from tests.webclient.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium
from webclient.portal.catalogue import Recognition
from webclient.portal.db import transaction
from webclient.portal.models import RegisterEntry
from webclient.portal.security import nrn_hmac

NUMBER = "0417.497.106"
CODE = re.compile(r"\b(\d{6})\b")


async def submit(page: Page, label: str) -> None:
    """Click a form's button and wait for the page it leads to (post, redirect, get)."""
    async with page.expect_navigation():
        await page.get_by_role("button", name=label, exact=True).click()


async def test_account_to_tool_with_the_card(
    sqlite_portal: Portal, start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    require_chromium()
    portal = sqlite_portal
    origin = portal.origin
    source, _applet, built = in_process("citizen-1.8")
    number = built.person.national_number
    # The professional registers list the card's holder (IPI and CIB Vlaanderen).
    async with transaction(portal.db) as db:
        for register in (Recognition.IPI, Recognition.CIB):
            db.add(RegisterEntry(register=register.value, reference=f"{register.value}-1",
                                 nrn_hmac=nrn_hmac(portal.settings.secret_key, number)))
    await portal.make_user("bob.employee", first_name="Bob", last_name="Janssens")
    ui = ScriptedUI(pins=["1234"] * 4)
    async with (
        start_bridge(source, ui=ui, allowed=(origin,)) as bridge,
        async_playwright() as pw,
    ):
        port = f"bridgePort={bridge.port}"
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                            headless=True)
        try:
            errors: list[str] = []
            manager_context = await chromium.new_context(locale="en-GB")
            page = await manager_context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # 1. Create the account; the activation code arrives by mail.
            await page.goto(f"{origin}/register")
            await page.fill("#f-first_name", "Marie")
            await page.fill("#f-last_name", "Dubois")
            await page.fill("#f-email", "marie@agence.example.be")
            await page.fill("#f-username", "marie.dubois")
            await page.fill("#f-password", PASSWORD)
            await page.fill("#f-password_confirm", PASSWORD)
            await submit(page, "Create my account")
            await expect(page).to_have_url(re.compile(r"/activate"))
            mail = await portal.mail.wait_for("marie@agence.example.be")
            code = CODE.search(mail.text)
            assert code is not None, mail.text
            await page.fill("#f-code", code.group(1))
            await submit(page, "Activate")

            # 2. Link the eID through the real bridge (PIN from the bridge's own dialog).
            await page.goto(f"{origin}/profile/eid?{port}")
            await page.click("#eid-start")
            await expect(page.locator("main")).to_contain_text("Dubois", timeout=30_000)
            await page.goto(f"{origin}/profile")
            # The card's given names replace the typed one, and can no longer be edited.
            await expect(page.locator("#f-first_name")).to_have_value("Marie Claire")
            await expect(page.locator("#f-first_name")).to_have_attribute("readonly", "")

            # 3. Log out, then in again with the eID.
            async with page.expect_navigation():
                await page.get_by_role("button", name=re.compile("^Log out")).click()
            await page.goto(f"{origin}/login/eid?next=/organisations&{port}")
            await page.click("#eid-start")
            await page.wait_for_url(f"{origin}/organisations", timeout=30_000)

            # 4. Create the organisation (unknown number: its manager), register CIBweb.
            await page.goto(f"{origin}/organisations/add")
            await page.fill("#f-enterprise_number", NUMBER)
            await submit(page, "Continue")
            await page.fill("#f-name", "Agence Dubois SRL")
            await page.select_option("#f-legal_form", "SRL")
            await page.fill("#f-street", "Rue Haute 5")
            await page.fill("#f-postcode", "1000")
            await page.fill("#f-city", "Bruxelles")
            await page.fill("#f-email", "info@agence.example.be")
            await expect(page.locator("#f-contact_email")).to_have_value(
                "marie@agence.example.be"
            )
            await submit(page, "Register the organisation")
            found = re.search(r"/org/(\d+)", page.url)
            assert found is not None, await page.inner_text("main")
            org = found.group(1)
            await page.goto(f"{origin}/org/{org}/tools")
            async with page.expect_navigation():
                await page.locator(
                    f"form[action='/org/{org}/tools/cibweb/register'] button"
                ).click()

            # 5. A second user asks to join; the manager is mailed.
            employee_context = await chromium.new_context(locale="en-GB")
            employee = await employee_context.new_page()
            employee.on("pageerror", lambda exc: errors.append(str(exc)))
            await employee.goto(f"{origin}/login")
            await employee.fill("#f-username", "bob.employee")
            await employee.fill("#f-password", PASSWORD)
            await submit(employee, "Log in")
            await employee.goto(f"{origin}/organisations/add")
            await employee.fill("#f-enterprise_number", NUMBER)
            await submit(employee, "Continue")
            await submit(employee, "Ask to join")
            await portal.mail.wait_for("marie@agence.example.be", subject_contains="Bob")

            # 6. The manager confirms, then grants CIBweb.
            await page.goto(f"{origin}/org/{org}/employees")
            await submit(page, "Confirm")
            # Confirming leads straight to the new employee's tool access ("first accept,
            # then set tool access").
            await expect(page).to_have_url(re.compile(rf"/org/{org}/members/\d+/tools$"))
            await page.check("input[name=tool][value=cibweb]")
            await submit(page, "Save")
            await portal.mail.wait_for("bob.employee@example.be")

            # 7. The employee enters the tool for that organisation.
            await employee.goto(f"{origin}/tools/cibweb")
            await expect(employee).to_have_url(f"{origin}/org/{org}/tools/cibweb")
            await expect(employee.locator("main")).to_contain_text("Agence Dubois SRL")

            # 8. The same card cannot be linked to the second account.
            await employee.goto(f"{origin}/profile/eid?{port}")
            await employee.click("#eid-start")
            await expect(employee.locator("#eid-message")).to_contain_text(
                "already linked", timeout=30_000
            )
            assert not errors, errors
        finally:
            await chromium.close()
    assert [r.origin for r in ui.pin_requests] == [origin] * 3
