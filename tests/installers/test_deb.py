"""The .deb: built with dpkg-deb, unpacked into a fresh root, that tree mounted on
/opt/eid-bridge in a private mount namespace, its unit verified and its ExecStart run."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for tool in ("dpkg-deb", "/usr/bin/python3.11"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is needed to build the .deb")
    out = tmp_path_factory.mktemp("deb")
    built = subprocess.run(
        [str(REPO / "installers" / "linux" / "build-deb"), str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return target


def test_package_metadata(deb: Path) -> None:
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "Package: eid-bridge" in fields
    assert "pcscd" in fields
    assert "python3 (>= 3.11)" in fields
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    for path in (
        "./usr/lib/systemd/user/eid-bridge.service",
        "./etc/xdg/autostart/eid-bridge.desktop",
        "./opt/eid-bridge/bin/eid-bridge",
        "./usr/share/icons/hicolor/48x48/apps/eid-bridge.png",
    ):
        assert path in listing


def in_namespace(root: Path, script: str, **kwargs: object) -> subprocess.Popen[str]:
    """Run ``script`` where /opt/eid-bridge is the unpacked package (the host's /opt is
    covered by a private tmpfs, so nothing of the host's is changed or seen)."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("a private mount namespace needs unshare as root")
    setup = (
        "set -e; mount -t tmpfs tmpfs /opt; mkdir /opt/eid-bridge; "
        f"mount --bind {shlex.quote(str(root / 'opt' / 'eid-bridge'))} /opt/eid-bridge; "
    )
    process: subprocess.Popen[str] = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup + script],
        text=True, **kwargs,  # type: ignore[call-overload]
    )
    return process


def test_unit_verifies(root: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    unit = root / "usr" / "lib" / "systemd" / "user" / "eid-bridge.service"
    process = in_namespace(
        root, f"systemd-analyze verify --man=no {shlex.quote(str(unit))}",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "eid-bridge" not in output, output  # no warning about our unit


def test_exec_start_serves_hello(root: Path, tmp_path: Path) -> None:
    unit = (root / "usr" / "lib" / "systemd" / "user" / "eid-bridge.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    command = exec_start.removeprefix("ExecStart=")
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "EID_BRIDGE_CONFIG_DIR": str(tmp_path / "config"),
        "EID_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "EID_BRIDGE_CACHE_DIR": str(tmp_path / "cache"),
        "EID_BRIDGE_LOG_DIR": str(tmp_path / "log"),
        "EID_BRIDGE_RUNTIME_DIR": str(tmp_path / "run"),
    }
    (tmp_path / "run").mkdir()
    process = in_namespace(
        root, f"exec {command} --port {port}", env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        hello = None
        while hello is None:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/v1/hello", timeout=2
                ) as answer:
                    hello = json.load(answer)
            except OSError:
                assert time.monotonic() < deadline, "the installed daemon never answered"
                time.sleep(0.3)
        assert hello["name"] == "eid-bridge"
        assert hello["apiVersion"] == "1.0"
        assert (tmp_path / "log" / "eid-bridge.log").exists()
    finally:
        process.terminate()
        process.wait(20)
    assert process.returncode == 0
