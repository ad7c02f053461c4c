"""Start at login: the XDG entry for real, launchd and the Run key as generated content."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.tray.autostart import (
    DESKTOP_FILE,
    LAUNCHD_LABEL,
    LaunchdAutostart,
    WindowsRunKey,
    XdgAutostart,
    default_command,
    desktop_entry,
    desktop_exec,
    for_platform,
    launchd_plist,
    run_key_value,
)

# launchd.plist(5): the keys a per-user agent may carry.
LAUNCHD_KEYS = {
    "Label", "Disabled", "UserName", "GroupName", "inetdCompatibility", "LimitLoadToHosts",
    "LimitLoadFromHosts", "LimitLoadToSessionType", "LimitLoadToHardware",
    "LimitLoadFromHardware", "Program", "ProgramArguments", "EnableGlobbing",
    "EnableTransactions", "EnablePressuredExit", "OnDemand", "ServiceIPC", "KeepAlive",
    "RunAtLoad", "RootDirectory", "WorkingDirectory", "EnvironmentVariables", "Umask",
    "TimeOut", "ExitTimeOut", "ThrottleInterval", "InitGroups", "WatchPaths", "QueueDirectories",
    "StartOnMount", "StartInterval", "StartCalendarInterval", "StandardInPath",
    "StandardOutPath", "StandardErrorPath", "Debug", "WaitForDebugger", "SoftResourceLimits",
    "HardResourceLimits", "Nice", "ProcessType", "AbandonProcessGroup", "LowPriorityIO",
    "LowPriorityBackgroundIO", "MaterializeDatalessFiles", "LaunchOnlyOnce", "MachServices",
    "Sockets", "AssociatedBundleIdentifiers",
}
COMMAND = ["/opt/eid bridge/bin/eid-bridge", "tray", "--autostart"]


def validate_desktop(path: Path) -> None:
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (Debian package desktop-file-utils)")
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not result.stdout.strip(), result.stdout  # not even a hint


def test_xdg_entry_written_and_removed(tmp_path: Path) -> None:
    entry = XdgAutostart(tmp_path / "config", config_dirs=[tmp_path / "etc-xdg"])
    assert not entry.enabled()
    entry.enable(COMMAND)
    path = tmp_path / "config" / "autostart" / DESKTOP_FILE
    assert entry.path == path
    assert entry.describe() == str(path)
    assert entry.enabled()
    assert 'Exec="/opt/eid bridge/bin/eid-bridge" tray --autostart\n' in path.read_text()
    validate_desktop(path)
    entry.disable()
    assert not path.exists()
    assert not entry.enabled()
    entry.disable()  # already off: nothing to do, no error


def test_system_wide_entry_turned_off_for_one_user(tmp_path: Path) -> None:
    system = tmp_path / "etc-xdg" / "autostart" / DESKTOP_FILE
    system.parent.mkdir(parents=True)
    system.write_text(desktop_entry(COMMAND))
    entry = XdgAutostart(tmp_path / "config", config_dirs=[tmp_path / "etc-xdg"])
    assert entry.enabled()  # the installer's entry counts
    entry.disable()
    assert system.exists()  # not the user's to remove
    assert "Hidden=true" in entry.path.read_text()
    assert not entry.enabled()
    validate_desktop(entry.path)
    entry.enable(COMMAND)
    assert entry.enabled()
    assert "Hidden" not in entry.path.read_text()


def test_exec_quoting_follows_the_desktop_entry_spec() -> None:
    assert desktop_exec(["/usr/bin/eid-bridge", "tray"]) == "/usr/bin/eid-bridge tray"
    assert desktop_exec(["/a b/x"]) == '"/a b/x"'
    assert desktop_exec(['/a"$`/x']) == '"/a\\\\"\\\\$\\\\`/x"'
    assert desktop_exec(["/x", "100%"]) == '/x "100%%"'


def test_launchd_agent(tmp_path: Path) -> None:
    data = plistlib.loads(launchd_plist(COMMAND))
    assert set(data) <= LAUNCHD_KEYS
    assert data["Label"] == LAUNCHD_LABEL
    assert data["ProgramArguments"] == COMMAND
    assert data["RunAtLoad"] is True
    agent = LaunchdAutostart(tmp_path / "LaunchAgents")
    assert not agent.enabled()
    agent.enable(COMMAND)
    assert agent.enabled()
    assert plistlib.loads(agent.path.read_bytes()) == data
    assert agent.describe().endswith("be.eidbridge.agent.plist")
    agent.disable()
    assert not agent.enabled()


def test_windows_run_value() -> None:
    assert run_key_value(COMMAND) == '"/opt/eid bridge/bin/eid-bridge" tray --autostart'
    exe = r"C:\Users\Jan Peeters\AppData\Local\Programs\eID bridge\eid-bridge.exe"
    assert run_key_value([exe, "tray"]) == f'"{exe}" tray'
    assert WindowsRunKey().describe().startswith("HKCU\\Software\\Microsoft\\Windows")


def test_platform_choice() -> None:
    assert isinstance(for_platform("linux"), XdgAutostart)
    assert isinstance(for_platform("darwin"), LaunchdAutostart)
    assert isinstance(for_platform("win32"), WindowsRunKey)
    command = default_command()
    assert command[0] == sys.executable
    assert command[-2:] == ["tray", "--autostart"]
