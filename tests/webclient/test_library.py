"""The browser library's file itself: size budget, exports matching its declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "webclient" / "js"
LIBRARY = JS / "eid-bridge.js"
DECLARATIONS = JS / "eid-bridge.d.ts"
BUDGET = 15_000


def test_minified_size_is_under_budget() -> None:
    rjsmin = pytest.importorskip("rjsmin")
    source = LIBRARY.read_text("utf-8")
    minified = rjsmin.jsmin(source)
    size = len(minified.encode("utf-8"))
    print(f"eid-bridge.js: {len(source.encode())} bytes, {size} bytes minified (rjsmin)")
    assert size < BUDGET


def _exports(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text, re.MULTILINE))


def test_declarations_cover_every_export() -> None:
    js = _exports(LIBRARY.read_text("utf-8"), r"^export (?:async )?(?:function|class|const) (\w+)")
    ts = _exports(
        DECLARATIONS.read_text("utf-8"), r"^export declare (?:function|class|const) (\w+)"
    )
    assert js == ts
    assert {
        "authenticate",
        "getSigningCertificate",
        "sign",
        "status",
        "onCardEvent",
        "readIdentity",
        "diagnostics",
        "BridgeError",
        "BridgeUnavailableError",
        "LocalNetworkAccessDeniedError",
        "OriginNotAllowedError",
        "UserCancelledError",
        "PinBlockedError",
        "PinIncorrectError",
        "BridgeTimeoutError",
        "CardError",
        "VersionMismatchError",
    } <= js


def test_every_bridge_code_has_a_class_or_falls_back() -> None:
    """The codes the library maps explicitly are codes the bridge (or the library) knows."""
    import json

    openapi = json.loads((JS.parents[1] / "bridge" / "service" / "openapi.json").read_text("utf-8"))
    bridge_codes = set(
        openapi["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"][
            "enum"
        ]
    )
    table = LIBRARY.read_text("utf-8").split("const CLASSES = {")[1].split("};")[0]
    mapped = set(re.findall(r"^\s+(\w+): \w+,", table, re.MULTILINE))
    own = {
        "BRIDGE_UNAVAILABLE",
        "LOCAL_NETWORK_ACCESS_DENIED",
        "VERSION_MISMATCH",
        "CLIENT_TIMEOUT",
    }
    assert mapped - own <= bridge_codes
