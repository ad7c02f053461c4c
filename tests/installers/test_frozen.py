"""The frozen Linux build (PyInstaller) runs ``eid-bridge --version``. About 80 s here."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import __version__

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
@pytest.mark.skipif(
    os.environ.get("EID_BUILD_FROZEN", "1") == "0", reason="EID_BUILD_FROZEN=0 skips freezing"
)
def test_frozen_build_runs(tmp_path: Path) -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (the 'build' extra)")
    env = dict(os.environ, DIST=str(tmp_path / "dist"), WORK=str(tmp_path / "work"))
    built = subprocess.run(
        [str(REPO / "installers" / "pyinstaller" / "build-frozen"), sys.executable],
        capture_output=True, text=True, env=env, timeout=580, check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    binary = tmp_path / "dist" / "eid-bridge" / "eid-bridge"
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == f"eid-bridge {__version__}"
