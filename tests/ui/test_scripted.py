"""The scripted provider the daemon's tests use."""

from __future__ import annotations

import threading
import time

from bridge.ui.base import (
    ConsentRequest,
    KeyChoice,
    Operation,
    OriginApproval,
    PinRequest,
    UserInterface,
)
from bridge.ui.scripted import ScriptedUI

ORIGIN = "https://portal.example"


def pin_request(tries: int | None = 3, error: str | None = None) -> PinRequest:
    return PinRequest(
        ORIGIN,
        Operation.SIGN,
        KeyChoice.SIGNATURE,
        label="Contract 17",
        tries_left=tries,
        previous_error=error,
    )


def test_is_a_user_interface() -> None:
    ui: UserInterface = ScriptedUI()
    assert ui.consent(ConsentRequest(ORIGIN, Operation.IDENTITY), threading.Event())


def test_pins_in_order_and_what_the_user_saw() -> None:
    ui = ScriptedUI(pins=["0000", "1234"])
    cancel = threading.Event()
    assert ui.ask_pin(pin_request(3), cancel) == "0000"
    assert ui.ask_pin(pin_request(2, "Wrong PIN."), cancel) == "1234"
    assert ui.ask_pin(pin_request(1), cancel) is None  # the script ran out: "cancel"
    seen = ui.pin_requests
    assert [r.tries_left for r in seen] == [3, 2, 1]
    assert [r.last_try for r in seen] == [False, False, True]
    assert seen[1].previous_error == "Wrong PIN."
    assert {r.origin for r in seen} == {ORIGIN}
    assert seen[0].label == "Contract 17"
    assert ui.requests == seen


def test_a_none_in_the_script_is_a_cancel() -> None:
    ui = ScriptedUI(pins=[None, "1234"])
    assert ui.ask_pin(pin_request(), threading.Event()) is None
    assert ui.ask_pin(pin_request(), threading.Event()) == "1234"


def test_consent_and_approval_constant_or_listed() -> None:
    cancel = threading.Event()
    request = ConsentRequest(ORIGIN, Operation.CERTIFICATE)
    always = ScriptedUI(consent=True, approve=False)
    assert all(always.consent(request, cancel) for _ in range(3))
    assert not always.approve_origin(OriginApproval(ORIGIN), cancel)
    listed = ScriptedUI(consent=[True, False], approve=[True])
    assert [listed.consent(request, cancel) for _ in range(3)] == [True, False, False]
    assert [listed.approve_origin(OriginApproval(ORIGIN), cancel) for _ in range(2)] == [
        True,
        False,
    ]
    assert [r.operation for r in listed.consent_requests] == [Operation.CERTIFICATE] * 3
    assert [a.origin for a in listed.approvals] == [ORIGIN, ORIGIN]


def test_cancel_set_before_keeps_the_answer_for_later() -> None:
    ui = ScriptedUI(pins=["1234"], consent=[True])
    cancelled = threading.Event()
    cancelled.set()
    assert ui.ask_pin(pin_request(), cancelled) is None
    assert ui.consent(ConsentRequest(ORIGIN, Operation.IDENTITY), cancelled) is False
    assert ui.cancelled == 2
    assert ui.ask_pin(pin_request(), threading.Event()) == "1234"
    assert ui.consent(ConsentRequest(ORIGIN, Operation.IDENTITY), threading.Event())


def test_a_user_who_never_answers_is_released_by_cancel() -> None:
    ui = ScriptedUI(pins=["1234"], never_answer=True)
    cancel = threading.Event()
    results: list[str | None] = []
    worker = threading.Thread(target=lambda: results.append(ui.ask_pin(pin_request(), cancel)))
    worker.start()
    assert ui.wait_for_requests(1)
    time.sleep(0.1)
    assert worker.is_alive()
    started = time.monotonic()
    cancel.set()
    worker.join(2)
    assert results == [None]
    assert time.monotonic() - started < 0.5
    assert ui.cancelled == 1


def test_delay_and_cancel_during_the_delay() -> None:
    ui = ScriptedUI(consent=True, delay=0.2)
    started = time.monotonic()
    assert ui.consent(ConsentRequest(ORIGIN, Operation.IDENTITY), threading.Event())
    assert time.monotonic() - started >= 0.2
    slow = ScriptedUI(consent=True, delay=30)
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    assert not slow.consent(ConsentRequest(ORIGIN, Operation.IDENTITY), cancel)
    assert time.monotonic() - started < 1


def test_thread_safe() -> None:
    pins = [f"{i:04d}" for i in range(200)]
    ui = ScriptedUI(pins=pins)
    got: list[str | None] = []
    lock = threading.Lock()

    def ask() -> None:
        for _ in range(25):
            pin = ui.ask_pin(pin_request(), threading.Event())
            with lock:
                got.append(pin)

    workers = [threading.Thread(target=ask) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert sorted(p for p in got if p is not None) == pins
    assert len(ui.requests) == 200


def test_pinpad_prompt_is_recorded_and_active_inside() -> None:
    ui = ScriptedUI()
    request = PinRequest(ORIGIN, Operation.AUTHENTICATE, KeyChoice.AUTHENTICATION, pinpad=True)
    with ui.pinpad_prompt(request, threading.Event()):
        assert ui.pinpad_active.is_set()
    assert not ui.pinpad_active.is_set()
    assert ui.pinpad_prompts == [request]
    assert ui.pin_requests == []
