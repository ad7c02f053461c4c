"""The ``eid-bridge`` command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.services import Pcscd


def run(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = dict(
        os.environ,
        EID_BRIDGE_DATA_DIR=str(tmp_path / "data"),
        EID_BRIDGE_CACHE_DIR=str(tmp_path / "cache"),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_card_read_masks_the_national_number(tmp_path: Path) -> None:
    result = run("card", "read", "--json", "--virtual", "citizen-1.7", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["holder"]["national_number"] == "85.07.30-***.**"
    assert "85073003328" not in result.stdout
    assert data["holder"]["surname"] == "Peeters"
    assert data["integrity"] == "verified"
    assert data["certificates"]["authentication"]["subject"] == "Jan Peeters (Authentication)"

    shown = run(
        "card", "read", "--json", "--show-nn", "--virtual", "citizen-1.7", tmp_path=tmp_path
    )
    assert json.loads(shown.stdout)["holder"]["national_number"] == "85073003328"


def test_pin_status_of_a_blocked_card(tmp_path: Path) -> None:
    result = run("card", "pin-status", "--json", "--virtual", "blocked-pin-1.8", tmp_path=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"tries_left": 0, "blocked": True}
    ok = run("card", "pin-status", "--virtual", "one-try-left-1.7", tmp_path=tmp_path)
    assert ok.returncode == 0
    assert ok.stdout.strip() == "PIN: 1 attempt(s) left"


def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    result = run("card", "read", "--virtual", "nonsense", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "citizen-1.8" in result.stderr  # it lists what exists


@pytest.mark.pcsc
def test_no_card_message_in_each_language(pcscd: Pcscd, tmp_path: Path) -> None:
    texts = {
        "en": "Insert your eID card",
        "fr": "Insérez votre carte eID",
        "nl": "Steek uw eID-kaart",
    }
    for lang, text in texts.items():
        result = run(
            "--lang", lang, "--reader", "Virtual PCD 00 00", "card", "read", tmp_path=tmp_path
        )
        assert result.returncode == 1
        assert "NO_CARD" in result.stderr
        assert text in result.stderr


@pytest.mark.pcsc
def test_demo_reads_the_virtual_card_through_pcscd(pcscd: Pcscd, tmp_path: Path) -> None:
    result = run("demo", "--once", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "inserted the virtual card 'citizen-1.8'" in result.stdout
    assert "integrity: verified" in result.stdout
    assert "PIN: 3 attempt(s) left" in result.stdout
    assert "90.02.15-***.**" in result.stdout


def test_validate_reports_each_certificate(tmp_path: Path) -> None:
    good = run("card", "validate", "--json", "--virtual", "citizen-1.7", tmp_path=tmp_path)
    assert good.returncode == 0, good.stderr
    verdicts = json.loads(good.stdout)
    assert verdicts["authentication"]["status"] == "valid"
    assert verdicts["signature"]["status"] == "valid"

    revoked = run(
        "--lang", "nl", "card", "validate", "--json", "--virtual", "revoked-1.8", tmp_path=tmp_path
    )
    assert revoked.returncode == 1
    verdicts = json.loads(revoked.stdout)
    assert verdicts["authentication"]["status"] == "revoked"
    assert verdicts["authentication"]["code"] == "CERT_REVOKED"
    assert "gemeente" in verdicts["authentication"]["message"]

    expired = run("card", "validate", "--json", "--virtual", "expired-1.8", tmp_path=tmp_path)
    assert json.loads(expired.stdout)["signature"]["status"] == "expired"


def test_run_status_and_origins(tmp_path: Path) -> None:
    """The daemon as a user starts it: listens, answers ``status``, stops on SIGTERM."""
    env = dict(
        os.environ,
        EID_BRIDGE_DATA_DIR=str(tmp_path / "data"),
        EID_BRIDGE_CACHE_DIR=str(tmp_path / "cache"),
        EID_BRIDGE_CONFIG_DIR=str(tmp_path / "config"),
        EID_BRIDGE_CONFIG=str(tmp_path / "config" / "settings.toml"),
        EID_BRIDGE_PORT="0",
    )
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge.cli",
            "run",
            "--virtual",
            "citizen-1.8",
            "--ui",
            "console",
            "--allow",
            "https://portal.example",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert daemon.stdout is not None
        site = daemon.stdout.readline()
        assert "demo site: open http://127.0.0.1:8480/" in site, daemon.stderr
        first = daemon.stdout.readline()
        assert "eID bridge listening on http://127.0.0.1:" in first, daemon.stderr
        allowed = daemon.stdout.readline()
        assert "https://portal.example" in allowed
        assert "http://127.0.0.1:8480" in allowed
        with urllib.request.urlopen("http://127.0.0.1:8480/", timeout=5) as page:
            assert b"eid-bridge.js" in page.read()
        status = run(
            "status",
            "--json",
            tmp_path=tmp_path,
            **{"EID_BRIDGE_CONFIG_DIR": env["EID_BRIDGE_CONFIG_DIR"], "EID_BRIDGE_PORT": "0"},
        )
        assert status.returncode == 0, status.stderr
        answer = json.loads(status.stdout)
        assert f":{answer['port']}" in first
        assert answer["hello"]["tokenFormat"] == "web-eid:1.0"
        (reader,) = answer["status"]["readers"]
        assert reader["card"] == "belpic-1.8"
        assert "Peeters" not in status.stdout  # status never carries personal data
    finally:
        daemon.terminate()
        out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "stopped" in out
    # Stopped: status says so, in the user's language, with exit code 3.
    gone = run("--lang", "fr", "status", tmp_path=tmp_path, EID_BRIDGE_PORT="1")
    assert gone.returncode == 3
    assert "ne fonctionne pas" in gone.stderr

    listed = run(
        "origins",
        "list",
        tmp_path=tmp_path,
        EID_BRIDGE_CONFIG_DIR=env["EID_BRIDGE_CONFIG_DIR"],
        EID_BRIDGE_ALLOWED_ORIGINS="https://portal.example",
    )
    assert "https://portal.example (settings)" in listed.stdout
    refused = run(
        "origins",
        "revoke",
        "https://never.example",
        tmp_path=tmp_path,
        EID_BRIDGE_CONFIG_DIR=env["EID_BRIDGE_CONFIG_DIR"],
    )
    assert refused.returncode == 2
    assert "origins list" in refused.stderr
    dutch = run("--lang", "nl", "origins", "revoke", "https://never.example", tmp_path=tmp_path,
                EID_BRIDGE_CONFIG_DIR=env["EID_BRIDGE_CONFIG_DIR"])
    assert "staat niet bij de sites" in dutch.stderr


@pytest.mark.pcsc
def test_demo_explains_a_port_already_taken(pcscd: Pcscd, tmp_path: Path) -> None:
    """A second demo (or anything on the portal's port) gets a message, not a traceback."""
    import socket

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 8480))
        holder.listen()
        result = run("--lang", "fr", "demo", tmp_path=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "Une autre démo tourne-t-elle encore" in result.stderr
    assert "8480" in result.stderr
    assert "Traceback" not in result.stderr
