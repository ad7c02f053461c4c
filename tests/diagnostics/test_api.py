"""GET /v1/diagnostics on a running daemon: the checks, redacted for web pages, and no PIN
operation (the card's try counter is untouched)."""

from __future__ import annotations

from tests.bridge_harness import PORTAL, BridgeFactory, InProcess


async def test_diagnostics_route(start_bridge: BridgeFactory, in_process: InProcess) -> None:
    source, applet, built = in_process("one-try-left-1.8")
    async with start_bridge(source) as bridge:
        status, body, _ = await bridge.call("GET", "/v1/diagnostics")
        assert status == 200
        # And a local program (no Origin) gets the same.
        local_status, local, _ = await bridge.call("GET", "/v1/diagnostics", origin=None)
    assert local_status == 200
    assert local["checks"][0]["id"] == "system.os"
    checks = {c["id"]: c for c in body["checks"]}
    assert body["bridge"]["port"] == bridge.port
    assert len(body["supportCode"]) == 8
    assert body["result"] == "warning"
    assert checks["card.pin"]["status"] == "warning"
    assert checks["card.pin"]["remedy"]["code"] == "DIAG_PIN_LAST_TRY"
    assert checks["trust.chain"]["status"] == "ok"
    assert checks["card.sign_test"]["status"] == "skipped"
    assert applet.profile.pin_tries_left == 1  # nothing spent
    text = str(body)
    person = built.person
    for secret in (person.national_number, person.surname, person.first_names):
        assert secret not in text
    assert "chipSerial" not in text
    assert "'serial'" not in text
    assert PORTAL not in text
