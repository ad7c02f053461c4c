"""Start at login: one interface over the three OS mechanisms.

- Linux: an XDG autostart entry, ``$XDG_CONFIG_HOME/autostart/eid-bridge.desktop``. The
  .deb installs a system-wide one in ``/etc/xdg/autostart``; a user turns that off with a
  per-user copy saying ``Hidden=true`` (the XDG rule), which is what :meth:`disable` writes.
- macOS: a launchd agent, ``~/Library/LaunchAgents/be.eidbridge.agent.plist``.
- Windows: the value ``eID bridge`` under ``HKCU\\Software\\Microsoft\\Windows\\
  CurrentVersion\\Run`` (the Inno Setup installer writes the same value and its uninstaller
  deletes it).

The content of each entry comes from a pure function, so all three are tested on any OS.
"""

from __future__ import annotations

import importlib
import os
import plistlib
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import platformdirs

DESKTOP_FILE = "eid-bridge.desktop"
LAUNCHD_LABEL = "be.eidbridge.agent"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "eID bridge"
APP_NAME = "eID bridge"
COMMENT = "Use your Belgian eID card on websites"


def default_command() -> list[str]:
    """How this installation starts the tray: the frozen executable, or this Python."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "tray", "--autostart"]
    return [sys.executable, "-m", "bridge.cli", "tray", "--autostart"]


# --- content (pure) ----------------------------------------------------------------------

_EXEC_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`%]""")


def _exec_quote(argument: str) -> str:
    """One argument of a desktop entry's Exec key (Desktop Entry spec, "The Exec key")."""
    if argument and not _EXEC_RESERVED.search(argument):
        return argument
    escaped = re.sub(r'(["`$\\])', r"\\\1", argument)
    return f'"{escaped}"'


def desktop_exec(command: Sequence[str]) -> str:
    # A literal percent sign is written %% (field codes start with %); backslashes are then
    # doubled once more because the key's value is itself an escaped string.
    line = " ".join(_exec_quote(arg) for arg in command).replace("%", "%%")
    return line.replace("\\", "\\\\")


def desktop_entry(command: Sequence[str], *, hidden: bool = False) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        f"Name={APP_NAME}",
        "Name[fr]=Pont eID",
        "Name[nl]=eID-brug",
        "Name[de]=eID-Brücke",
        f"Comment={COMMENT}",
        "Comment[fr]=Utiliser votre carte eID belge sur les sites web",
        "Comment[nl]=Uw Belgische eID-kaart gebruiken op websites",
        "Comment[de]=Ihre belgische eID-Karte auf Websites verwenden",
        f"Exec={desktop_exec(command)}",
        "Icon=eid-bridge",
        "Terminal=false",
        "Categories=Utility;",
        "X-GNOME-Autostart-enabled=true",
    ]
    if hidden:
        lines.append("Hidden=true")
    return "\n".join(lines) + "\n"


def launchd_plist(command: Sequence[str], label: str = LAUNCHD_LABEL) -> bytes:
    """A per-user agent run once at login, in the GUI session (the tray needs it)."""
    return plistlib.dumps(
        {
            "Label": label,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},  # restarted after a crash, not after Quit
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
    )


def run_key_value(command: Sequence[str]) -> str:
    """The command line stored in the Run key (Windows quoting rules)."""
    return subprocess.list2cmdline(list(command))


# --- the entries -------------------------------------------------------------------------


class Autostart(Protocol):
    def enabled(self) -> bool: ...

    def enable(self, command: Sequence[str]) -> None: ...

    def disable(self) -> None: ...

    def describe(self) -> str:
        """Where the entry lives (for logs and the docs)."""
        ...


class XdgAutostart:
    def __init__(self, config_home: Path | None = None, config_dirs: Sequence[Path] = ()) -> None:
        self.directory = (
            config_home or Path(platformdirs.user_config_dir(roaming=False))
        ) / "autostart"
        if not config_dirs:
            raw = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
            config_dirs = [Path(p) for p in raw.split(":") if p]
        self.system_dirs = [Path(d) / "autostart" for d in config_dirs]

    @property
    def path(self) -> Path:
        return self.directory / DESKTOP_FILE

    def _system_entry(self) -> Path | None:
        return next((d / DESKTOP_FILE for d in self.system_dirs if (d / DESKTOP_FILE).exists()),
                    None)

    @staticmethod
    def _is_hidden(path: Path) -> bool:
        try:
            content = path.read_text("utf-8")
        except OSError:
            return False
        return bool(re.search(r"^Hidden\s*=\s*true\s*$", content, re.MULTILINE))

    def enabled(self) -> bool:
        if self.path.exists():
            return not self._is_hidden(self.path)
        return self._system_entry() is not None

    def enable(self, command: Sequence[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(desktop_entry(command), "utf-8")

    def disable(self) -> None:
        if self._system_entry() is not None:
            # Removing the user's file would let the system-wide entry start it again.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(desktop_entry(default_command(), hidden=True), "utf-8")
        else:
            self.path.unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.path)


class LaunchdAutostart:
    def __init__(self, agents_dir: Path | None = None) -> None:
        self.directory = agents_dir or Path.home() / "Library" / "LaunchAgents"

    @property
    def path(self) -> Path:
        return self.directory / f"{LAUNCHD_LABEL}.plist"

    def enabled(self) -> bool:
        return self.path.exists()

    def enable(self, command: Sequence[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(launchd_plist(command))

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.path)


def _winreg() -> Any:
    # Imported by name: the module exists on Windows only, and mypy checks this on Linux.
    return importlib.import_module("winreg")


class WindowsRunKey:  # pragma: no cover - exercised on Windows only
    def enabled(self) -> bool:
        winreg = _winreg()

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, RUN_VALUE)
        except OSError:
            return False
        return True

    def enable(self, command: Sequence[str]) -> None:
        winreg = _winreg()

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, run_key_value(command))

    def disable(self) -> None:
        winreg = _winreg()

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, RUN_VALUE)
        except FileNotFoundError:
            pass

    def describe(self) -> str:
        return f"HKCU\\{RUN_KEY}\\{RUN_VALUE}"


def for_platform(platform: str = sys.platform) -> Autostart:
    if platform == "win32":
        return WindowsRunKey()
    if platform == "darwin":
        return LaunchdAutostart()
    return XdgAutostart()
