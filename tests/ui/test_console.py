"""The terminal provider, driven through a pseudo-terminal as a user would answer it.

Each test runs a small Python child whose controlling terminal is the pty's slave side; the
test reads what the child shows and types at its prompt from the master side.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.ui.base import ConsentRequest, KeyChoice, Operation, PinRequest
from bridge.ui.console import ConsoleUI
from bridge.ui.errors import UiUnavailable

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import fcntl, json, os, sys, termios, threading
os.setsid()
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty becomes this process's controlling terminal
from bridge.ui.base import *
from bridge.ui.console import ConsoleUI
cancel = threading.Event()
ui = ConsoleUI(color=False, timeout=TIMEOUT, poll=0.05)
SIGN = PinRequest("https://portal.example:8443", Operation.SIGN, KeyChoice.SIGNATURE,
                  LANGUAGE, label=LABEL, digest_hex="ab" * 32, tries_left=TRIES)
"""

EPILOGUE = """
echo = bool(termios.tcgetattr(0)[3] & termios.ECHO)
with open(sys.argv[1], "w") as out:
    json.dump({"result": result, "echo": echo}, out)
"""


class PtyChild:
    def __init__(
        self,
        body: str,
        tmp_path: Path,
        *,
        language: str = "en",
        tries: int | None = 2,
        label: str = "Contract 17",
        timeout: float = 20.0,
    ) -> None:
        prelude = (
            PRELUDE.replace("TIMEOUT", repr(timeout))
            .replace("LANGUAGE", repr(language))
            .replace("LABEL", repr(label))
            .replace("TRIES", repr(tries))
        )
        code = prelude + textwrap.dedent(body) + EPILOGUE
        self.result_file = tmp_path / "result.json"
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.result_file)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT), TERM="dumb"),
        )
        os.close(slave)
        self.transcript = ""
        self.seen = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        # The terminal turns "\n" into "\r\n" (onlcr).
        self.transcript += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        return True

    def expect(self, marker: str, timeout: float = 10.0) -> str:
        """Everything shown up to ``marker``'s next occurrence (not one seen before)."""
        deadline = time.monotonic() + timeout
        while (found := self.transcript.find(marker, self.seen)) < 0:
            if time.monotonic() > deadline or not self._read(0.1):
                raise AssertionError(f"never saw {marker!r}; got:\n{self.transcript}")
        self.seen = found + len(marker)
        return self.transcript[: self.seen]

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 10.0) -> dict[str, Any]:
        self.proc.wait(timeout)
        while self._read(0.05):
            if self.proc.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                break
        os.close(self.master)
        assert self.proc.returncode == 0, self.transcript
        result: dict[str, Any] = json.loads(self.result_file.read_text())
        return result


def test_pin_is_read_without_echo(tmp_path: Path) -> None:
    child = PtyChild("result = ui.ask_pin(SIGN, cancel)", tmp_path)
    shown = child.expect("PIN code: ")
    assert "https://portal.example:8443" in shown
    assert "asks you to sign" in shown
    assert "Contract 17" in shown
    assert "abab abab" in shown
    assert "Tries left: 2" in shown
    assert "Last try" not in shown
    child.send("1234\n")
    answer = child.finish()
    assert answer == {"result": "1234", "echo": True}
    after_prompt = child.transcript.split("PIN code: ", 1)[1]
    assert "1234" not in after_prompt


def test_badly_formed_pin_is_asked_again(tmp_path: Path) -> None:
    child = PtyChild("result = ui.ask_pin(SIGN, cancel)", tmp_path, language="fr", tries=1)
    shown = child.expect("Code PIN : ")
    assert "Dernier essai : un code PIN erroné bloque maintenant votre carte." in shown
    assert "Essais restants : 1" in shown
    child.send("12a\n")
    child.expect("compte de 4 à 12 chiffres.\nCode PIN : ")
    child.send("56789\n")
    assert child.finish()["result"] == "56789"
    assert "12a" not in child.transcript
    assert "56789" not in child.transcript


def test_empty_line_cancels_the_pin(tmp_path: Path) -> None:
    child = PtyChild("result = ui.ask_pin(SIGN, cancel)", tmp_path)
    child.expect("PIN code: ")
    child.send("\n")
    assert child.finish() == {"result": None, "echo": True}


@pytest.mark.parametrize(
    ("language", "answer", "expected"),
    [
        ("en", "y", True),
        ("fr", "oui", True),
        ("nl", "J", True),
        ("en", "n", False),
        ("fr", "", False),
    ],
)
def test_consent_yes_or_no(tmp_path: Path, language: str, answer: str, expected: bool) -> None:
    body = """
    request = ConsentRequest("https://portal.example", Operation.IDENTITY, LANGUAGE)
    result = ui.consent(request, cancel)
    """.replace("LANGUAGE", repr(language))
    child = PtyChild(body, tmp_path)
    child.expect("[")
    child.expect("] ")
    child.send(answer + "\n")
    assert child.finish()["result"] is expected
    assert answer in child.transcript  # a yes/no answer is echoed


