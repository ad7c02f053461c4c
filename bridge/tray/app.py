"""The tray application: the daemon on a background event loop, the icon on the main thread
(macOS requires it there), and the menu's actions as plain methods (tests call them).

Without a display the same program runs the daemon alone (``--headless``, the systemd unit,
an SSH session), still as the single instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bridge.config import Settings
from bridge.service.daemon import Daemon, serving
from bridge.service.origins import Approval
from bridge.service.worker import JobContext
from bridge.tray import prefs
from bridge.tray.autostart import Autostart, default_command
from bridge.tray.icons import TrayState, draw
from bridge.tray.instance import SingleInstance
from bridge.tray.notify import Notifier
from bridge.tray.status import STARTING, DaemonWatcher, Snapshot
from bridge.tray.texts import LANGUAGE_NAMES, LANGUAGES, language_of, text

log = logging.getLogger(__name__)

T = TypeVar("T")
ICON_SIZE = 64  # pystray scales it to the panel's size


def display_available(env: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    if platform in ("win32", "darwin"):
        return True
    env = dict(os.environ) if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


class BridgeThread:
    """The daemon served on its own event loop, in a background thread."""

    def __init__(self, daemon: Daemon, on_change: Callable[[Snapshot, dict[str, Any] | None],
                 None], *, poll: float = 1.0, port: int | None = None) -> None:
        self.daemon = daemon
        self.port = port
        self.watcher = DaemonWatcher(daemon, on_change, poll=poll)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.addresses: list[str] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="bridge-daemon", daemon=True)

    def start(self, timeout: float = 30) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the daemon did not start")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() or logged after start
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("the daemon stopped on an error")

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serving(self.daemon, port=self.port) as listening:
            self.addresses = listening.addresses
            await self.watcher.start()
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await self.watcher.stop()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the daemon's loop from another thread and wait for it."""
        assert self.loop is not None, "start() first"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 15) -> None:
        if self.loop is not None and self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)


def show_text_window(title: str, body: str, close_label: str, closing: threading.Event,
                     screen: str | None = None) -> threading.Thread:
    """A read-only window holding ``body`` (the diagnostics report), in its own thread with
    its own Tk interpreter, so it neither blocks the menu nor shares Tk with the dialogs.
    It closes when ``closing`` is set (Quit): a Tk window left open when the X connection
    ends makes Xlib end the whole process."""

    def run() -> None:
        import tkinter
        from tkinter import ttk

        try:
            root = tkinter.Tk(screenName=screen, className="EidBridge")
        except tkinter.TclError as exc:
            log.warning("cannot open the report window: %s", exc)
            return
        root.title(title)
        frame = ttk.Frame(root, padding=8)
        frame.pack(fill="both", expand=True)
        widget = tkinter.Text(frame, width=100, height=30, wrap="none", font="TkFixedFont")
        scroll = ttk.Scrollbar(frame, command=widget.yview)
        widget.configure(yscrollcommand=scroll.set)
        widget.insert("1.0", body)
        widget.configure(state="disabled")  # selectable for copy, not editable
        scroll.pack(side="right", fill="y")
        widget.pack(side="top", fill="both", expand=True)
        ttk.Button(root, text=close_label, command=root.destroy).pack(pady=6)
        root.attributes("-topmost", True)
        root.lift()
        root.focus_force()

        def watch() -> None:
            if closing.is_set():
                root.destroy()
            else:
                root.after(200, watch)

        watch()
        root.mainloop()
        with contextlib.suppress(tkinter.TclError):
            root.destroy()

    def run_then_collect() -> None:
        run()
        # Every Tk object must die in this thread (the recursive ``watch`` keeps the window
        # in a reference cycle): Tcl aborts the process when another thread's garbage
        # collection deletes an interpreter.
        gc.collect()

    thread = threading.Thread(target=run_then_collect, name="tray-report", daemon=True)
    thread.start()
    return thread


