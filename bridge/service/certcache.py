"""Per-card certificate cache, encrypted at rest with a key from the OS keyring.

Reading the five certificates of a card takes about a second each on real cards; a
repeat login with the same card takes them from here instead. The authentication and
signature certificates carry the holder's name and national register number, so nothing
is written in clear:

- one file per card, named by ``HMAC-SHA256(name key, serial)`` in hex, so the card's
  serial number is not on disk either;
- content ``MAGIC || version || nonce || AES-256-GCM(data key, nonce, plaintext, aad)``
  with a random 96-bit nonce per write and ``aad = MAGIC || version || serial``, so a file
  copied under another card's name or from another format does not decrypt;
- the name key and the data key are derived (HKDF-SHA256, distinct labels) from the one
  key kept in the OS keyring by :mod:`bridge.secrets`; without a keyring the cache is
  disabled (``get`` misses, ``put`` writes nothing) rather than keeping a key on disk.

Files are written atomically (temporary file, then ``os.replace``) with mode 0600 in a
0700 directory. A corrupt, truncated, tampered or wrong-key file is a cache miss: it is
deleted and logged at WARNING (file name prefix only, never content); callers never see
an exception from a bad file or a full disk. At most ``max_entries`` cards are kept; the
least recently used (file modification time, refreshed on every hit) goes first, which
also sweeps out files left by a previous key. One lock makes an instance thread-safe.

Trust is NOT this module's business. The cache returns what was stored for a serial; it
does not check that the certificates still belong to the card in the reader, nor their
chain or revocation. The daemon must check that the card's fresh signature verifies with
the cached certificate's public key, call :meth:`CertificateCache.forget` and re-read the
card otherwise, and validate the chain and revocation as for certificates read from the
card.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import tempfile
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bridge import secrets
from bridge.card.session import CardCertificates

if TYPE_CHECKING:
    from bridge.config import Settings

__all__ = ["DEFAULT_MAX_ENTRIES", "KEY_NAME", "CertificateCache"]

log = logging.getLogger(__name__)

KEY_NAME: Final = "certificate-cache"
"""Name of the cache key in the OS keyring (service ``eid-bridge``)."""
DEFAULT_MAX_ENTRIES: Final = 8
MAGIC: Final = b"EBCC"
VERSION: Final = 1
HEADER: Final = MAGIC + bytes([VERSION])
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
MAX_FILE_SIZE: Final = 256 * 1024
"""Five certificates take about 8 KiB; anything much larger is not ours."""
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}$")
_TEMP_PREFIX = ".tmp-"
_FIELDS: Final = tuple(item.name for item in fields(CardCertificates))
_OPTIONAL_FIELDS: Final = frozenset({"authentication", "signature"})


class _Corrupt(ValueError):
    """A cache file that cannot be ours (never carries its content)."""


# --- serialisation --------------------------------------------------------------------------
#
# Plaintext: one record per CardCertificates field, in dataclass order:
#   name length (1 byte) || name (ASCII) || present (1 byte: 0 None, 1 bytes)
#   || [length (4 bytes, big-endian) || value]
# The names make a dataclass change a clean miss instead of a silent mix-up.


def _encode(certificates: CardCertificates) -> bytes:
    out = bytearray()
    for name in _FIELDS:
        value = getattr(certificates, name)
        encoded = name.encode("ascii")
        out += bytes([len(encoded)]) + encoded
        if value is None:
            out.append(0)
        else:
            out.append(1)
            out += struct.pack(">I", len(value)) + bytes(value)
    return bytes(out)


def _decode(data: bytes) -> CardCertificates:
    values: dict[str, bytes | None] = {}
    view = memoryview(data)
    offset = 0

    def take(count: int) -> bytes:
        nonlocal offset
        if count < 0 or offset + count > len(view):
            raise _Corrupt("record runs past the end")
        chunk = bytes(view[offset : offset + count])
        offset += count
        return chunk

    for expected in _FIELDS:
        name = take(take(1)[0]).decode("ascii", errors="replace")
        if name != expected:
            raise _Corrupt("unexpected field")
        present = take(1)[0]
        if present == 0:
            if name not in _OPTIONAL_FIELDS:
                raise _Corrupt("required certificate missing")
            values[name] = None
        elif present == 1:
            (length,) = struct.unpack(">I", take(4))
            values[name] = take(length)
        else:
            raise _Corrupt("bad presence flag")
    if offset != len(view):
        raise _Corrupt("trailing data")
    return CardCertificates(
        authentication=values["authentication"],
        signature=values["signature"],
        ca=values["ca"] or b"",
        root=values["root"] or b"",
        rrn=values["rrn"] or b"",
    )


def _derive(key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(key)


# --- the cache ------------------------------------------------------------------------------


class CertificateCache:
    """Certificates of up to ``max_entries`` cards, by card serial (``CardData.serial_hex``).

    ``key`` is the secret from the OS keyring (at least 16 bytes), or ``None`` for a disabled
    cache. Hex serials are compared case-insensitively.
    """

    def __init__(
        self, directory: Path, key: bytes | None, *, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        if key is not None and len(key) < secrets.MIN_KEY_SIZE:
            raise ValueError(f"the cache key has at least {secrets.MIN_KEY_SIZE} bytes")
        if max_entries < 1:
            raise ValueError("the cache keeps at least one card")
        self.directory = Path(directory)
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._last_used_ns = 0
        self._name_key: bytes | None = None
        self._aead: AESGCM | None = None
        if key is not None:
            self._name_key = _derive(key, b"eid-bridge certificate cache v1: file name")
            self._aead = AESGCM(_derive(key, b"eid-bridge certificate cache v1: content"))

    @classmethod
    def for_settings(
        cls, settings: Settings, *, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> CertificateCache:
        """The cache under ``<cache dir>/certificates``, keyed from the OS keyring (disabled
        when there is no usable keyring)."""
        key = secrets.get_or_create_key(KEY_NAME)
        return cls(settings.cache_dir / "certificates", key, max_entries=max_entries)

    def __repr__(self) -> str:  # never the key
        return f"CertificateCache({str(self.directory)!r}, enabled={self.enabled})"

    @property
    def enabled(self) -> bool:
        return self._aead is not None

    # -- public operations -------------------------------------------------------------------

    def get(self, serial: str) -> CardCertificates | None:
        """The certificates stored for ``serial``, or ``None`` (miss, disabled, bad file)."""
        if self._aead is None:
            return None
        serial = self._normalise(serial)
        path = self._path(serial)
        with self._lock:
            try:
                with path.open("rb") as handle:
                    blob = handle.read(MAX_FILE_SIZE + 1)
            except FileNotFoundError:
                return None
            except OSError as exc:
                log.warning(
                    "certificate cache entry %s unreadable (%s)", path.name[:12], type(exc).__name__
                )
                self._remove(path)
                return None
            try:
                certificates = self._open(serial, blob)
            except (_Corrupt, InvalidTag, ValueError, IndexError, struct.error) as exc:
                log.warning(
                    "certificate cache entry %s is corrupt, tampered with or from another key"
                    " (%s): removed",
                    path.name[:12],
                    type(exc).__name__,
                )
                self._remove(path)
                return None
            self._touch(path)
            return certificates

    def put(self, serial: str, certificates: CardCertificates) -> None:
        """Store ``certificates`` for ``serial`` (replacing any entry), then evict the least
        recently used cards beyond ``max_entries``. Does nothing when disabled; a write
        failure is logged, not raised."""
        if self._aead is None:
            return
        serial = self._normalise(serial)
        path = self._path(serial)
        nonce = os.urandom(NONCE_SIZE)
        blob = HEADER + nonce + self._aead.encrypt(nonce, _encode(certificates), self._aad(serial))
        with self._lock:
            try:
                self._ensure_directory()
                self._write(path, blob)
                self._touch(path)
                self._evict()
            except OSError as exc:
                log.warning("could not write the certificate cache (%s)", type(exc).__name__)

    def forget(self, serial: str) -> None:
        """Drop what is stored for ``serial`` (the daemon found it untrustworthy)."""
        if self._name_key is None:
            return
        path = self._path(self._normalise(serial))
        with self._lock:
            self._remove(path)

    def clear(self) -> None:
        """Remove every entry (also files of another key, and leftover temporary files).
        Works on a disabled cache too."""
        with self._lock:
            for path in self._entries(include_temporary=True):
                self._remove(path)

    # -- helpers (called with the lock held where they touch files) ------------------------

    @staticmethod
    def _normalise(serial: str) -> str:
        serial = serial.strip().upper()
        if not serial:
            raise ValueError("a card serial is needed")
        return serial

    @staticmethod
    def _aad(serial: str) -> bytes:
        return HEADER + serial.encode("utf-8")

    def _path(self, serial: str) -> Path:
        assert self._name_key is not None
        mac = hmac.HMAC(self._name_key, hashes.SHA256())
        mac.update(serial.encode("utf-8"))
        return self.directory / mac.finalize().hex()

    def _open(self, serial: str, blob: bytes) -> CardCertificates:
        assert self._aead is not None
        if len(blob) > MAX_FILE_SIZE:
            raise _Corrupt("file too large")
        if len(blob) < len(HEADER) + NONCE_SIZE + TAG_SIZE:
            raise _Corrupt("file too short")
        if blob[: len(MAGIC)] != MAGIC:
            raise _Corrupt("not a certificate cache file")
        if blob[len(MAGIC)] != VERSION:
            raise _Corrupt("unknown format version")
        nonce = blob[len(HEADER) : len(HEADER) + NONCE_SIZE]
        plaintext = self._aead.decrypt(nonce, blob[len(HEADER) + NONCE_SIZE :], self._aad(serial))
        return _decode(plaintext)

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix" and self.directory.stat().st_mode & 0o777 != 0o700:
            os.chmod(self.directory, 0o700)  # mkdir obeys the umask; an old dir may be wider

    def _write(self, path: Path, blob: bytes) -> None:
        # mkstemp creates the file with mode 0600, in the same directory so that
        # os.replace is an atomic rename.
        fd, temporary = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _touch(self, path: Path) -> None:
        """Mark ``path`` most recently used: its mtime, strictly increasing in this process
        so that entries written within one clock tick still have an order."""
        now = max(time.time_ns(), self._last_used_ns + 1)
        self._last_used_ns = now
        with contextlib.suppress(OSError):
            os.utime(path, ns=(now, now))

    def _entries(self, *, include_temporary: bool = False) -> list[Path]:
        try:
            children = list(self.directory.iterdir())
        except OSError:
            return []
        return [
            child
            for child in children
            if _ENTRY_NAME.match(child.name)
            or (include_temporary and child.name.startswith(_TEMP_PREFIX))
        ]

    def _evict(self) -> None:
        ages: list[tuple[int, str, Path]] = []
        for path in self._entries():
            with contextlib.suppress(OSError):
                ages.append((path.stat().st_mtime_ns, path.name, path))
        ages.sort()
        for _, _, path in ages[: max(0, len(ages) - self.max_entries)]:
            self._remove(path)

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning(
                "could not remove certificate cache entry %s (%s)",
                path.name[:12],
                type(exc).__name__,
            )
