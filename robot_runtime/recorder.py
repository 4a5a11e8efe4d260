"""The flight recorder: one JSON object per line, written as things happen, readable by a person.

Record types (field "k"):
  start      car id, config, spec, rate
  cmd        one per tick: t, "in" [throttle, steering] before the supervisor, "out" after it, "src"
             (which skill or "idle"), "why" (limits that changed it, when any)
  safety     a SafetyEvent (reason, kid_text, detail, value, limit)
  telemetry  the Telemetry message as sent (pose, speed, safety state, timing ...)
  request    a SkillRequest received; "ack" what the car answered
  result     a SkillResult
  note       anything else worth a line (link up/down, e-stop, reset, arena loaded, shutdown)

Lines are buffered and flushed (and fsynced: on a Pi a crash is usually a pulled battery) at least
every FLUSH_EVERY_S, so a crash loses at most the last second. The fsync runs on a small background
thread: it can take tens of milliseconds on an SD card, and the control loop must never wait for a disk.
Floats are rounded to keep lines short.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

FLUSH_EVERY_S = 1.0  # the most a crash may lose
DIGITS = 4  # 0.1 mm, 0.01 degree, 0.1 ms: more than any sensor resolves


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, DIGITS)
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    return v


class FlightRecorder:
    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: TextIO | None = self.path.open("a", encoding="utf-8", buffering=64 * 1024)
        self._last_flush = None  # time of the last flush on the caller's clock
        self.lines = 0
        self._lock = threading.Lock()  # the control loop's thread and the link's both write
        self._sync_wanted = threading.Event()
        self._closing = False
        self._syncer: threading.Thread | None = None
        if fsync:
            self._syncer = threading.Thread(target=self._sync_forever, name="flight-recorder-fsync", daemon=True)
            self._syncer.start()

    def _sync_forever(self) -> None:
        """Background thread: fsync whenever a flush asked for it (several asks coalesce into one)."""
        while True:
            self._sync_wanted.wait()
            self._sync_wanted.clear()
            if self._closing:
                return
            try:
                os.fsync(self._f.fileno())  # type: ignore[union-attr]
            except (OSError, ValueError, AttributeError):
                pass  # some files (pipes, /dev/stdout) cannot fsync; the flush itself still happened

    def write(self, kind: str, t: float, **fields: Any) -> None:
        if self._f is None:
            return
        rec: dict[str, Any] = {"k": kind, "t": round(t, DIGITS)}
        for key, val in fields.items():
            if isinstance(val, BaseModel):
                val = val.model_dump(mode="json", by_alias=True, exclude_defaults=False)
            rec[key] = _round(val)
        line = json.dumps(rec, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            if self._f is None:
                return
            self._f.write(line)
            self.lines += 1
            due = self._last_flush is not None and t - self._last_flush >= FLUSH_EVERY_S
            if self._last_flush is None:
                self._last_flush = t
        if due:
            self.flush(t)

    def command(self, t: float, src: str, before: tuple[float, float], after: tuple[float, float], why: frozenset[str]) -> None:
        fields: dict[str, Any] = {"src": src, "in": list(before), "out": list(after)}
        if why:
            fields["why"] = sorted(why)
        self.write("cmd", t, **fields)

    def flush(self, t: float | None = None) -> None:
        with self._lock:
            if self._f is None:
                return
            self._f.flush()  # into the OS's page cache: fast
            if t is not None:
                self._last_flush = t
        if self._syncer is not None:
            self._sync_wanted.set()  # onto the disk: on the background thread

    def close(self) -> None:
        if self._f is not None:
            self._f.flush()
            if self._syncer is not None:  # stop the thread first, then the last fsync here
                self._closing = True
                self._sync_wanted.set()
                self._syncer.join()
                try:
                    os.fsync(self._f.fileno())
                except OSError:
                    pass
            self._f.close()
            self._f = None


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """All records of a flight-recorder file (for tests and for people with a Python prompt)."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
