"""The e-stop latch kept on disk: an emergency stop survives a car restart until a teacher resets it.

    latch = EstopLatch(path)        # None: memory only (headless runs, tests that do not restart)
    latch.reason                    # the latched reason read at start, or None
    latch.set("teacher emergency stop", now)      # written atomically (tmp file, fsync, rename)
    latch.clear()                   # only a deliberate, well-formed reset_estop calls this

A file that exists but cannot be read counts as latched (a car must not forget an e-stop because its
SD card garbled a file). Writes never raise: the latch is in memory first, a failed write is logged
and reported in the flight recorder by the caller (``last_error``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

STATE_DIR_ENV = "DOJO_CAR_STATE_DIR"  # where `dojo car` keeps its state when the config names no file
DEFAULT_STATE_DIR = "~/.local/state/mikro-dojo"
UNREADABLE = "e-stop latch file unreadable: treated as latched"


def default_latch_path(car_id: str) -> Path:
    base = os.environ.get(STATE_DIR_ENV)
    if not base:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = str(Path(xdg) / "mikro-dojo") if xdg else DEFAULT_STATE_DIR
    return Path(base).expanduser() / f"estop-{car_id}.json"


class EstopLatch:
    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.last_error: str | None = None
        self.reason: str | None = self._load()

    def _load(self) -> str | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            reason = data.get("reason") if isinstance(data, dict) else None
            return str(reason) if reason else UNREADABLE
        except (OSError, ValueError) as exc:
            self.last_error = f"{self.path}: {exc}"
            return UNREADABLE

    def set(self, reason: str, now: float) -> None:
        self.reason = reason
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"reason": reason, "t": now}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self.last_error = None
        except OSError as exc:  # the latch holds in memory; the caller logs that it is not on disk
            self.last_error = f"cannot write {self.path}: {exc}"
            log.error("e-stop latch not saved: %s", self.last_error)

    def clear(self) -> None:
        self.reason = None
        if self.path is None:
            return
        try:
            self.path.unlink(missing_ok=True)
            self.last_error = None
        except OSError as exc:
            self.last_error = f"cannot remove {self.path}: {exc}"
            log.error("e-stop latch not cleared on disk: %s", self.last_error)
