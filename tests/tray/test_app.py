"""The tray on a virtual X screen with a real system tray (trayer): its icon, its menu
items driven through pystray's menu objects, and what they change."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bridge.config import Settings
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import build_card
from bridge.service.cards import LocalSource
from bridge.service.run import build_daemon
from bridge.tray.app import TrayApp
from bridge.tray.autostart import XdgAutostart
from bridge.tray.icons import TrayState, draw
from bridge.tray.instance import SingleInstance, hand_over
from bridge.tray.notify import Notifier
from bridge.ui.scripted import ScriptedUI
from tests.ui.xvfb import XMissing, Xvfb

CARD_BLUE = (0, 82, 147)


@pytest.fixture(scope="module")
def desktop() -> Iterator[Xvfb]:
    """Xvfb plus trayer, a stand-alone system tray that docks pystray's X11 icon."""
    if shutil.which("trayer") is None or shutil.which("import") is None:
        message = "trayer and imagemagick are needed (Debian packages trayer, imagemagick)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = Xvfb(640, 480)
    try:
        server.start()
    except XMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    tray = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
         "--height", "32", "--transparent", "false", "--tint", "0xffffff"],
        env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: tray_owner(server.display))  # trayer owns the tray selection
    yield server
    tray.terminate()
    tray.wait(10)
    server.stop()


def tray_owner(display: str) -> bool:
    """Whether a system tray has taken the X selection icons dock into."""
    from Xlib import X  # type: ignore[import-untyped,unused-ignore]
    from Xlib.display import Display  # type: ignore[import-untyped,unused-ignore]

    connection = Display(display)
    try:
        atom = connection.intern_atom("_NET_SYSTEM_TRAY_S0")
        return bool(connection.get_selection_owner(atom) != X.NONE)
    finally:
        connection.close()


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def find(menu: Any, label: str) -> Any:
    for item in menu.items:
        if item.text == label:
            return item
    raise AssertionError(f"no menu item '{label}' in {[i.text for i in menu.items]}")


def texts(menu: Any) -> list[str]:
    # Separators have the text "- - - -".
    return [item.text for item in menu.items if item.text.strip("- ")]


@pytest.fixture
def make_app(
    desktop: Xvfb, tmp_path: Path, test_pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], TrayApp]]:
    # pystray's X11 backend connects to $DISPLAY (and picks its backend at first import).
    monkeypatch.setenv("DISPLAY", desktop.display)
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    apps: list[TrayApp] = []

    def make(profile: str) -> TrayApp:
        settings = Settings(
            language="en", config_dir=tmp_path / "config", data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache", log_dir=tmp_path / "log",
            portal_url="https://portal.example/", demo=True,
        )
        source = LocalSource()
        source.insert(BelpicApplet(build_card(profile, test_pki).profile))
        daemon = build_daemon(settings, ui=ScriptedUI(), source=source, test_pki=test_pki)
        instance = SingleInstance(tmp_path / "run")
        assert instance.acquire()
        app = TrayApp(
            settings, daemon,
            autostart=XdgAutostart(tmp_path / "xdg-home", config_dirs=[tmp_path / "etc-xdg"]),
            instance=instance,
            notifier=Notifier(notify_send=""),
            settings_file=tmp_path / "config" / "settings.toml",
            autostart_command=["/opt/eid-bridge/bin/eid-bridge", "tray", "--autostart"],
            poll=0.1, port=0, screen=desktop.display,
            diagnose_options={"tls_probes": (), "network_timeout": 0.5},
        )
        app.start_daemon()
        app.create_icon()
        threading.Thread(target=app.run, daemon=True).start()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.quit()
        app.icon = None
    # pystray's X11 icon closes its display connection when collected: while X still runs.
    apps.clear()
    gc.collect()


def screenshot(desktop: Xvfb, path: Path) -> Image.Image:
    subprocess.run(["import", "-window", "root", str(path)], env=desktop.env, check=True,
                   timeout=20)
    assert path.stat().st_size > 0
    return Image.open(path).convert("RGB")


def near(pixel: tuple[int, int, int], colour: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel, colour, strict=True))


def count(picture: Image.Image, colour: tuple[int, int, int]) -> int:
    """Pixels near ``colour`` in the top-right corner, where trayer docks the icon."""
    width, height = picture.size
    found = 0
    for y in range(min(height, 64)):
        for x in range(width - 200, width):
            pixel = picture.getpixel((x, y))
            assert isinstance(pixel, tuple)
            found += near((pixel[0], pixel[1], pixel[2]), colour)
    return found


