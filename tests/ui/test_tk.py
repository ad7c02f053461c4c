"""The Tk dialogs on a real (virtual) X screen: opened from a worker thread as the daemon's
card worker does, answered with real key presses through xdotool."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import threading
import time
import tkinter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

import pytest

from bridge.config import Settings
from bridge.ui import FallbackUI, choose_ui
from bridge.ui.base import ConsentRequest, KeyChoice, Operation, OriginApproval, PinRequest
from bridge.ui.console import ConsoleUI
from bridge.ui.errors import UiUnavailable
from bridge.ui.texts import text
from bridge.ui.tk import DANGER, TkUI
from tests.ui.xvfb import XMissing, Xvfb

T = TypeVar("T")
ORIGIN = "https://portal.syndic.example:8443"
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.fixture(scope="module")
def screen() -> Iterator[Xvfb]:
    server = Xvfb()
    try:
        server.start()
    except XMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the dialog tests: {exc}")
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def ui(screen: Xvfb) -> Iterator[TkUI]:
    provider = TkUI(screen=screen.display, input_delay=0, timeout=20)
    yield provider
    provider.close()


def in_worker(call: Callable[[], T]) -> Future[T]:
    """Run ``call`` on another thread, as the daemon's card worker calls the provider."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def sign_request(language: str = "en", tries: int | None = 3, **changes: object) -> PinRequest:
    values: dict[str, object] = {
        "label": "Management contract 2024-17\nResidence Les Tilleuls, Rue de la Loi 16, Brussels",
        "digest_hex": DIGEST,
        "tries_left": tries,
    }
    values.update(changes)
    return PinRequest(ORIGIN, Operation.SIGN, KeyChoice.SIGNATURE, language, **values)  # type: ignore[arg-type]


def test_pin_typed_into_the_dialog(ui: TkUI, screen: Xvfb) -> None:
    answer = in_worker(lambda: ui.ask_pin(sign_request(), threading.Event()))
    view = ui.wait_for_view(ready=True)
    window = screen.find_window("Sign with your eID card")
    assert screen.xdotool("getwindowname", str(window)).strip() == view.title
    assert view.title == "Sign with your eID card – eID bridge"
    assert view.text("host") == "portal.syndic.example"
    assert view.parts["host"].bold
    assert view.text("origin") == ORIGIN
    assert view.text("label") == (
        "Management contract 2024-17\nResidence Les Tilleuls, Rue de la Loi 16, Brussels"
    )
    assert view.text("digest").startswith("9f86 d081 884c 7d65")
    assert view.text("tries_left") == "Tries left: 3"
    assert "last_try" not in view.parts
    assert not view.ok_enabled
    screen.type("1234")
    screen.key("Return")
    assert answer.result(10) == "1234"
    assert ui.wait_closed()


def test_only_digits_and_at_most_twelve(ui: TkUI, screen: Xvfb) -> None:
    answer = in_worker(lambda: ui.ask_pin(sign_request(), threading.Event()))
    ui.wait_for_view(ready=True)
    screen.find_window("Sign with your eID card")
    screen.type("12ab-34 x")
    screen.key("KP_5")  # the keypad's digits are digits too
    screen.type("67890123456")
    screen.key("Return")
    assert answer.result(10) == "123456789012"


def test_ok_only_from_four_digits(ui: TkUI, screen: Xvfb) -> None:
    answer = in_worker(lambda: ui.ask_pin(sign_request(), threading.Event()))
    ui.wait_for_view(ready=True)
    screen.find_window("Sign with your eID card")
    screen.type("123")
    screen.key("Return")
    time.sleep(0.2)
    view = ui.view
    assert view is not None
    assert view.pin_length == 3
    assert not view.ok_enabled
    assert not answer.done()
    screen.type("4")
    deadline = time.monotonic() + 5
    while not (ui.view and ui.view.ok_enabled) and time.monotonic() < deadline:
        time.sleep(0.02)
    screen.key("KP_Enter")
    assert answer.result(10) == "1234"


def test_escape_cancels(ui: TkUI, screen: Xvfb) -> None:
    answer = in_worker(lambda: ui.ask_pin(sign_request(), threading.Event()))
    ui.wait_for_view(ready=True)
    screen.find_window("Sign with your eID card")
    screen.type("12")
    screen.key("Escape")
    assert answer.result(10) is None


def test_cancel_event_closes_the_dialog_quickly(ui: TkUI, screen: Xvfb) -> None:
    cancel = threading.Event()
    answer = in_worker(lambda: ui.ask_pin(sign_request(), cancel))
    ui.wait_for_view(ready=True)
    screen.find_window("Sign with your eID card")
    screen.type("12")
    started = time.monotonic()
    cancel.set()
    assert answer.result(5) is None
    # Promptly, not at the dialog's own timeout (minutes); the bound leaves room for a
    # loaded CI machine, where the Tk thread was once seen waiting 1.2 s for the CPU.
    assert time.monotonic() - started < 3
    assert ui.wait_closed(2)


