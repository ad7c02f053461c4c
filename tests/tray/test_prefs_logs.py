"""Choices saved to settings.toml; the rotating log and its redaction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bridge.config import Settings
from bridge.tray import prefs
from bridge.tray.logs import setup_logging
from bridge.tray.notify import Notifier


def test_saved_choices_are_read_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('port = 24900\nallowed_origins = ["https://portal.example"]\n')
    prefs.save(path, language="de", autostart=False)
    prefs.save(path, portal_url='https://portal.example/"quoted"')
    settings = Settings.load(path, env={})
    assert settings.language == "de"
    assert settings.autostart is False
    assert settings.port == 24900
    assert settings.allowed_origins == ("https://portal.example",)
    assert settings.portal_url == 'https://portal.example/"quoted"'
    assert prefs.settings_path(settings, {"EID_BRIDGE_CONFIG": str(path)}) == path


def test_tables_are_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[section]\nkey = 1\n")
    with pytest.raises(ValueError, match="by hand"):
        prefs.save(path, language="fr")
    assert path.read_text() == "[section]\nkey = 1\n"


def test_log_rotates_and_masks_national_numbers(tmp_path: Path) -> None:
    path = setup_logging(tmp_path / "logs", max_bytes=2000)
    log = logging.getLogger("bridge.test")
    try:
        log.warning("holder %s", "85.07.30-033.28")
        log.warning("raw 85073003328 end")
        written = path.read_text()
        assert written.count("[national number]") == 2
        assert "85073003328" not in written
        assert "85.07.30-033.28" not in written
        for i in range(100):
            log.info("line %d of filler text to fill the file", i)
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["eid-bridge.log", "eid-bridge.log.1", "eid-bridge.log.2",
                         "eid-bridge.log.3"]
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "baseFilename", "") == str(path)]:
            root.removeHandler(handler)
            handler.close()


def test_notifications_without_a_server_go_to_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bridge.tray.notify")
    assert Notifier(platform="linux", notify_send="")("eID bridge", "Card inserted") == "log"
    # notify-send exists here, but no notification server listens on this bus.
    missing_bus = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/none", "PATH": "/usr/bin"}
    notifier = Notifier(platform="linux", notify_send="/usr/bin/notify-send", env=missing_bus)
    assert notifier("eID bridge", "Card removed") == "log"
    assert "Card removed" in caplog.text
    assert notifier.sent == [("log", "eID bridge", "Card removed")]


class _FakeIcon:
    """Stands for a pystray backend with notifications (Windows, macOS), not runnable here."""

    HAS_NOTIFICATION = True

    def __init__(self) -> None:
        self.shown: list[tuple[str, str | None]] = []

    def notify(self, message: str, title: str | None = None) -> None:
        self.shown.append((message, title))


def test_notifications_through_the_tray_elsewhere() -> None:
    icon = _FakeIcon()
    assert Notifier(icon, platform="win32")("eID bridge", "PIN blocked") == "pystray"
    assert icon.shown == [("PIN blocked", "eID bridge")]
