"""The installers' static files: valid for their tools, and in step with the tray's code."""

from __future__ import annotations

import plistlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bridge.tray.autostart import LAUNCHD_LABEL, RUN_KEY, RUN_VALUE, launchd_plist
from tests.tray.test_autostart import LAUNCHD_KEYS

INSTALLERS = Path(__file__).resolve().parents[2] / "installers"


def test_desktop_entry_validates() -> None:
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (Debian package desktop-file-utils)")
    path = INSTALLERS / "linux" / "eid-bridge.desktop"
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert not result.stdout.strip(), result.stdout  # not even a hint
    assert "Exec=/opt/eid-bridge/bin/eid-bridge tray --autostart\n" in path.read_text()


def test_unit_runs_the_single_instance_program() -> None:
    unit = (INSTALLERS / "linux" / "eid-bridge.service").read_text()
    assert "ExecStart=/opt/eid-bridge/bin/eid-bridge tray --headless --autostart\n" in unit
    assert "WantedBy=default.target" in unit  # a user unit: no multi-user.target


def test_launchd_agent_is_what_the_tray_writes() -> None:
    path = INSTALLERS / "macos" / "be.eidbridge.agent.plist"
    with path.open("rb") as handle:
        data = plistlib.load(handle)  # well-formed
    assert set(data) <= LAUNCHD_KEYS
    assert path.name == f"{data['Label']}.plist"
    assert data["Label"] == LAUNCHD_LABEL
    # The installer's file and the "Start at login" item's file are the same agent.
    assert data == plistlib.loads(launchd_plist(data["ProgramArguments"]))
    assert data["ProgramArguments"][1:] == ["tray", "--autostart"]


def test_inno_setup_writes_and_removes_the_run_value() -> None:
    script = (INSTALLERS / "windows" / "eid-bridge.iss").read_text()
    assert "PrivilegesRequired=lowest" in script  # per-user, no administrator
    assert f'#define RunValue "{RUN_VALUE}"' in script
    entries = [line for line in script.splitlines() if line.startswith("Root: HKCU")]
    assert len(entries) == 2
    for entry in entries:
        assert f'Subkey: "{RUN_KEY}"' in entry
        assert 'ValueName: "{#RunValue}"' in entry
        assert "uninsdeletevalue" in entry
    assert 'ValueData: """{app}\\eid-bridge.exe"" tray --autostart"' in entries[0]
    version = re.search(r'#define AppVersion "(.*)"', script)
    pyproject = (INSTALLERS.parent / "pyproject.toml").read_text()
    assert version is not None
    assert f'version = "{version.group(1)}"' in pyproject


def test_scripts_are_executable_and_parse() -> None:
    for script in ("linux/build-deb", "macos/build-pkg", "pyinstaller/build-frozen"):
        path = INSTALLERS / script
        assert path.stat().st_mode & 0o111
        subprocess.run(["bash", "-n", str(path)], check=True)