def test_timeout_closes_the_dialog(screen: Xvfb) -> None:
    ui = TkUI(screen=screen.display, input_delay=0, timeout=0.6)
    try:
        started = time.monotonic()
        answer = in_worker(
            lambda: ui.consent(ConsentRequest(ORIGIN, Operation.IDENTITY), threading.Event())
        )
        assert answer.result(10) is False
        assert 0.6 <= time.monotonic() - started < 3
        assert ui.dialogs_shown == 1
    finally:
        ui.close()


def test_consent_with_the_keyboard(ui: TkUI, screen: Xvfb) -> None:
    request = ConsentRequest(ORIGIN, Operation.IDENTITY, "nl", holder="Jan Peeters")
    yes = in_worker(lambda: ui.consent(request, threading.Event()))
    view = ui.wait_for_view(ready=True)
    screen.find_window("Uw identiteitsgegevens delen")
    assert view.text("ask").startswith("vraagt om uw identiteit")
    assert view.text("holder") == "Kaarthouder: Jan Peeters"
    assert (view.text("button_ok"), view.text("button_cancel")) == ("Toestaan", "Weigeren")
    screen.key("Return")
    assert yes.result(10) is True
    ui.wait_closed()

    no = in_worker(lambda: ui.consent(request, threading.Event()))
    ui.wait_for_view(ready=True)
    screen.find_window("Uw identiteitsgegevens delen")
    screen.key("Escape")
    assert no.result(10) is False
    ui.wait_closed()

    tabbed = in_worker(lambda: ui.consent(request, threading.Event()))
    ui.wait_for_view(ready=True)
    screen.find_window("Uw identiteitsgegevens delen")
    screen.key("Tab", "Return")  # from Allow to Deny, then Enter presses Deny
    assert tabbed.result(10) is False


def test_origin_approval(ui: TkUI, screen: Xvfb) -> None:
    answer = in_worker(
        lambda: ui.approve_origin(OriginApproval("https://new.example", "fr"), threading.Event())
    )
    view = ui.wait_for_view(ready=True)
    screen.find_window("Autoriser un site")
    assert view.text("host") == "new.example"
    assert view.text("ask") == (
        "Autoriser https://new.example à utiliser votre carte eID via le pont eID ?"
    )
    assert "plus tard" in view.text("revoke")
    screen.key("Return")
    assert answer.result(10) is True


@pytest.mark.parametrize(("tries", "warned"), [(1, True), (2, False), (None, False)])
def test_last_try_warning(ui: TkUI, screen: Xvfb, tries: int | None, warned: bool) -> None:
    request = sign_request("fr", tries=tries, previous_error="Code PIN erroné.")
    answer = in_worker(lambda: ui.ask_pin(request, threading.Event()))
    view = ui.wait_for_view(ready=True)
    assert view.text("previous_error") == "Code PIN erroné."
    assert ("last_try" in view.parts) is warned
    if warned:
        warning = view.parts["last_try"]
        assert warning.text == text("pin.last_try", "fr")
        assert warning.bold
        assert warning.color == DANGER
    if tries is None:
        assert "tries_left" not in view.parts
    screen.key("Escape")
    assert answer.result(10) is None


def test_keys_typed_before_the_input_delay_are_ignored(screen: Xvfb) -> None:
    ui = TkUI(screen=screen.display, input_delay=1.0, timeout=20)
    try:
        answer = in_worker(lambda: ui.ask_pin(sign_request(), threading.Event()))
        view = ui.wait_for_view()
        screen.find_window("Sign with your eID card")
        assert not view.ready
        screen.type("9999")  # typing meant for another window, then Enter
        screen.key("Return")
        time.sleep(0.2)
        assert not answer.done()
        view = ui.wait_for_view(ready=True)
        assert view.pin_length == 0
        screen.type("1234")
        screen.key("Return")
        assert answer.result(10) == "1234"
    finally:
        ui.close()


def test_label_is_plain_text(ui: TkUI, screen: Xvfb) -> None:
    label = "<b>Pay</b> {amount} \x1b[31m€ 10\u202e\u200b\n" + "more " * 200
    answer = in_worker(lambda: ui.ask_pin(sign_request(label=label), threading.Event()))
    view = ui.wait_for_view(ready=True)
    first, second = view.text("label").split("\n")
    assert first == "<b>Pay</b> {amount} [31m€ 10"
    assert second.endswith("…")
    assert len(view.text("label")) <= 300
    screen.key("Escape")
    assert answer.result(10) is None


def test_pinpad_notice_follows_the_context(ui: TkUI, screen: Xvfb) -> None:
    request = sign_request(pinpad=True, tries=2)
    with ui.pinpad_prompt(request, threading.Event()):
        view = ui.wait_for_view()
        assert view.kind == "pinpad"
        assert view.text("pinpad") == "Enter your PIN on the reader's keypad."
        assert view.text("tries_left") == "Tries left: 2"
        assert "pin_prompt" not in view.parts
        assert "button_ok" not in view.parts
        screen.find_window("Sign with your eID card")
        screen.key("Escape")  # nothing to cancel: the reader waits for the PIN
        time.sleep(0.2)
        assert ui.view is not None
    assert ui.wait_closed(2)
    with pytest.raises(subprocess.CalledProcessError):  # no such window any more
        screen.xdotool("search", "--name", "Sign with your eID card")


