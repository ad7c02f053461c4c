"""Origins: what counts as one, the allowlist, approvals on disk, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import Settings
from bridge.service.origins import OriginPolicy, normalise_origin


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://portal.example", "https://portal.example"),
        ("https://Portal.Example:443", "https://portal.example"),
        ("https://portal.example:8443", "https://portal.example:8443"),
        ("https://portal.example/", "https://portal.example"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://portal.example", None),  # plain http only on loopback
        ("https://portal.example/login", None),
        ("https://portal.example?x=1", None),
        ("https://user:pw@portal.example", None),
        ("https://portal.example:99999", None),
        ("null", None),
        ("", None),
        ("file://", None),
        ("javascript:alert(1)", None),
        ("https://por tal.example", None),
    ],
)
def test_normalise_origin(raw: str, expected: str | None) -> None:
    assert normalise_origin(raw) == expected


@given(st.text(max_size=300))
def test_normalise_origin_never_raises_and_is_idempotent(raw: str) -> None:
    result = normalise_origin(raw)
    if result is not None:
        assert normalise_origin(result) == result
        assert result.startswith(("https://", "http://"))


def test_approvals_persist_and_revoke(tmp_path: Path) -> None:
    store = tmp_path / "origins.json"
    policy = OriginPolicy(("https://portal.example/",), store)
    assert policy.is_allowed("https://portal.example")
    assert not policy.is_allowed("https://agency.example")
    policy.approve("https://agency.example")
    again = OriginPolicy((), store)
    assert again.is_allowed("https://agency.example")
    assert [a.source for a in again.approvals()] == ["user"]
    assert again.revoke("https://agency.example")
    assert not again.revoke("https://agency.example")
    assert not OriginPolicy((), store).is_allowed("https://agency.example")


def test_denial_is_remembered_for_a_while(tmp_path: Path) -> None:
    policy = OriginPolicy((), None)
    policy.deny("https://evil.example")
    assert policy.recently_denied("https://evil.example")
    assert not policy.recently_denied("https://other.example")
    policy.approve("https://evil.example")  # the user changed their mind in the settings
    assert not policy.recently_denied("https://evil.example")


def test_a_corrupt_store_starts_empty(tmp_path: Path) -> None:
    store = tmp_path / "origins.json"
    store.write_text("{not json")
    policy = OriginPolicy((), store)
    assert policy.approvals() == []
    store.write_text('{"approved": {"http://evil.example": "x", "https://ok.example": "t"}}')
    assert [a.origin for a in OriginPolicy((), store).approvals()] == ["https://ok.example"]


def test_settings_for_the_daemon(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        'port = 25000\nallowed_origins = ["https://portal.example/", "https://b.example"]\n'
        'ui = "console"\n'
    )
    settings = Settings.load(config, env={})
    assert settings.port == 25000
    assert settings.allowed_origins == ("https://portal.example", "https://b.example")
    assert settings.ui == "console"
    env = {"EID_BRIDGE_ALLOWED_ORIGINS": "https://x.example, https://y.example"}
    assert Settings.load(config, env=env).allowed_origins == (
        "https://x.example",
        "https://y.example",
    )
    with pytest.raises(ValueError, match="port"):
        Settings.load(config, env={"EID_BRIDGE_PORT": "eighty"})


def test_a_revocation_reaches_a_running_policy(tmp_path: Path) -> None:
    store = tmp_path / "origins.json"
    running = OriginPolicy((), store)
    running.approve("https://agency.example")
    assert OriginPolicy((), store).revoke("https://agency.example")  # `eid-bridge origins revoke`
    assert not running.is_allowed("https://agency.example")
