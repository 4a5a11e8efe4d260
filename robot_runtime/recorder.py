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
every FLUSH_EVERY_S, so a crash loses at most the last second. Floats are rounded to keep lines short.
"""

from __future__ import annotations

import json
import os
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
        self._fsync = fsync
        self._last_flush = None  # time of the last flush on the caller's clock
        self.lines = 0

    def write(self, kind: str, t: float, **fields: Any) -> None:
        if self._f is None:
            return
        rec: dict[str, Any] = {"k": kind, "t": round(t, DIGITS)}
        for key, val in fields.items():
            if isinstance(val, BaseModel):
                val = val.model_dump(mode="json", by_alias=True, exclude_defaults=False)
            rec[key] = _round(val)
        self._f.write(json.dumps(rec, separators=(",", ":"), default=str) + "\n")
        self.lines += 1
        if self._last_flush is None:
            self._last_flush = t
        elif t - self._last_flush >= FLUSH_EVERY_S:
            self.flush(t)

    def command(self, t: float, src: str, before: tuple[float, float], after: tuple[float, float], why: frozenset[str]) -> None:
        fields: dict[str, Any] = {"src": src, "in": list(before), "out": list(after)}
        if why:
            fields["why"] = sorted(why)
        self.write("cmd", t, **fields)

    def flush(self, t: float | None = None) -> None:
        if self._f is None:
            return
        self._f.flush()
        if self._fsync:
            try:
                os.fsync(self._f.fileno())
            except OSError:
                pass  # some filesystems (pipes, /dev/stdout) cannot fsync; the flush still happened
        if t is not None:
            self._last_flush = t

    def close(self) -> None:
        if self._f is not None:
            self.flush()
            self._f.close()
            self._f = None


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """All records of a flight-recorder file (for tests and for people with a Python prompt)."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
