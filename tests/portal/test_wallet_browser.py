"""The wallet end to end in Chromium: a manager tops up €50 through the simulated Bancontact
checkout, sees the balance, filters, exports the CSV and downloads the voucher, whose text
shows the amount and the reference; the page fits a phone's width."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.portal.test_wallet_history import wallet_owner
from tests.portal.test_wallet_pdf import pdf_text
from tests.portal_harness import PASSWORD, Portal
from tests.webclient.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium


async def _balance_shown(page: Page, url: str, expected: str) -> None:
    """Reload until the webhook has credited the wallet (it arrives after the redirect)."""
    for _attempt in range(40):
        await page.goto(url)
        if (await page.text_content("#wallet-balance")) == expected:
            return
        await page.wait_for_timeout(250)
    raise AssertionError(f"balance never showed {expected}")


async def test_manager_tops_up_filters_exports_and_downloads_a_voucher(
    sqlite_portal: Portal, tmp_path: Path
) -> None:
    require_chromium()
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is missing (Debian package poppler-utils)")
    portal = sqlite_portal
    _manager, org = await wallet_owner(portal)
    wallet = f"{portal.origin}/org/{org.id}/wallet"
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                            headless=True)
        try:
            context = await chromium.new_context(locale="en-GB", accept_downloads=True)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{portal.origin}/login")
            await page.fill("input[name=username]", "manager")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("main button[type=submit]")
            await page.wait_for_load_state()

            # The organisation page leads managers to the wallet.
            await page.goto(f"{portal.origin}/org/{org.id}")
            await page.click(f"a[href='/org/{org.id}/wallet']")
            await page.wait_for_url(wallet)
            assert await page.text_content("#wallet-balance") == "€0.00"

            # Top up €50 by Bancontact at the simulated provider.
            await page.click(f"a[href='/org/{org.id}/wallet/topup']")
            await page.fill("#topup-form input[name=amount]", "50")
            await page.check("#topup-form input[name=method][value=bancontact]")
            await page.click("#topup-form button[type=submit]")
            await page.wait_for_url(re.compile(r".*/simulated-psp/checkout/.*"))
            await page.click("#psp-pay")
            await page.wait_for_url(re.compile(rf".*/org/{org.id}/wallet/topup/.*"))
            await _balance_shown(page, wallet, "€50.00")
            rows = page.locator("tr.transaction")
            assert await rows.count() == 1
            reference = await rows.first.get_attribute("data-reference")
            assert reference is not None
            assert re.fullmatch(r"TX-\d{4}-\d{6}", reference)
            row_text = await rows.first.text_content() or ""
            assert "Online top-up" in row_text
            assert "€50.00" in row_text

            # Filters: by type (kept in the URL and the form), then one that matches nothing.
            await page.select_option("#wallet-filters select[name=type]", "topup_online")
            await page.click("#wallet-filters button[type=submit]")
            await page.wait_for_url(re.compile(r".*type=topup_online.*"))
            assert await page.locator("tr.transaction").count() == 1
            await page.select_option("#wallet-filters select[name=type]", "debit")
            await page.click("#wallet-filters button[type=submit]")
            await page.wait_for_url(re.compile(r".*type=debit.*"))
            assert await page.locator("tr.transaction").count() == 0
            assert "No transaction matches these filters." in (
                await page.text_content("main") or "")
            await page.goto(f"{wallet}?type=topup_online")

            # CSV for Excel: BOM, semicolons, decimal comma.
            async with page.expect_download() as download_info:
                await page.click("#export-semicolon")
            download = await download_info.value
            assert re.fullmatch(r"wallet-0403170701-\d{8}-\d{4}\.csv",
                                download.suggested_filename)
            csv_path = tmp_path / "export.csv"
            await download.save_as(csv_path)
            body = csv_path.read_bytes()
            assert body.startswith(b"\xef\xbb\xbf")
            table = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
            assert len(table) == 2
            assert table[1][1] == reference
            assert table[1][5] == "50,00"

            # The voucher: a PDF whose text gives the amount and the reference.
            async with page.expect_download() as download_info:
                await page.click(f"tr[data-reference='{reference}'] a[href$='.pdf']")
            download = await download_info.value
            assert download.suggested_filename == f"voucher-{reference}.pdf"
            pdf_path = tmp_path / "voucher.pdf"
            await download.save_as(pdf_path)
            text = pdf_text(pdf_path.read_bytes())
            assert "€50.00" in text
            assert reference in text
            assert "This is not an invoice." in text

            # On a phone: nothing wider than the screen.
            await page.set_viewport_size({"width": 375, "height": 740})
            await page.goto(wallet)
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0
            assert await page.locator("tr.transaction td[data-label]").first.is_visible()
            assert not errors, errors
        finally:
            await chromium.close()
