"""``eid-bridge tray`` as a user runs it: without a display it serves the daemon alone; a
second launch hands over to the first and exits 0; SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bridge import __version__


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_headless_single_instance(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    for name in ("config", "data", "cache", "log", "runtime"):
        env[f"EID_BRIDGE_{name.upper()}_DIR"] = str(tmp_path / name)
    port = free_port()
    command = [sys.executable, "-m", "bridge.cli", "tray"]
    first = subprocess.Popen(
        [*command, "--virtual", "citizen-1.8", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert first.poll() is None, first.communicate()[1]
            try:
                url = f"http://127.0.0.1:{port}/v1/status"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    status = json.load(answer)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert status["readers"][0]["cardPresent"] is True
        second = subprocess.run(
            [*command, "--port", str(free_port())], env=env, capture_output=True, text=True,
            timeout=60,
        )
        assert second.returncode == 0
        assert "already running; it was asked to show its status" in second.stderr
        quiet = subprocess.run([*command, "--autostart"], env=env, capture_output=True,
                               text=True, timeout=60)
        assert quiet.returncode == 0
        assert "asked" not in quiet.stderr
        log = (tmp_path / "log" / "eid-bridge.log").read_text()
        assert "running the bridge without the tray icon" in log
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "bridge.cli", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"eid-bridge {__version__}"