class TrayApp:
    def __init__(
        self,
        settings: Settings,
        daemon: Daemon,
        *,
        autostart: Autostart,
        instance: SingleInstance | None = None,
        notifier: Notifier | None = None,
        settings_file: Path | None = None,
        autostart_command: Sequence[str] | None = None,
        poll: float = 1.0,
        port: int | None = None,
        diagnose_options: dict[str, Any] | None = None,
        show_windows: bool = True,
        screen: str | None = None,
    ) -> None:
        """``screen``: the X display for the report window (tests); ``show_windows=False``
        keeps the report in :attr:`last_report` only."""
        self.settings = settings
        self.daemon = daemon
        self.autostart = autostart
        self.instance = instance
        self.notifier = notifier or Notifier()
        self.settings_file = settings_file or prefs.settings_path(settings)
        self.autostart_command = list(autostart_command or default_command())
        self.diagnose_options = diagnose_options or {}
        self.show_windows = show_windows
        self.screen = screen
        self.bridge = BridgeThread(daemon, self._on_change, poll=poll, port=port)
        self.snapshot = STARTING
        self.icon: Any = None
        self.last_report: str | None = None
        self.report_windows: list[threading.Thread] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._icon_lock = threading.Lock()
        self._shown_state: TrayState | None = None
        self._picture_wanted = threading.Event()
        self._updater = threading.Thread(
            target=self._update_picture, name="tray-icon-updater", daemon=True
        )

    # --- texts and menu --------------------------------------------------------------------

    @property
    def language(self) -> str:
        return language_of(self.settings.language)

    def t(self, key: str) -> str:
        return text(key, self.language)

    def status_line(self) -> str:
        return self.t(self.snapshot.reason)

    def title(self) -> str:
        # pystray's X11 backend stores the tooltip as a Latin-1 window name: no "…" there.
        return f"{self.t('app')}: {self.status_line()}".replace("…", "...")

    def build_menu(self) -> Any:
        import pystray  # type: ignore[import-untyped,unused-ignore]

        item, menu = pystray.MenuItem, pystray.Menu
        sites = []
        for approval in self.allowed_sites():
            if approval.source == "user":
                sub = menu(item(self.t("menu.sites.revoke"), self._revoke_action(approval.origin)))
            else:
                sub = menu(item(self.t("menu.sites.managed"), None, enabled=False))
            sites.append(item(approval.origin, sub))
        if not sites:
            sites.append(item(self.t("menu.sites.none"), None, enabled=False))
        languages = [
            item(
                LANGUAGE_NAMES[code],
                self._language_action(code),
                checked=self._is_language(code),
                radio=True,
            )
            for code in LANGUAGES
        ]
        return menu(
            item(self.status_line(), self.show_status, default=True),
            menu.SEPARATOR,
            item(self.t("menu.diagnostics"), self._diagnostics_in_background),
            item(self.t("menu.portal"), self.open_portal, enabled=bool(self.settings.portal_url)),
            item(self.t("menu.sites"), menu(*sites)),
            item(self.t("menu.language"), menu(*languages)),
            item(
                self.t("menu.autostart"),
                self.toggle_autostart,
                checked=lambda _: self.autostart_enabled(),
            ),
            menu.SEPARATOR,
            item(self.t("menu.quit"), self.quit),
        )

    def _revoke_action(self, origin: str) -> Callable[[], None]:
        def action() -> None:
            self.revoke(origin)

        return action

    def _language_action(self, code: str) -> Callable[[], None]:
        return lambda: self.set_language(code)

    def _is_language(self, code: str) -> Callable[[Any], bool]:
        return lambda _: self.language == code

    def _refresh_icon(self) -> None:
        """Rebuild the menu now (no X11 traffic) and have the picture and tooltip updated on
        the updater thread: pystray's X11 backend can block a caller that updates it while
        its own loop talks to the X server, and the daemon's event loop must never wait on
        it."""
        icon = self.icon
        if icon is None:
            return
        with self._icon_lock:
            icon.menu = self.build_menu()
            icon.update_menu()
        self._picture_wanted.set()

    def _update_picture(self) -> None:
        """The updater thread: the only one that changes the icon's picture and tooltip."""
        while True:
            self._picture_wanted.wait()
            self._picture_wanted.clear()
            icon = self.icon
            if self.stopped.is_set() or icon is None:
                return
            # Only what changed is pushed: each push is an X round trip under a grab.
            if self._shown_state is not self.snapshot.state:
                self._shown_state = self.snapshot.state
                icon.icon = draw(self._shown_state, ICON_SIZE)
            if icon.title != self.title():
                icon.title = self.title()

    # --- actions ---------------------------------------------------------------------------

    def show_status(self) -> None:
        self.notifier(self.t("app"), self.status_line())

    def run_diagnostics(self) -> str:
        """The helpdesk report (redacted), made on the card worker like every card access;
        shown in a window unless ``show_windows`` is off. Returns its text."""
        from bridge.diagnostics import Options, diagnose

        daemon = self.daemon
        services = daemon.services

        def run_checks(ctx: JobContext) -> Any:
            options = Options(
                source=daemon.source,
                store=services.store,
                revocation=services.revocation,
                session=ctx.session,
                **self.diagnose_options,
            )
            return diagnose(options)

        report = self.bridge.call(
            daemon.worker.run(run_checks, name="diagnostics", timeout=120), timeout=130
        )
        body = str(report.to_text(self.settings.language, redact=True))
        self.last_report = body
        if self.show_windows:
            if sys.platform == "darwin":  # Tk runs in the main thread only, which pystray has
                saved = report.save(self.settings.data_dir / "diagnostics.txt",
                                    language=self.settings.language)
                webbrowser.open(saved.as_uri())
            else:
                self.report_windows.append(
                    show_text_window(self.t("diagnostics.title"), body,
                                     self.t("diagnostics.close"), self.stopped, self.screen)
                )
        return body

    def _diagnostics_in_background(self) -> None:
        # Menu actions run on the tray's event thread: a report takes seconds.
        def run() -> None:
            try:
                self.run_diagnostics()
            except Exception:
                log.exception("diagnostics failed")

        threading.Thread(target=run, name="tray-diagnostics", daemon=True).start()

    def open_portal(self) -> bool:
        url = self.settings.portal_url
        if not url:
            return False
        return webbrowser.open(url)

    def allowed_sites(self) -> list[Approval]:
        return self.daemon.origins.approvals()

    def revoke(self, origin: str) -> bool:
        revoked = self.daemon.origins.revoke(origin)
        self._refresh_icon()
        return revoked

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language '{language}'")
        self.settings.language = language
        # Dialogs follow at once (German ones fall back to English, as the rest does).
        self.daemon.services.language = language
        prefs.save(self.settings_file, language=language)
        self._refresh_icon()

    def autostart_enabled(self) -> bool:
        return self.autostart.enabled()

    def set_autostart(self, enabled: bool) -> None:
        if enabled:
            self.autostart.enable(self.autostart_command)
        else:
            self.autostart.disable()
        self.settings.autostart = enabled
        prefs.save(self.settings_file, autostart=enabled)
        self._refresh_icon()

    def toggle_autostart(self) -> None:
        self.set_autostart(not self.autostart_enabled())

    def reconcile_autostart(self) -> None:
        """Make the OS entry follow the setting (first start: on, as the setting says)."""
        try:
            if self.settings.autostart != self.autostart.enabled():
                if self.settings.autostart:
                    self.autostart.enable(self.autostart_command)
                else:
                    self.autostart.disable()
        except OSError as exc:
            log.warning("cannot update the start-at-login entry: %s", exc)

    def quit(self) -> None:
        with self._lock:
            if self.stopped.is_set():
                return
            self.stopped.set()
        for window in self.report_windows:
            window.join(5)  # they watch self.stopped
        self._picture_wanted.set()  # the updater sees self.stopped and ends
        if self._updater.is_alive():
            self._updater.join(5)
        if self.icon is not None:
            self.icon.stop()
        self.bridge.stop()
        if self.instance is not None:
            self.instance.release()

    def on_command(self, command: str) -> None:
        """A second launch: ``show`` tells the status; ``quiet`` (started at login) nothing."""
        if command == "show":
            self.show_status()

    # --- daemon events ---------------------------------------------------------------------

    def _on_change(self, snapshot: Snapshot, event: dict[str, Any] | None) -> None:
        previous, self.snapshot = self.snapshot, snapshot
        self._refresh_icon()
        notes = []
        kind = (event or {}).get("type")
        if kind == "card-inserted":
            notes.append(self.t("notify.inserted"))
        elif kind == "card-removed":
            notes.append(self.t("notify.removed"))
        if snapshot.reason == "state.pin-blocked" and previous.reason != "state.pin-blocked":
            notes.append(self.t("state.pin-blocked"))
        for note in notes:
            # notify-send may take a moment: not on the daemon's event loop.
            threading.Thread(
                target=self.notifier, args=(self.t("app"), note), daemon=True
            ).start()

    # --- running ---------------------------------------------------------------------------

    def start_daemon(self) -> None:
        self.bridge.start()
        log.info("eID bridge listening on %s", ", ".join(self.bridge.addresses))
        if self.instance is not None:
            self.instance.serve(self.on_command)

    def create_icon(self) -> Any:
        import pystray  # type: ignore[import-untyped,unused-ignore]

        self._shown_state = self.snapshot.state
        self.icon = pystray.Icon(
            "eid-bridge",
            draw(self.snapshot.state, ICON_SIZE),
            self.title(),
            self.build_menu(),
        )
        self.notifier.icon = self.icon
        self._updater.start()
        return self.icon

    def run(self) -> None:
        """Blocking: the icon's loop on this (main) thread until Quit."""
        self.reconcile_autostart()
        icon = self.icon or self.create_icon()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: threading.Thread(target=self.quit).start())
        icon.run(lambda i: setattr(i, "visible", True))
        self.quit()

    def run_headless(self) -> None:
        """Blocking: the daemon alone until SIGINT/SIGTERM or :meth:`quit`."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stopped.set())
        while not self.stopped.wait(1.0):
            if not self.bridge.running:
                break
        self.quit()
