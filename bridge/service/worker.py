"""The one place that owns the card: a single thread runs every card job, in order.

Async handlers submit a job and await its result. The queue is bounded (a page flooding the
bridge gets ``Busy``, not an ever-growing backlog); a job whose page went away before it
started is skipped; a running job sees its ``cancel`` event set (dialogs close on it) and is
checked between steps. Card errors that mean "the connection is gone" (card pulled, reader
unplugged, pcscd restarted) drop the session, and so does a card that left between jobs, so
the next job connects afresh.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bridge.card.errors import (
    CardMute,
    CardRemoved,
    CardReset,
    NoCard,
    NoReader,
    PcscUnavailable,
    SharingViolation,
    TransportError,
)
from bridge.card.session import BelpicSession
from bridge.card.transport import Transport
from bridge.service.errors import Busy, RequestCancelled, RequestTimeout

log = logging.getLogger(__name__)

T = TypeVar("T")

# Errors after which the transport cannot be trusted any more.
_CONNECTION_LOST = (
    CardRemoved,
    CardReset,
    CardMute,
    NoCard,
    NoReader,
    PcscUnavailable,
    SharingViolation,
    TransportError,
)


class JobContext:
    """What a job gets on the worker thread: the card session (connected on first use) and
    the cancellation flag of its request."""

    def __init__(self, worker: CardWorker, cancel: threading.Event) -> None:
        self._worker = worker
        self.cancel = cancel
        self._session: BelpicSession | None = None

    def session(self) -> BelpicSession:
        # One session for the whole job, checked once at its start: a card that leaves
        # mid-job makes this job fail with a card error, and the next one reconnects.
        if self._session is None:
            self._session = self._worker._session_for_job()
        return self._session

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise RequestCancelled("the page gave up")


@dataclass
class _Job(Generic[T]):
    action: Callable[[JobContext], T]
    name: str
    cancel: threading.Event = field(default_factory=threading.Event)
    future: concurrent.futures.Future[T] = field(default_factory=concurrent.futures.Future)
    queued_at: float = field(default_factory=time.monotonic)


_STOP = object()


class CardWorker:
    def __init__(
        self,
        connect: Callable[[], Transport],
        *,
        queue_size: int = 8,
        on_session: Callable[[BelpicSession], None] | None = None,
    ) -> None:
        self._connect = connect
        self._queue: queue.Queue[_Job[object] | object] = queue.Queue(maxsize=queue_size)
        self._session: BelpicSession | None = None
        self._thread: threading.Thread | None = None
        self._on_session = on_session
        self.jobs_run = 0
        self.current: str | None = None

    # -- lifecycle (event loop side) -----------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="card-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        # Pending jobs are refused, the running one is asked to stop.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                item.cancel.set()
                item.future.set_exception(RequestCancelled("the bridge is stopping"))
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    # -- submitting (event loop side) ----------------------------------------------------

    async def run(
        self,
        action: Callable[[JobContext], T],
        *,
        name: str,
        timeout: float,
    ) -> T:
        job: _Job[T] = _Job(action, name)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise Busy(f"{self._queue.maxsize} requests already wait for the card") from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), timeout)
        except TimeoutError:
            job.cancel.set()
            raise RequestTimeout(f"{name} did not finish in {timeout:.0f} s") from None
        except asyncio.CancelledError:
            job.cancel.set()  # the page went away: close dialogs, skip if not started
            raise

    # -- the worker thread ---------------------------------------------------------------

    def _session_for_job(self) -> BelpicSession:
        if self._session is not None and not self._session.transport.is_present():
            # The reader says the card we knew left (pulled, swapped, reader or service
            # gone): start over with whatever card is there now. One question to the reader,
            # no APDU, and it works whether or not a monitor is watching.
            self._drop_session()
        if self._session is None:
            self._session = BelpicSession(self._connect())
            if self._on_session is not None:
                self._on_session(self._session)
        return self._session

    def _drop_session(self) -> None:
        if self._session is not None:
            try:
                self._session.transport.close()
            except Exception:  # the card is gone already; closing is best effort
                log.debug("closing the old card connection failed", exc_info=True)
            self._session = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._drop_session()
                return
            assert isinstance(item, _Job)
            self._run_job(item)

    def _run_job(self, job: _Job[object]) -> None:
        if job.cancel.is_set() or job.future.done():
            if not job.future.done():
                job.future.set_exception(RequestCancelled("the page gave up while waiting"))
            return
        if not job.future.set_running_or_notify_cancel():
            return
        self.current = job.name
        started = time.monotonic()
        try:
            result = job.action(JobContext(self, job.cancel))
        except BaseException as exc:
            if isinstance(exc, _CONNECTION_LOST):
                self._drop_session()
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
        finally:
            self.current = None
            self.jobs_run += 1
            log.debug(
                "%s: waited %.1f ms, ran %.1f ms",
                job.name,
                (started - job.queued_at) * 1000,
                (time.monotonic() - started) * 1000,
            )