def test_icon_shown_and_follows_the_card(
    make_app: Callable[[str], TrayApp], desktop: Xvfb, tmp_path: Path
) -> None:
    app = make_app("citizen-1.8")
    wait_until(lambda: app.snapshot.state is TrayState.READY)
    ready = draw(TrayState.READY, 64).tobytes()
    wait_until(lambda: app.icon.icon.tobytes() == ready)  # set by the updater thread
    wait_until(lambda: app.icon.title == "eID bridge: Card ready")
    # Docking and painting take a moment: screenshots until the icon is there.
    deadline = time.monotonic() + 15
    while True:
        shot = screenshot(desktop, tmp_path / "tray-ready.png")  # kept as the test's artefact
        blue, green = count(shot, CARD_BLUE), count(shot, (30, 150, 60))
        if (blue > 20 and green > 5) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert blue > 20, (blue, green)
    assert green > 5, (blue, green)

    source = app.daemon.source
    assert isinstance(source, LocalSource)
    source.remove()
    wait_until(lambda: app.snapshot.state is TrayState.NO_CARD)
    wait_until(lambda: ("log", "eID bridge", "Card removed") in app.notifier.sent)
    assert find(app.icon.menu, "Insert your eID card")
    deadline = time.monotonic() + 15
    while count(screenshot(desktop, tmp_path / "tray-no-card.png"), (30, 150, 60)):
        assert time.monotonic() < deadline, "the green 'ready' badge stayed on screen"
        time.sleep(0.3)
    assert count(screenshot(desktop, tmp_path / "tray-no-card.png"), CARD_BLUE) == 0

    # A second launch asks this one to show its status.
    assert hand_over(tmp_path / "run", "show")
    wait_until(lambda: app.notifier.sent[-1][2] == "Insert your eID card")


def test_menu_actions(make_app: Callable[[str], TrayApp], desktop: Xvfb, tmp_path: Path) -> None:
    app = make_app("citizen-1.8")
    app.daemon.origins.approve("https://portal.example")
    app.revoke("https://nothing.example")  # unknown: nothing happens, the menu is rebuilt
    menu = app.icon.menu
    assert texts(menu)[1:] == [
        "Run diagnostics", "Open the portal", "Allowed sites", "Language",
        "Start at login", "Quit",
    ]

    # Allowed sites: view and revoke.
    site = find(find(menu, "Allowed sites").submenu, "https://portal.example")
    find(site.submenu, "Revoke")(app.icon)
    assert not app.daemon.origins.is_allowed("https://portal.example")
    stored = json.loads((tmp_path / "config" / "origins.json").read_text())
    assert stored["approved"] == {}
    assert texts(find(app.icon.menu, "Allowed sites").submenu) == ["(none yet)"]

    # Start at login: the XDG entry appears and goes.
    entry = tmp_path / "xdg-home" / "autostart" / "eid-bridge.desktop"
    autostart = find(app.icon.menu, "Start at login")
    was = autostart.checked
    autostart(app.icon)
    assert entry.exists() != was
    assert find(app.icon.menu, "Start at login").checked != was
    find(app.icon.menu, "Start at login")(app.icon)
    assert entry.exists() == was
    assert Settings.load(tmp_path / "config" / "settings.toml", env={}).autostart == was

    # Language: the menu speaks German, and the choice is saved.
    find(find(app.icon.menu, "Language").submenu, "Deutsch")(app.icon)
    assert texts(app.icon.menu)[1:] == [
        "Diagnose ausführen", "Portal öffnen", "Erlaubte Websites", "Sprache",
        "Bei der Anmeldung starten", "Beenden",
    ]
    assert find(find(app.icon.menu, "Sprache").submenu, "Deutsch").checked
    assert Settings.load(tmp_path / "config" / "settings.toml", env={}).language == "de"
    find(find(app.icon.menu, "Sprache").submenu, "Français")(app.icon)
    assert "Lancer le diagnostic" in texts(app.icon.menu)
    assert app.daemon.services.language == "fr"  # dialogs follow
    with pytest.raises(ValueError, match="unknown language"):
        app.set_language("xx")

    # Diagnostics: the report in a window on the screen.
    find(app.icon.menu, "Lancer le diagnostic")(app.icon)
    wait_until(lambda: app.last_report is not None, timeout=60)
    assert app.last_report is not None
    assert "support code" in app.last_report
    assert "85073003328" not in app.last_report
    window = desktop.find_window("Diagnostic du pont eID")
    assert window > 0

    # Quit stops the icon, the daemon and the single-instance listener.
    find(app.icon.menu, "Quitter")(app.icon)
    wait_until(lambda: app.stopped.is_set() and not app.bridge.running)
    assert not hand_over(tmp_path / "run", "show")


def test_blocked_pin_needs_attention(make_app: Callable[[str], TrayApp]) -> None:
    app = make_app("blocked-pin-1.8")
    wait_until(lambda: app.snapshot.reason == "state.pin-blocked")
    assert app.snapshot.state is TrayState.ATTENTION
    attention = draw(TrayState.ATTENTION, 64).tobytes()
    wait_until(lambda: app.icon.icon.tobytes() == attention)
    wait_until(lambda: any("PIN blocked" in note for _, _, note in app.notifier.sent))
