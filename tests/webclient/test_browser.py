"""The browser library in real Chromium against the real daemon with the virtual card."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

import pytest
from aiohttp import web

from bridge.service.daemon import serving
from bridge.ui.scripted import ScriptedUI
from tests.bridge_harness import (
    PORTAL,
    BridgeFactory,
    InProcess,
    ServicePki,
    build_test_daemon,
)
from tests.webclient.conftest import OpenPage, RelyingParty

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Runs an expression in the page; a failure comes back as the error's name, code and the
# library classes it is an instance of.
RUN = """async (expr) => {
  const eid = window.demo.eid;
  try {
    return { ok: true, value: await eval(expr) };
  } catch (e) {
    const classes = Object.keys(eid).filter(
      (k) => typeof eid[k] === "function" && /Error$/.test(k) && e instanceof eid[k]);
    return { ok: false, name: e.name, code: e.code, message: e.message, classes,
             messages: e.messages, details: e.details, helpUrl: e.helpUrl };
  }
}"""


async def run(page: Any, expr: str) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(RUN, expr)
    return result


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_login_token_reaches_relying_party_and_validates(
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, built = in_process("citizen-1.8")
    ui = ScriptedUI(pins=["1234", "1234"])
    async with (
        start_bridge(source, ui=ui, allowed=(relying_party.origin,)) as bridge,
        open_page(bridge.port) as page,
    ):
        await page.click("#login")
        await page.wait_for_function(
            "/Welcome/.test(document.querySelector('#message').textContent)"
        )
        result = await page.evaluate("window.demo.login()")
    assert result["ok"] is True, result
    assert result["surname"] == built.person.surname
    assert result["givenName"] == built.person.first_names
    assert result["algorithm"] == "ES384"
    assert [r.origin for r in ui.pin_requests] == [relying_party.origin] * 2


@pytest.mark.parametrize("profile", ["citizen-1.8", "citizen-1.7"])
async def test_signature_made_with_sign_verifies(
    profile: str,
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, _ = in_process(profile)
    ui = ScriptedUI(pins=["1234"])
    async with (
        start_bridge(source, ui=ui, allowed=(relying_party.origin,)) as bridge,
        open_page(bridge.port) as page,
    ):
        result = await page.evaluate("window.demo.signText('I agree', 'SHA-384')")
    assert result == {
        "ok": True,
        "signatureAlgorithm": {
            "cryptoAlgorithm": "ECC" if profile.endswith("1.8") else "RSA",
            "hashFunction": "SHA-384",
            "paddingScheme": "NONE" if profile.endswith("1.8") else "PKCS1.5",
        },
    }
    assert ui.pin_requests[0].label == "Example: “I agree”"


async def test_status_and_identity(
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, built = in_process("citizen-1.7")
    async with (
        start_bridge(source, allowed=(relying_party.origin,)) as bridge,
        open_page(bridge.port) as page,
    ):
        status = await run(page, "eid.status()")
        identity = await run(page, "eid.readIdentity()")
        diagnostics = await run(page, "eid.diagnostics()")
    assert status["ok"], status
    assert status["value"]["baseUrl"] == f"http://127.0.0.1:{bridge.port}"
    assert status["value"]["readers"][0]["cardPresent"] is True
    assert status["value"]["library"] == "0.1.0"
    assert identity["ok"], identity
    assert identity["value"]["holder"]["surname"] == built.person.surname
    assert diagnostics["value"]["bridge"]["bridge"]["port"] == bridge.port
    assert "error" not in diagnostics["value"]


async def test_bridge_down_is_bridge_unavailable(open_page: OpenPage) -> None:
    async with open_page(unused_port()) as page:
        result = await page.evaluate("window.demo.login()")
        caught = await run(page, "eid.status()")
        diagnostics = await run(page, "eid.diagnostics()")
        shown = await page.text_content("#message")
        help_link = await page.get_attribute("#help", "href")
    assert result["name"] == "BridgeUnavailableError"
    assert result["code"] == "BRIDGE_UNAVAILABLE"
    assert "BridgeUnavailableError" in caught["classes"]
    assert "BridgeError" in caught["classes"]
    assert "LocalNetworkAccessDeniedError" not in caught["classes"]
    assert caught["helpUrl"].startswith("https://")
    assert set(caught["messages"]) == {"en", "fr", "nl"}
    assert help_link == caught["helpUrl"]
    assert shown == caught["message"]
    assert diagnostics["ok"] is True  # diagnostics never throws
    assert diagnostics["value"]["error"]["code"] == "BRIDGE_UNAVAILABLE"


async def test_local_network_access_blocked_by_the_browser(open_page: OpenPage) -> None:
    # Chromium headless has no prompt to click "Block" on: play the permission's answer.
    deny = """
      const query = navigator.permissions.query.bind(navigator.permissions);
      navigator.permissions.query = (d) => d && d.name === "local-network-access"
        ? Promise.resolve({ state: "denied" }) : query(d);
    """
    async with open_page(unused_port(), init_script=deny) as page:
        caught = await run(page, "eid.status()")
    assert caught["code"] == "LOCAL_NETWORK_ACCESS_DENIED"
    assert {"LocalNetworkAccessDeniedError", "BridgeUnavailableError"} <= set(caught["classes"])


async def test_origin_refused_in_the_approval_dialog(
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, _ = in_process("citizen-1.8")
    ui = ScriptedUI(pins=["1234"], approve=False)
    async with (
        start_bridge(source, ui=ui, allowed=(PORTAL,)) as bridge,
        open_page(bridge.port) as page,
    ):
        result = await page.evaluate("window.demo.login()")
        quiet = await run(page, "eid.status({requestAccess: false})")
    assert result["name"] == "OriginNotAllowedError", result
    assert result["code"] == "USER_DENIED"
    assert [a.origin for a in ui.approvals] == [relying_party.origin]
    assert ui.pin_requests == []
    assert quiet["name"] == "OriginNotAllowedError"
    assert quiet["code"] == "ORIGIN_NOT_ALLOWED"
    assert len(ui.approvals) == 1  # no second dialog


async def test_origin_approved_then_login_succeeds(
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, built = in_process("citizen-1.8")
    ui = ScriptedUI(pins=["1234"], approve=True)
    async with (
        start_bridge(source, ui=ui, allowed=(PORTAL,)) as bridge,
        open_page(bridge.port) as page,
    ):
        result = await page.evaluate("window.demo.login()")
        assert bridge.daemon.origins.is_allowed(relying_party.origin)
    assert result["ok"] is True, result
    assert result["surname"] == built.person.surname
    assert len(ui.approvals) == 1


async def test_user_cancel_is_user_cancelled(
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, _ = in_process("citizen-1.8")
    async with (
        start_bridge(source, ui=ScriptedUI(pins=[None]), allowed=(relying_party.origin,)) as b,
        open_page(b.port) as page,
    ):
        result = await page.evaluate("window.demo.login()")
    assert result["name"] == "UserCancelledError"
    assert result["code"] == "PIN_CANCELLED"


async def test_pin_blocked_card(
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, _ = in_process("blocked-pin-1.8")
    async with (
        start_bridge(source, allowed=(relying_party.origin,)) as bridge,
        open_page(bridge.port) as page,
    ):
        await page.evaluate("document.documentElement.lang = 'fr'")
        caught = await run(
            page,
            "fetch('/api/nonce').then((r) => r.json())"
            ".then(({nonce}) => eid.authenticate(nonce, {lang: 'fr'}))",
        )
    assert caught["name"] == "PinBlockedError"
    assert caught["code"] == "PIN_BLOCKED"
    assert {"PinBlockedError", "PinError", "BridgeError"} <= set(caught["classes"])
    assert caught["message"] == caught["messages"]["fr"]
    assert "PUK" in caught["message"]


async def test_wrong_pin_then_timeout(
    start_bridge: BridgeFactory,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, _, _ = in_process("citizen-1.8")
    ui = ScriptedUI(pins=["0000", None])
    nonce = "fetch('/api/nonce').then((r) => r.json()).then(({nonce}) => nonce)"
    async with (
        start_bridge(source, ui=ui, allowed=(relying_party.origin,)) as bridge,
        open_page(bridge.port) as page,
    ):
        cancelled = await run(page, f"{nonce}.then((n) => eid.authenticate(n))")
        ui.never_answer = True
        timed_out = await run(page, f"{nonce}.then((n) => eid.authenticate(n, {{timeout: 700}}))")
        for _ in range(50):  # the bridge closes the dialog of the page that gave up
            if ui.cancelled:
                break
            await asyncio.sleep(0.1)
    assert cancelled["code"] == "PIN_CANCELLED"  # after one wrong PIN, the user gave up
    assert [r.tries_left for r in ui.pin_requests[:2]] == [3, 2]
    assert timed_out["name"] == "BridgeTimeoutError"
    assert timed_out["code"] == "CLIENT_TIMEOUT"
    assert ui.cancelled == 1


async def test_card_events_and_reconnect(
    service_pki: ServicePki,
    tmp_path: Any,
    in_process: InProcess,
    open_page: OpenPage,
    relying_party: RelyingParty,
) -> None:
    source, applet, _ = in_process("citizen-1.8")

    def daemon() -> Any:
        return build_test_daemon(
            service_pki, tmp_path, source, ui=ScriptedUI(), allowed=(relying_party.origin,)
        )

    async def types(page: Any) -> list[str]:
        found: list[str] = await page.evaluate("window.demo.events.map((e) => e.type)")
        return found

    async def wait_for(page: Any, wanted: list[str]) -> None:
        for _ in range(100):
            if await types(page) == wanted:
                return
            await asyncio.sleep(0.1)
        pytest.fail(f"events {await types(page)}, wanted {wanted}")

    first = daemon()
    stack = contextlib.AsyncExitStack()
    listening = await stack.enter_async_context(serving(first, port=0))
    try:
        async with open_page(listening.port, events=True) as page:
            await wait_for(page, ["hello"])
            await asyncio.to_thread(source.remove)
            await wait_for(page, ["hello", "card-removed"])
            await asyncio.to_thread(source.insert, applet)
            await wait_for(page, ["hello", "card-removed", "card-inserted"])
            started = time.monotonic()
            await stack.aclose()  # the bridge stops (without waiting for the listening page)...
            assert time.monotonic() - started < 10
            await wait_for(page, ["hello", "card-removed", "card-inserted", "bridge-down"])
            second = daemon()
            async with serving(second, port=listening.port):  # ...and comes back
                await wait_for(
                    page, ["hello", "card-removed", "card-inserted", "bridge-down", "hello"]
                )
    finally:
        await stack.aclose()


async def test_version_mismatch(open_page: OpenPage, relying_party: RelyingParty) -> None:
    async def hello(request: web.Request) -> web.Response:
        body = {"name": "eid-bridge", "version": "9.0.0", "apiVersion": "2.0"}
        return web.json_response(
            body, headers={"Access-Control-Allow-Origin": relying_party.origin}
        )

    app = web.Application()
    app.router.add_get("/v1/hello", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = unused_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with open_page(port) as page:
            caught = await run(page, "eid.status()")
    finally:
        await runner.cleanup()
    assert caught["name"] == "VersionMismatchError"
    assert caught["code"] == "VERSION_MISMATCH"
    assert caught["details"] == {"bridge": "9.0.0", "apiVersion": "2.0", "library": "0.1.0"}
