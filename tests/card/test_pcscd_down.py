"""The PC/SC service stopped and started again under the card layer's feet."""

from __future__ import annotations

import os
import queue
import subprocess
import sys

import pytest

from bridge.card.connect import open_card
from bridge.card.errors import PcscUnavailable
from bridge.card.readers import ReaderEvent, ReaderEventKind, ReaderMonitor, list_readers
from tests.services import Pcscd

pytestmark = pytest.mark.pcsc


def next_kind(events: queue.Queue[ReaderEvent], kind: ReaderEventKind) -> ReaderEvent:
    while True:
        event = events.get(timeout=20)
        if event.kind is kind:
            return event


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can stop and start pcscd")
def test_service_down_and_back(pcscd: Pcscd) -> None:
    events: queue.Queue[ReaderEvent] = queue.Queue()
    monitor = ReaderMonitor(events.put)
    monitor.start()
    try:
        next_kind(events, ReaderEventKind.READER_ADDED)
        pcscd.stop()
        try:
            next_kind(events, ReaderEventKind.SERVICE_DOWN)
            assert next_kind(events, ReaderEventKind.READER_REMOVED).reader
            with pytest.raises(PcscUnavailable):
                list_readers()
            with pytest.raises(PcscUnavailable):
                open_card()
            # The command line says what to do, in the user's language, with exit code 3.
            cli = subprocess.run(
                [sys.executable, "-m", "bridge.cli", "--lang", "nl", "card", "read"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert cli.returncode == 3
            assert "PCSC_UNAVAILABLE" in cli.stderr
            assert "smartcarddienst" in cli.stderr
        finally:
            pcscd.start()
        next_kind(events, ReaderEventKind.SERVICE_UP)
        assert next_kind(events, ReaderEventKind.READER_ADDED).reader
        assert list_readers()
    finally:
        monitor.stop()
