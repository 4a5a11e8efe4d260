"""The attempt recording: what happened during one run of one program on one lesson.

Persisted append-only as it arrives: one JSON line per event in ``<attempt_id>.jsonl`` (header, then
samples, safety events, collisions, frames, and an end line). Each line is flushed when written and the
file is fsynced at most every FSYNC_PERIOD_S, so a crashed server loses at most the last second.
:func:`read_recording` reads a file back, tolerating a torn last line. The same :class:`Recording` comes
from a live car (server/lessons/service.py) and from a headless simulation (curriculum/simrun.py).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from robot_runtime.private_files import open_private
from robot_runtime.protocol import Telemetry

FSYNC_PERIOD_S = 1.0  # the promise: a crash loses at most the last second of an attempt

EndReason = Literal["program_finished", "time_limit", "kid_stop", "teacher_stop", "estop", "error", "unknown"]


class Sample(BaseModel):
    """One telemetry sample, flattened (cm, degrees, seconds since the attempt started)."""

    model_config = ConfigDict(extra="ignore")

    t: float
    x: float
    y: float
    heading: float
    speed: float = 0.0
    yaw_rate: float = 0.0
    slip: float = 0.0
    throttle: float = 0.0
    steering: float = 0.0
    distance: float | None = None
    safety_state: str = "ok"


class Recording(BaseModel):
    model_config = ConfigDict(extra="ignore")

    attempt_id: str
    lesson_id: str
    kid_id: str = ""
    car_id: str = ""
    source: str = ""  # scratch | blockly | python | sim
    program: Any = None  # the program snapshot as sent when the run started
    started_at: float = 0.0  # wall clock (for people); every t below is relative to the first sample
    samples: list[Sample] = []
    safety: list[dict[str, Any]] = []  # SafetyEvent dicts, t relative
    collisions: list[dict[str, Any]] = []  # CollisionEvent dicts (key "with"), t relative
    frames: list[str] = []  # key frame file names, next to the recording
    end_reason: EndReason | None = None
    ended_at: float | None = None

    @property
    def duration_s(self) -> float:
        return self.samples[-1].t - self.samples[0].t if len(self.samples) > 1 else 0.0


def sample_from_telemetry(tel: Telemetry, t0: float) -> Sample:
    return Sample(t=round(tel.t - t0, 4), x=tel.pose.x_cm, y=tel.pose.y_cm, heading=tel.pose.heading_deg,
                  speed=tel.speed_cm_s, yaw_rate=tel.yaw_rate_dps, slip=tel.slip_deg, throttle=tel.throttle,
                  steering=tel.steering, distance=tel.distance_cm, safety_state=tel.safety_state)


class RecordingWriter:
    """Builds a Recording in memory and appends every event to a JSON-lines file as it arrives.

    ``path=None`` keeps it in memory only (simulation runs for tests and benchmarks).
    """

    def __init__(self, header: Recording, path: Path | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.recording = header.model_copy(deep=True)
        self.path = path
        self._clock = clock
        self._t0: float | None = None
        self._file: IO[str] | None = None
        self._last_sync = clock()
        if path is not None:
            self._file = open_private(path, "a", encoding="utf-8")  # 0600 in 0700 folders: a kid's attempt
            self._write({"type": "header", **header.model_dump(mode="json", exclude={"samples", "safety", "collisions", "frames"})})

    # -- events --------------------------------------------------------------------------------

    def add_telemetry(self, tel: Telemetry) -> Sample:
        if self._t0 is None:
            self._t0 = tel.t
        s = sample_from_telemetry(tel, self._t0)
        self.recording.samples.append(s)
        self._write({"type": "sample", **s.model_dump()})
        for ev in tel.safety_events:
            self.add_safety({**ev.model_dump(mode="json"), "t": round(ev.t - self._t0, 4)})
        for c in tel.collisions:
            self.add_collision({**c.model_dump(mode="json", by_alias=True), "t": round(c.t - self._t0, 4)})
        return s

    def add_safety(self, event: dict[str, Any]) -> None:
        self.recording.safety.append(event)
        self._write({"type": "safety", **event})

    def add_collision(self, event: dict[str, Any]) -> None:
        self.recording.collisions.append(event)
        self._write({"type": "collision", **event})

    def add_frame(self, name: str) -> None:
        self.recording.frames.append(name)
        self._write({"type": "frame", "name": name})

    def end(self, reason: EndReason, ended_at: float | None = None) -> Recording:
        if self.recording.end_reason is None:
            self.recording.end_reason = reason
            self.recording.ended_at = ended_at if ended_at is not None else time.time()
            self._write({"type": "end", "reason": reason, "ended_at": self.recording.ended_at}, sync=True)
        return self.recording

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    # -- persistence ---------------------------------------------------------------------------

    def _write(self, line: dict[str, Any], sync: bool = False) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()  # a process crash loses nothing written so far
        now = self._clock()
        if sync or now - self._last_sync >= FSYNC_PERIOD_S:
            os.fsync(self._file.fileno())  # a power cut loses at most the last second
            self._last_sync = now


def append_frames(path: Path, names: list[str]) -> None:
    """Name the key frames in a closed recording (grading draws them after the attempt has ended)."""
    with open_private(path, "a", encoding="utf-8") as f:
        for name in names:
            f.write(json.dumps({"type": "frame", "name": name}, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_recording(path: Path) -> Recording:
    """Read a JSON-lines recording back; a torn last line (crash mid-write) is skipped."""
    header: dict[str, Any] = {}
    samples, safety, collisions, frames = [], [], [], []
    end: dict[str, Any] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        kind = line.pop("type", None)
        if kind == "header":
            header = line
        elif kind == "sample":
            samples.append(Sample.model_validate(line))
        elif kind == "safety":
            safety.append(line)
        elif kind == "collision":
            collisions.append(line)
        elif kind == "frame":
            frames.append(line["name"])
        elif kind == "end":
            end = line
    if not header:
        raise ValueError(f"{path} has no header line — it is not an attempt recording")
    rec = Recording.model_validate({**header, "samples": samples, "safety": safety, "collisions": collisions,
                                    "frames": frames})
    if end:
        rec.end_reason = end.get("reason", "unknown")
        rec.ended_at = end.get("ended_at")
    return rec


class RecordingFields(BaseModel):
    """What the attempt API shows of a recording (trajectory thinned for the browser)."""

    samples: int
    duration_s: float
    end_reason: str | None
    trajectory: list[tuple[float, float]] = Field(default_factory=list)


def summary(rec: Recording, max_points: int = 400) -> RecordingFields:
    step = max(1, len(rec.samples) // max_points)
    return RecordingFields(samples=len(rec.samples), duration_s=round(rec.duration_s, 2), end_reason=rec.end_reason,
                           trajectory=[(round(s.x, 1), round(s.y, 1)) for s in rec.samples[::step]])