def test_pinpad_notice_closes_on_cancel(ui: TkUI) -> None:
    cancel = threading.Event()
    with ui.pinpad_prompt(sign_request(pinpad=True), cancel):
        ui.wait_for_view()
        cancel.set()
        assert ui.wait_closed(2)


def test_requests_from_two_threads_are_served_one_after_the_other(ui: TkUI, screen: Xvfb) -> None:
    request = ConsentRequest(ORIGIN, Operation.CERTIFICATE)
    answers = [in_worker(lambda: ui.consent(request, threading.Event())) for _ in range(2)]
    for _ in answers:
        ui.wait_for_view(ready=True)
        screen.key("Return")
        assert ui.wait_closed()
    assert [answer.result(10) for answer in answers] == [True, True]
    assert ui.dialogs_shown == 2


def ui_thread_switches(ui: TkUI) -> int:
    assert ui._worker is not None
    thread = ui._worker.thread
    assert thread.native_id is not None
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return sum(
        int(line.split()[1])
        for line in status.splitlines()
        if line.endswith("ctxt_switches") or "ctxt_switches:" in line
    )


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_idle_ui_thread_sleeps_and_tk_objects_die_with_the_dialog(ui: TkUI, screen: Xvfb) -> None:
    answer = in_worker(
        lambda: ui.consent(ConsentRequest(ORIGIN, Operation.IDENTITY), threading.Event())
    )
    ui.wait_for_view(ready=True)
    screen.key("Return")
    assert answer.result(10) is True
    ui.wait_closed()
    time.sleep(0.2)
    before = ui_thread_switches(ui)
    time.sleep(1.0)
    assert ui_thread_switches(ui) == before  # no timer, no polling while idle
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, tkinter.Misc)]


def test_no_display_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    request = sign_request()
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(UiUnavailable, match="DISPLAY"):
        TkUI().ask_pin(request, threading.Event())
    unused = next(n for n in range(60, 90) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    ui = TkUI(screen=f":{unused}")
    try:
        with pytest.raises(UiUnavailable, match="cannot open a window"):
            ui.ask_pin(request, threading.Event())
        with pytest.raises(UiUnavailable):
            ui.probe()
        with pytest.raises(UiUnavailable), ui.pinpad_prompt(request, threading.Event()):
            pass
    finally:
        ui.close()


def test_choose_ui(monkeypatch: pytest.MonkeyPatch, screen: Xvfb) -> None:
    settings = Settings()
    assert isinstance(choose_ui("console", settings), ConsoleUI)
    with pytest.raises(ValueError, match="unknown UI"):
        choose_ui("gtk", settings)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(UiUnavailable):
        choose_ui("tk", settings)
    auto = choose_ui("auto", settings)  # Tk, else the terminal; decided at each request
    assert isinstance(auto, FallbackUI)
    assert isinstance(auto.primary, TkUI)
    assert isinstance(auto.fallback, ConsoleUI)
    monkeypatch.setenv("DISPLAY", screen.display)
    tk = choose_ui("tk", settings)
    assert isinstance(tk, TkUI)
    tk.close()


def test_fallback_when_tk_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.ui.scripted import ScriptedUI

    monkeypatch.delenv("DISPLAY", raising=False)
    spare = ScriptedUI(pins=["1234"], consent=True)
    fallback = FallbackUI(TkUI(), spare)
    assert fallback.ask_pin(sign_request(), threading.Event()) == "1234"
    with fallback.pinpad_prompt(sign_request(pinpad=True), threading.Event()):
        assert spare.pinpad_active.is_set()
    assert len(spare.requests) == 2


@pytest.mark.skipif(sys.platform != "linux", reason="X11 screenshot")
def test_screenshot_of_the_sign_dialog(ui: TkUI, screen: Xvfb, tmp_path: Path) -> None:
    if shutil.which("import") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must take the screenshot: install imagemagick")
        pytest.skip("imagemagick's import is not installed")
    request = sign_request(
        tries=1, previous_error="Wrong PIN. 1 attempt(s) left before the card is blocked."
    )
    answer = in_worker(lambda: ui.ask_pin(request, threading.Event()))
    ui.wait_for_view(ready=True)
    window = screen.find_window("Sign with your eID card")
    screen.type("1234")
    time.sleep(0.1)
    shot = Path(os.environ.get("EID_UI_SCREENSHOT", tmp_path / "pin-dialog.png"))
    screen.run("import", "-window", str(window), str(shot))
    width, height = map(int, screen.run("identify", "-format", "%w %h", str(shot)).split())
    assert 450 <= width <= 800
    assert 400 <= height <= 760
    colors = int(screen.run("identify", "-format", "%k", str(shot)))
    assert colors > 50  # text was drawn, not an empty window
    screen.key("Escape")
    assert answer.result(10) is None
