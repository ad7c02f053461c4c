"""vpcd adapter: plugs a virtual card into pcscd's "Virtual PCD" reader.

vsmartcard's vpcd driver listens on TCP (127.0.0.1:35963 for reader 0, :35964 for reader 1).
The card side connects as a client; every message both ways is a 2-byte big-endian length
and a payload. A 1-byte payload from vpcd is a control code (0 power off, 1 power on,
2 reset, 4 "send your ATR"); a longer one is a command APDU, answered with data + SW.
Closing the connection is how a card is pulled out.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from enum import IntEnum

from bridge.card.local import LocalCard
from bridge.emulator.latency import FaultAction, FaultPlan

log = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963
"""Reader "Virtual PCD 00 00"; reader ``n`` listens on ``VPCD_PORT + n``."""


class Control(IntEnum):
    POWER_OFF = 0
    POWER_ON = 1
    RESET = 2
    GET_ATR = 4


def _quick_ack(sock: socket.socket) -> None:
    # vpcd writes a message's length and payload in two sends; with Nagle on its side and
    # delayed ACKs on ours, every APDU would wait ~40 ms for an ACK. Linux re-arms delayed
    # ACK after each read, so quick-ACK is asked for again before every read.
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        _quick_ack(sock)
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class VpcdCard:
    """Keeps one virtual card inserted in a vpcd reader until ``remove()``.

    ``latency(command, response)`` seconds are spent before each answer (the card's transfer
    and processing time). ``faults`` (a ``FaultPlan``) pulls the card out as a given command
    arrives (pcscd then reports the card removed to whoever sent it) or leaves one command
    unanswered; ``mute`` makes the chip stop answering altogether.
    """

    def __init__(
        self,
        card: LocalCard,
        *,
        host: str = VPCD_HOST,
        port: int = VPCD_PORT,
        latency: Callable[[bytes, bytes], float] | None = None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.latency = latency
        self.faults: FaultPlan | None = None
        self.mute = False
        """The chip stops completing its answers to commands (a damaged chip)."""
        self.no_atr = False
        """The chip gives no ATR at all: vpcd then reports no card in the reader."""
        self.mute_wait = 1.0
        """How long the reader waits for a mute card before giving up (the card's waiting
        time)."""
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self.removed = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def insert(self, timeout: float = 10.0) -> None:
        """Connect to vpcd (waiting for pcscd to open its port) and serve in a thread."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._closing.clear()
        self.removed.clear()
        if self.faults is not None:
            self.faults.reinsert()
        self._thread = threading.Thread(target=self._serve, name="vpcd-card", daemon=True)
        self._thread.start()

    def remove(self) -> None:
        self._closing.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self.card.power_off()
        self.removed.set()

    def __enter__(self) -> VpcdCard:
        self.insert()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- protocol ----------------------------------------------------------------------------

    def _send(self, sock: socket.socket, payload: bytes) -> None:
        sock.sendall(struct.pack(">H", len(payload)) + payload)

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while not self._closing.is_set():
                header = _recv_exact(sock, 2)
                if header is None:
                    break
                (length,) = struct.unpack(">H", header)
                payload = _recv_exact(sock, length) if length else b""
                if payload is None:
                    break
                if not self._handle(sock, payload):
                    break
        except OSError:
            pass  # the socket was closed under us: that is how remove() works
        finally:
            if not self._closing.is_set():
                self.remove_async()

    def remove_async(self) -> None:
        threading.Thread(target=self.remove, daemon=True).start()

    def _handle(self, sock: socket.socket, payload: bytes) -> bool:
        if len(payload) == 1:
            code = payload[0]
            if code == Control.POWER_OFF:
                self.card.power_off()
            elif code == Control.POWER_ON:
                self.card.power_on()
            elif code == Control.RESET:
                self.card.reset()
            elif code == Control.GET_ATR:
                # vpcd treats an empty answer as "no card" (it ejects the connection).
                self._send(sock, b"" if self.no_atr else self.card.atr)
            return True
        verdict = self.faults.on_apdu(payload) if self.faults is not None else FaultAction.NONE
        if verdict is FaultAction.REMOVE:
            return False
        if self.mute or verdict is FaultAction.MUTE:
            # vpcd would wait forever for a silent card and ejects it on an empty answer, so
            # after the waiting time the chip "answers" one byte without a status word: what
            # the host sees from a chip that no longer completes its answers.
            time.sleep(self.mute_wait)
            self._send(sock, b"\x00")
            return True
        response = self.card.process(payload)
        if self.latency is not None:
            time.sleep(self.latency(payload, response))
        self._send(sock, response)
        return True
