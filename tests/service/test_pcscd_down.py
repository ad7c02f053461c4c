"""The PC/SC service stops and comes back under a running bridge."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import aiohttp
import pytest

from bridge.emulator.applet import BelpicApplet
from bridge.emulator.vpcd import VPCD_PORT, VpcdCard
from tests.bridge_harness import PORTAL, BridgeFactory, ServicePki, pcsc_source
from tests.services import READER_INDEX, TEST_READER, Pcscd, wait_for_card

pytestmark = [
    pytest.mark.pcsc,
    pytest.mark.skipif(os.geteuid() != 0, reason="only root can stop and start pcscd"),
]


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        event = await ws.receive_json(timeout=30)
        if event["type"] == kind:
            return event  # type: ignore[no-any-return]


async def test_bridge_survives_pcscd_restart(
    pcscd: Pcscd, start_bridge: BridgeFactory, service_pki: ServicePki
) -> None:
    nonce = base64.b64encode(os.urandom(32)).decode()
    async with start_bridge(pcsc_source()) as bridge:
        url = bridge.base.replace("http", "ws") + "/v1/events"
        async with bridge.http.ws_connect(url, headers={"Origin": PORTAL}) as ws:
            assert (await ws.receive_json(timeout=5))["service"] == "up"
            await asyncio.to_thread(pcscd.stop)
            try:
                await next_event(ws, "service-down")
                status, body, _ = await bridge.call("GET", "/v1/status")
                assert status == 200
                assert body["service"] == "down"
                assert body["readers"] == []
                status, body, _ = await bridge.call(
                    "POST",
                    "/v1/authenticate",
                    {"nonce": nonce},
                    headers={"Accept-Language": "nl"},
                )
                assert status == 503
                assert body["error"]["code"] == "PCSC_UNAVAILABLE"
                assert "smartcarddienst" in body["error"]["message"]
                assert bridge.ui.requests == []
            finally:
                await asyncio.to_thread(pcscd.start)
            await next_event(ws, "service-up")
            card = VpcdCard(
                BelpicApplet(service_pki.card("citizen-1.8").profile),
                port=VPCD_PORT + READER_INDEX,
            )
            card.insert()
            try:
                await asyncio.to_thread(wait_for_card, TEST_READER, present=True)
                event = await next_event(ws, "card-inserted")
                assert event["reader"] == TEST_READER
                status, body = await bridge.post("/v1/authenticate", {"nonce": nonce})
                assert status == 200, body
            finally:
                card.remove()
