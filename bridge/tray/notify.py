"""Desktop notifications: pystray's where the backend has them (Windows, macOS),
``notify-send`` on Linux (pystray's X backends have none), else the log."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from typing import Any

log = logging.getLogger(__name__)


class Notifier:
    def __init__(
        self,
        icon: Any = None,
        *,
        platform: str = sys.platform,
        notify_send: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.icon = icon
        self.platform = platform
        self.notify_send = notify_send if notify_send is not None else shutil.which("notify-send")
        self.env = env
        self.sent: list[tuple[str, str, str]] = []
        """(channel, title, message) of every notification, newest last (status and tests)."""

    def __call__(self, title: str, message: str) -> str:
        """Show the notification; returns the channel used: pystray, notify-send or log."""
        channel = self._send(title, message)
        self.sent.append((channel, title, message))
        return channel

    def _send(self, title: str, message: str) -> str:
        if self.platform.startswith("linux"):
            if self.notify_send:
                try:
                    subprocess.run(
                        [self.notify_send, "--app-name=eID bridge", "--icon=eid-bridge",
                         title, message],
                        check=True, timeout=5, capture_output=True, env=self.env,
                    )
                    return "notify-send"
                except (OSError, subprocess.SubprocessError) as exc:
                    # No notification server (a bare X session): the log still has it.
                    log.debug("notify-send failed: %s", exc)
        elif self.icon is not None and getattr(self.icon, "HAS_NOTIFICATION", False):
            try:
                self.icon.notify(message, title)
                return "pystray"
            except Exception as exc:
                log.debug("the tray's notification failed: %s", exc)
        log.info("notification: %s: %s", title, message)
        return "log"
