"""The tray's log: rotated files in the platform's log directory.

Nothing personal is logged by the bridge; the filter below is a second line of defence that
masks anything shaped like a national register number before it reaches the disk.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

LOG_FILE = "eid-bridge.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
_NATIONAL_NUMBER = re.compile(r"\b\d{2}\.?\d{2}\.?\d{2}-?\d{3}\.?\d{2}\b")


class RedactNationalNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _NATIONAL_NUMBER.sub("[national number]", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup_logging(
    log_dir: Path, *, verbose: bool = False, max_bytes: int = MAX_BYTES
) -> Path:
    """Log to ``<log_dir>/eid-bridge.log`` (1 MB, 3 old files kept); returns its path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactNationalNumbers())
    root = logging.getLogger()
    # One handler per file, even when the tray is started twice in one process (tests).
    for old in [h for h in root.handlers if getattr(h, "baseFilename", None) == str(path)]:
        root.removeHandler(old)
        old.close()
    for console in root.handlers:
        # The terminal keeps showing warnings only; the file gets the INFO lines.
        if type(console) is logging.StreamHandler and not verbose:
            console.setLevel(logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return path
