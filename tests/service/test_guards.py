"""The attack suite, part 1: what a hostile page (or program) can send, and proof that none
of it reaches the card or the user."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from bridge.ui.console import ConsoleUI
from bridge.ui.scripted import ScriptedUI
from tests.bridge_harness import PORTAL, BridgeFactory, InProcess

EVIL = "https://evil.example"
NONCE = base64.b64encode(os.urandom(32)).decode()


async def test_foreign_origin_is_refused_before_the_card(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        for path in ("/v1/authenticate", "/v1/identity", "/v1/certificate", "/v1/sign"):
            status, body, response = await bridge.call("POST", path, {"nonce": NONCE}, origin=EVIL)
            assert status == 403, path
            assert body["error"]["code"] == "ORIGIN_NOT_ALLOWED"
            assert "evil.example" in body["error"]["message"]
            assert "Access-Control-Allow-Origin" not in response.headers
        status, body, response = await bridge.call("GET", "/v1/status", origin=EVIL)
        assert status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
    assert applet.log == []
    assert bridge.ui.requests == []


async def test_missing_and_null_origin(start_bridge: BridgeFactory, in_process: InProcess) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        # A local program may read the status (no personal data) ...
        status, body, _ = await bridge.call("GET", "/v1/status", origin=None)
        assert status == 200
        assert body["readers"][0]["cardPresent"] is True
        # ... but nothing without a page's origin reaches the card.
        status, body, _ = await bridge.call(
            "POST", "/v1/authenticate", {"nonce": NONCE}, origin=None
        )
        assert (status, body["error"]["code"]) == (403, "ORIGIN_REQUIRED")
        for path in ("/v1/status", "/v1/hello"):
            status, body, _ = await bridge.call("GET", path, origin="null")
            assert (status, body["error"]["code"]) == (403, "ORIGIN_REQUIRED")
        status, body, _ = await bridge.call(
            "POST", "/v1/authenticate", {"nonce": NONCE}, origin="null"
        )
        assert (status, body["error"]["code"]) == (403, "ORIGIN_REQUIRED")
        # An origin that is no origin (a path, a non-https remote) is refused too.
        for bad in ("https://portal.example/path", "http://portal.example", "ftp://x", "%%%"):
            status, body, _ = await bridge.call("POST", "/v1/identity", {}, origin=bad)
            assert status == 403, bad
    assert applet.log == []
    assert bridge.ui.requests == []


async def test_rebinding_host_is_refused(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        for host in (
            f"evil.example:{bridge.port}",
            "127.0.0.1",  # port missing
            f"127.0.0.1:{bridge.port + 1}",
            f"127.0.0.1.evil.example:{bridge.port}",
            f"localhost.:{bridge.port}",
        ):
            status, body, response = await bridge.call(
                "POST", "/v1/authenticate", {"nonce": NONCE}, headers={"Host": host}
            )
            assert status == 421, host
            assert body["error"]["code"] == "HOST_REJECTED"
            assert "Access-Control-Allow-Origin" not in response.headers
        for host in (f"localhost:{bridge.port}", f"127.0.0.1:{bridge.port}"):
            status, _, _ = await bridge.call("GET", "/v1/hello", headers={"Host": host})
            assert status == 200, host
    assert applet.log == []


async def test_preflights(start_bridge: BridgeFactory, in_process: InProcess) -> None:
    source, _, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        asks = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        }
        status, _, response = await bridge.call("OPTIONS", "/v1/sign", origin=EVIL, headers=asks)
        assert status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Private-Network" not in response.headers

        status, _, response = await bridge.call("OPTIONS", "/v1/sign", headers=asks)
        assert status == 204
        assert response.headers["Access-Control-Allow-Origin"] == PORTAL
        assert response.headers["Access-Control-Allow-Private-Network"] == "true"
        assert "*" not in response.headers["Access-Control-Allow-Origin"]
        assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()

        # A site not yet allowed may only ask the user for access.
        status, _, response = await bridge.call("OPTIONS", "/v1/origins", origin=EVIL, headers=asks)
        assert status == 204
        assert response.headers["Access-Control-Allow-Origin"] == EVIL


async def test_oversize_body(start_bridge: BridgeFactory, in_process: InProcess) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        huge = {"nonce": NONCE, "pad": "x" * 70_000}
        status, body, _ = await bridge.call("POST", "/v1/authenticate", huge)
        assert (status, body["error"]["code"]) == (413, "BODY_TOO_LARGE")

        async def chunks() -> object:
            for _ in range(20):
                yield b" " * 8192

        async with bridge.http.post(
            bridge.base + "/v1/authenticate",
            data=chunks(),
            headers={"Origin": PORTAL, "Content-Type": "application/json"},
        ) as response:
            assert response.status == 413
            assert (await response.json())["error"]["code"] == "BODY_TOO_LARGE"
    assert applet.log == []


async def test_slow_body_is_dropped(start_bridge: BridgeFactory, in_process: InProcess) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        reader, writer = await asyncio.open_connection("127.0.0.1", bridge.port)
        head = (
            f"POST /v1/authenticate HTTP/1.1\r\nHost: 127.0.0.1:{bridge.port}\r\n"
            f"Origin: {PORTAL}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
        )
        writer.write(head.encode() + b'{"nonce": ')
        await writer.drain()
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(4096), 15)
        elapsed = time.monotonic() - started
        writer.close()
        assert b" 408 " in answer.split(b"\r\n")[0]
        assert b"BODY_TIMEOUT" in answer
        assert 4 < elapsed < 10
        # The daemon still serves others meanwhile and afterwards.
        status, _, _ = await bridge.call("GET", "/v1/hello")
        assert status == 200
    assert applet.log == []


async def test_a_thousand_rapid_requests(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source, ui=ScriptedUI(consent=False)) as bridge:

        async def one() -> tuple[int, str]:
            status, body = await bridge.post("/v1/identity")
            return status, body["error"]["code"]

        results = await asyncio.gather(*(one() for _ in range(1000)))
        seen = Counter(results)
        assert set(seen) <= {(403, "USER_DENIED"), (429, "RATE_LIMITED"), (503, "BUSY")}, seen
        assert seen[(429, "RATE_LIMITED")] >= 900
        # Only what passed the limiter reached the user, and none of it the card.
        assert 1 <= len(bridge.ui.requests) <= 100
        assert applet.log == []
        again = await asyncio.gather(*(bridge.call("POST", "/v1/identity", {}) for _ in range(100)))
        limited = [(body, response) for status, body, response in again if status == 429]
        assert limited
        body, response = limited[0]
        assert int(response.headers["Retry-After"]) >= 1
        assert body["error"]["details"]["retryAfter"] >= 1
        # Other origins and local tools keep a share of their own.
        status, _, _ = await bridge.call("GET", "/v1/status", origin=None)
        assert status == 200


async def test_no_cookies_no_side_effects_on_get(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        status, _, response = await bridge.call(
            "GET", "/v1/hello", headers={"Cookie": "session=abc"}
        )
        assert status == 200
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        # A GET on an operation is refused, never performed.
        for path in ("/v1/authenticate", "/v1/sign", "/v1/identity", "/v1/certificate"):
            status, body, _ = await bridge.call("GET", f"{path}?nonce={NONCE}")
            assert status == 405, path
            assert body["error"]["code"] == "METHOD_NOT_ALLOWED"
        # A "simple" cross-site form post (no preflight) is refused by its content type.
        async with bridge.http.post(
            bridge.base + "/v1/identity",
            data=b"nonce=x",
            headers={"Origin": PORTAL, "Content-Type": "application/x-www-form-urlencoded"},
        ) as response:
            assert response.status == 415
    assert applet.log == []
    assert bridge.ui.requests == []


async def test_bad_input_gets_a_clear_error(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        cases: list[tuple[str, object]] = [
            ("/v1/authenticate", {}),
            ("/v1/authenticate", {"nonce": 42}),
            ("/v1/authenticate", {"nonce": "short"}),
            ("/v1/authenticate", {"nonce": "!" * 64}),
            ("/v1/authenticate", [1, 2]),
            (
                "/v1/sign",
                {"hash": "AAAA", "hashFunction": "MD5", "certificate": "AA==", "label": "x"},
            ),
            (
                "/v1/sign",
                {"hash": "AAAA", "hashFunction": "SHA-256", "certificate": "AA==", "label": "x"},
            ),
            (
                "/v1/sign",
                {
                    "hash": base64.b64encode(bytes(32)).decode(),
                    "hashFunction": "SHA-256",
                    "certificate": "AA==",
                    "label": "\u202e\u0000 ",
                },
            ),
        ]
        for path, payload in cases:
            status, body = await bridge.post(path, payload)
            assert status == 400, (path, payload)
            error = body["error"]
            assert error["code"] == "BAD_REQUEST"
            assert set(error["messages"]) == {"en", "fr", "nl"}
            assert all(error["messages"].values())
        async with bridge.http.post(
            bridge.base + "/v1/authenticate",
            data=b"{not json",
            headers={
                "Origin": PORTAL,
                "Content-Type": "application/json",
                "Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5",
            },
        ) as response:
            body = await response.json()
            assert response.status == 400
            assert body["error"]["message"] == body["error"]["messages"]["nl"]
        status, body, _ = await bridge.call("GET", "/v1/nothing-here")
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
    assert applet.log == []


async def test_site_approval_is_asked_once_and_remembered(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, _, _ = in_process("citizen-1.8")
    newcomer = "https://agency.example"
    async with start_bridge(source, ui=ScriptedUI(approve=[True], pins=["1234"])) as bridge:
        status, body = await bridge.post("/v1/origins", origin=newcomer)
        assert status == 200
        assert body == {"origin": newcomer, "allowed": True}
        status, body = await bridge.post("/v1/origins", origin=newcomer)
        assert status == 200
        assert len([r for r in bridge.ui.requests if type(r).__name__ == "OriginApproval"]) == 1
        stored = json.loads((bridge.daemon.settings.config_dir / "origins.json").read_text())
        assert newcomer in stored["approved"]
        status, _ = await bridge.post("/v1/authenticate", {"nonce": NONCE}, origin=newcomer)
        assert status == 200


async def test_refused_site_is_not_asked_again_at_once(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source, ui=ScriptedUI(approve=False)) as bridge:
        answers = await asyncio.gather(*(bridge.post("/v1/origins", origin=EVIL) for _ in range(5)))
        assert {(s, b["error"]["code"]) for s, b in answers} == {(403, "USER_DENIED")}
        status, body = await bridge.post("/v1/origins", origin=EVIL)
        assert (status, body["error"]["code"]) == (403, "USER_DENIED")
        # Five tabs and a retry, one question.
        assert len(bridge.ui.requests) == 1
    assert applet.log == []


async def test_events_follow_the_card(start_bridge: BridgeFactory, in_process: InProcess) -> None:
    source, applet, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        async with bridge.http.ws_connect(
            bridge.base.replace("http", "ws") + "/v1/events", headers={"Origin": PORTAL}
        ) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello"
            assert hello["readers"][0]["cardPresent"] is True
            await asyncio.to_thread(source.remove)
            event = await ws.receive_json(timeout=5)
            assert event == {"type": "card-removed", "reader": source.reader.name}
            await asyncio.to_thread(source.insert, applet)
            event = await ws.receive_json(timeout=5)
            assert event["type"] == "card-inserted"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await bridge.http.ws_connect(
                bridge.base.replace("http", "ws") + "/v1/events", headers={"Origin": EVIL}
            )
        assert refused.value.status == 403


async def test_nobody_to_ask_is_a_clear_error(
    start_bridge: BridgeFactory, in_process: InProcess, tmp_path: Path
) -> None:
    """A daemon started without display or terminal cannot get consent: it says so."""
    source, applet, _ = in_process("citizen-1.8")
    lonely = ConsoleUI(tty=str(tmp_path / "no-terminal"), raise_unavailable=True)
    async with start_bridge(source, ui=lonely) as bridge:
        status, body = await bridge.post("/v1/identity")
    assert (status, body["error"]["code"]) == (503, "USER_UNAVAILABLE")
    assert "desktop session" in body["error"]["message"]
    assert applet.log == []