def test_unclear_answer_is_asked_again_and_origin_question(tmp_path: Path) -> None:
    body = """
    result = ui.approve_origin(OriginApproval("https://new.example", "en"), cancel)
    """
    child = PtyChild(body, tmp_path)
    shown = child.expect("[y/N] ")
    assert "Allow https://new.example to use your eID card through the eID bridge?" in shown
    assert "revoke this later" in shown
    child.send("maybe\n")
    child.expect("maybe")
    child.expect("[y/N] ")
    child.send("yes\n")
    assert child.finish()["result"] is True


def test_cancel_closes_the_waiting_prompt(tmp_path: Path) -> None:
    body = """
    import time
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    result = [ui.ask_pin(SIGN, cancel), time.monotonic() - started]
    """
    child = PtyChild(body, tmp_path)
    child.expect("PIN code: ")
    answer = child.finish()
    pin, waited = answer["result"]
    assert pin is None
    assert 0.4 < waited < 2
    assert answer["echo"] is True  # the terminal is back to normal
    child.expect("(the request was cancelled)")


def test_timeout_closes_the_prompt(tmp_path: Path) -> None:
    body = "result = ui.consent(ConsentRequest('https://p.example', Operation.CERTIFICATE), cancel)"
    child = PtyChild(body, tmp_path, timeout=0.3)
    child.expect("[y/N] ")
    assert child.finish()["result"] is False


def test_keys_typed_before_the_prompt_do_not_answer(tmp_path: Path) -> None:
    body = """
    import time
    time.sleep(0.5)  # the user types while the bridge is busy
    result = ui.ask_pin(SIGN, cancel)
    """
    child = PtyChild(body, tmp_path, timeout=1.0)
    child.send("9999\n")
    child.expect("PIN code: ")
    assert child.finish()["result"] is None  # flushed, then the prompt timed out


def test_label_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    label = "Invoice\x1b]0;owned\x07\x1b[2J 42\u202e"
    child = PtyChild("result = ui.ask_pin(SIGN, cancel)", tmp_path, label=label)
    child.expect("PIN code: ")
    child.send("1234\n")
    child.finish()
    assert "\x1b" not in child.transcript
    assert "\u202e" not in child.transcript
    assert "Invoice]0;owned[2J 42" in child.transcript


def test_pinpad_notice(tmp_path: Path) -> None:
    body = """
    with ui.pinpad_prompt(SIGN, cancel):
        result = "inside"
    """
    child = PtyChild(body, tmp_path)
    child.expect("Enter your PIN on the reader's keypad.")
    assert child.finish()["result"] == "inside"


def test_no_controlling_terminal_refuses(tmp_path: Path) -> None:
    code = """
import json, sys, threading
from bridge.ui.base import *
from bridge.ui.console import ConsoleUI
from bridge.ui.errors import UiUnavailable
ui = ConsoleUI()
request = PinRequest("https://p.example", Operation.AUTHENTICATE, KeyChoice.AUTHENTICATION)
results = [ui.ask_pin(request, threading.Event()),
           ui.consent(ConsentRequest("https://p.example", Operation.IDENTITY), threading.Event())]
try:
    ConsoleUI(raise_unavailable=True).ask_pin(request, threading.Event())
except UiUnavailable as exc:
    results.append(str(exc))
print(json.dumps(results))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        start_new_session=True,  # a new session has no controlling terminal
        stdin=subprocess.DEVNULL,
        timeout=20,
        check=True,
    )
    pin, consent, why = json.loads(done.stdout)
    assert pin is None
    assert consent is False
    assert "no terminal" in why


def test_not_a_terminal_and_cancel_before_the_prompt() -> None:
    request = PinRequest("https://p.example", Operation.AUTHENTICATE, KeyChoice.AUTHENTICATION)
    assert ConsoleUI(tty=os.devnull).ask_pin(request, threading.Event()) is None
    with pytest.raises(UiUnavailable, match="not a terminal"):
        ConsoleUI(tty=os.devnull, raise_unavailable=True).ask_pin(request, threading.Event())
    cancelled = threading.Event()
    cancelled.set()
    ui = ConsoleUI(tty="/nonexistent/tty", raise_unavailable=True)
    assert ui.ask_pin(request, cancelled) is None  # not even looked for a terminal
    assert ui.consent(ConsentRequest("https://p.example", Operation.IDENTITY), cancelled) is False
