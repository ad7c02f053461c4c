"""A provider that answers from a script: for tests of the daemon and its operations.

    ui = ScriptedUI(pins=["0000", "1234"], consent=True, approve=True)
    ... run the operation ...
    assert [r.tries_left for r in ui.pin_requests] == [3, 2]

Answers are used in order; a list that runs out answers "cancel" (``None``/``False``), as a
user closing the dialog would. Every request is recorded, so a test can check what the user
was shown. Safe to call from several threads; ``cancel`` is honoured at once, also while
a scripted delay runs or when the scripted user never answers.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Generic, Literal, TypeAlias, TypeVar

from bridge.ui.base import ConsentRequest, OriginApproval, PinRequest

Request: TypeAlias = OriginApproval | ConsentRequest | PinRequest
T = TypeVar("T")
CallKind: TypeAlias = Literal["approve_origin", "consent", "ask_pin", "pinpad_prompt"]


class _Answers(Generic[T]):
    """Answers used in order; ``otherwise`` once they run out (with no list: always)."""

    def __init__(self, items: Iterable[T], otherwise: T) -> None:
        self.items = deque(items)
        self.otherwise = otherwise

    @classmethod
    def of(cls, script: bool | Iterable[bool]) -> _Answers[bool]:
        return _Answers([], script) if isinstance(script, bool) else _Answers(script, False)

    def next(self) -> T:
        return self.items.popleft() if self.items else self.otherwise


class ScriptedUI:
    """Scripted answers; ``never_answer`` plays a user who walks away (the call returns
    only when ``cancel`` is set), ``delay`` a user who takes ``delay`` seconds per answer."""

    def __init__(
        self,
        *,
        pins: Iterable[str | None] = (),
        consent: bool | Iterable[bool] = True,
        approve: bool | Iterable[bool] = True,
        delay: float = 0.0,
        never_answer: bool = False,
    ) -> None:
        self._pins: _Answers[str | None] = _Answers(pins, None)
        self._consent = _Answers.of(consent)
        self._approve = _Answers.of(approve)
        self.delay = delay
        self.never_answer = never_answer
        self._lock = threading.Condition()
        self.calls: list[tuple[CallKind, Request]] = []
        """Every call in order: which method, with which request."""
        self.cancelled = 0
        """Calls that ended because ``cancel`` was set."""
        self.pinpad_active = threading.Event()
        """Set while a PIN-pad notice is "shown" (inside the context)."""

    # --- what the user was shown -----------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return [request for _, request in self.calls]

    def _of_kind(self, kind: CallKind) -> list[Request]:
        with self._lock:
            return [request for k, request in self.calls if k == kind]

    @property
    def pin_requests(self) -> list[PinRequest]:
        return [r for r in self._of_kind("ask_pin") if isinstance(r, PinRequest)]

    @property
    def pinpad_prompts(self) -> list[PinRequest]:
        return [r for r in self._of_kind("pinpad_prompt") if isinstance(r, PinRequest)]

    @property
    def consent_requests(self) -> list[ConsentRequest]:
        return [r for r in self._of_kind("consent") if isinstance(r, ConsentRequest)]

    @property
    def approvals(self) -> list[OriginApproval]:
        return [r for r in self._of_kind("approve_origin") if isinstance(r, OriginApproval)]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` calls arrived (a test that wants to act while the
        "dialog" is open); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.calls) >= count, timeout)

    # --- the provider ----------------------------------------------------------------------

    def _record(self, kind: CallKind, request: Request) -> None:
        with self._lock:
            self.calls.append((kind, request))
            self._lock.notify_all()

    def _user_answers(self, cancel: threading.Event) -> bool:
        """Play the user's thinking time; False when ``cancel`` ended it first."""
        if self.never_answer:
            cancel.wait()
        elif self.delay > 0:
            cancel.wait(self.delay)
        if cancel.is_set():
            with self._lock:
                self.cancelled += 1
            return False
        return True

    def _answer(self, answers: _Answers[T]) -> T:
        with self._lock:
            return answers.next()

    def approve_origin(self, request: OriginApproval, cancel: threading.Event) -> bool:
        self._record("approve_origin", request)
        return self._user_answers(cancel) and self._answer(self._approve)

    def consent(self, request: ConsentRequest, cancel: threading.Event) -> bool:
        self._record("consent", request)
        return self._user_answers(cancel) and self._answer(self._consent)

    def ask_pin(self, request: PinRequest, cancel: threading.Event) -> str | None:
        self._record("ask_pin", request)
        if not self._user_answers(cancel):
            return None
        return self._answer(self._pins)

    @contextlib.contextmanager
    def pinpad_prompt(self, request: PinRequest, cancel: threading.Event) -> Iterator[None]:
        self._record("pinpad_prompt", request)
        self.pinpad_active.set()
        try:
            yield
        finally:
            self.pinpad_active.clear()
