"""What the tray shows, taken from the daemon running in the same process.

Reader and card changes come from the daemon's :class:`EventHub`, to which the tray
subscribes like a web page does (the hub then runs the reader monitor for as long as the
tray lives: the icon must follow the card without waiting for a page). Busy and "service
down" come from a light poll of the worker and the reader list. A blocked PIN is asked of
the card (``pin_status`` spends no attempt) when a card arrives and after each operation a
page ran, since a wrong PIN typed in a dialog is what blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bridge.card.errors import CardError, PcscUnavailable
from bridge.card.readers import ReaderState
from bridge.service.daemon import Daemon
from bridge.service.errors import Busy
from bridge.service.worker import JobContext
from bridge.tray.icons import TrayState

log = logging.getLogger(__name__)

PIN_CHECK_JOB = "tray: PIN status"


@dataclass(frozen=True)
class Snapshot:
    state: TrayState
    reason: str
    """The ``state.*`` text key that explains the state in the menu's status line."""
    readers: int = 0
    cards: int = 0
    busy: bool = False


STARTING = Snapshot(TrayState.NO_READER, "state.starting")


def classify(readers: list[ReaderState] | None, *, busy: bool, pin_blocked: bool) -> Snapshot:
    """The tray state for these readers (None: the PC/SC service is down)."""
    if readers is None:
        return Snapshot(TrayState.ATTENTION, "state.service-down", busy=busy)
    cards = sum(1 for r in readers if r.card_present)
    if pin_blocked and cards:
        return Snapshot(TrayState.ATTENTION, "state.pin-blocked", len(readers), cards, busy)
    if busy:
        return Snapshot(TrayState.BUSY, "state.busy", len(readers), cards, busy)
    if not readers:
        return Snapshot(TrayState.NO_READER, "state.no-reader", 0, 0)
    if not cards:
        return Snapshot(TrayState.NO_CARD, "state.no-card", len(readers), 0)
    return Snapshot(TrayState.READY, "state.ready", len(readers), cards)


class _Subscriber(web.WebSocketResponse):
    """Stands in the hub's set of sockets for the tray: receives what pages receive."""

    def __init__(self, deliver: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self._deliver = deliver

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        self._deliver(data)

    async def close(
        self, *, code: int = 1000, message: bytes = b"", drain: bool = True
    ) -> bool:
        return True


Listener = Callable[[Snapshot, dict[str, Any] | None], None]
"""Told each new snapshot, with the hub event that caused it (None for a poll)."""


class DaemonWatcher:
    def __init__(self, daemon: Daemon, on_change: Listener, *, poll: float = 1.0) -> None:
        self.daemon = daemon
        self.on_change = on_change
        self.poll = poll
        self.snapshot = STARTING
        self.pin_blocked = False
        self._subscriber = _Subscriber(self._on_event)
        self._task: asyncio.Task[None] | None = None
        self._own_jobs = 0
        self._others_seen = 0
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()

    async def start(self) -> None:
        await self.daemon.hub.add(self._subscriber)
        self._task = asyncio.create_task(self._loop(), name="tray-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.daemon.hub.discard(self._subscriber)

    def _on_event(self, message: dict[str, Any]) -> None:
        # Called inside the hub's publish, on the event loop.
        self._pending.append(message)
        self._wake.set()

    async def _loop(self) -> None:
        await self._check_pin()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()
            events, self._pending = self._pending, []
            for event in events:
                if event.get("type") == "card-inserted":
                    await self._check_pin()
                elif event.get("type") in ("card-removed", "reader-removed"):
                    self.pin_blocked = False
            worker = self.daemon.worker
            # Jobs other than ours ran: a PIN may have been typed wrong in a dialog. (Our
            # own job is counted before it runs, so its end never looks like another's.)
            if worker.jobs_run - self._own_jobs > self._others_seen and worker.current is None:
                await self._check_pin()
            await self.refresh(events[-1] if events else None)

    async def refresh(self, event: dict[str, Any] | None = None) -> Snapshot:
        try:
            readers: list[ReaderState] | None = await asyncio.to_thread(
                self.daemon.source.readers
            )
        except PcscUnavailable:
            readers = None
        worker = self.daemon.worker
        busy = (worker.current is not None and worker.current != PIN_CHECK_JOB) or bool(
            worker.waiting
        )
        snapshot = classify(readers, busy=busy, pin_blocked=self.pin_blocked)
        if snapshot != self.snapshot or event is not None:
            self.snapshot = snapshot
            self.on_change(snapshot, event)
        return snapshot

    async def _check_pin(self) -> None:
        def ask(ctx: JobContext) -> bool:
            return bool(ctx.session().pin_status().blocked)

        try:
            readers = await asyncio.to_thread(self.daemon.source.readers)
        except PcscUnavailable:
            readers = []
        if any(r.card_present for r in readers):
            self._own_jobs += 1
            try:
                self.pin_blocked = await self.daemon.worker.run(
                    ask, name=PIN_CHECK_JOB, timeout=10
                )
            except Busy:  # the queue is full of pages' jobs; ours never ran
                self._own_jobs -= 1
            except (CardError, OSError) as exc:
                log.debug("PIN status not available: %s", exc)
            except Exception as exc:  # a timeout: tried again after the next job
                log.debug("PIN status not checked: %s", exc)
        else:
            self.pin_blocked = False
        self._others_seen = max(self._others_seen, self.daemon.worker.jobs_run - self._own_jobs)
