"""The attempt recording is append-only on disk: a process that dies mid-attempt loses at most the last
second, a torn last line is skipped, and what is read back is what was recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from curriculum.recording import FSYNC_PERIOD_S, Recording, RecordingWriter, read_recording
from robot_runtime.protocol import CollisionEvent, Pose, SafetyEvent, Telemetry

REPO = Path(__file__).resolve().parents[2]


def _tel(i: int, **extra) -> Telemetry:
    return Telemetry(car_id="car-1", seq=i, t=100.0 + i * 0.05, pose=Pose(x_cm=50 + i, y_cm=100, heading_deg=0),
                     speed_cm_s=20.0, **extra)


def test_a_killed_process_loses_nothing_already_written(tmp_path):
    path = tmp_path / "a1" / "recording.jsonl"
    script = textwrap.dedent(f"""
        import os, signal
        from curriculum.recording import Recording, RecordingWriter
        from robot_runtime.protocol import Pose, Telemetry
        w = RecordingWriter(Recording(attempt_id="a1", lesson_id="l1-wake-up", kid_id="k1"), __import__("pathlib").Path({str(path)!r}))
        for i in range(120):   # six seconds of 20 Hz telemetry
            w.add_telemetry(Telemetry(car_id="car-1", seq=i, t=i * 0.05, pose=Pose(x_cm=i, y_cm=0, heading_deg=0), speed_cm_s=20))
        os.kill(os.getpid(), signal.SIGKILL)   # no close(), no end line: a crash
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=60)
    assert proc.returncode == -9
    rec = read_recording(path)
    assert len(rec.samples) == 120 and rec.end_reason is None
    assert rec.samples[-1].t == 5.95


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "rec.jsonl"
    w = RecordingWriter(Recording(attempt_id="a2", lesson_id="l1-wake-up"), path)
    for i in range(10):
        w.add_telemetry(_tel(i))
    w.close()
    with path.open("a") as f:
        f.write('{"type":"sample","t":0.5,"x":')  # the power went out mid-line
    assert len(read_recording(path).samples) == 10


def test_safety_events_collisions_frames_and_end_are_recorded_relative_to_the_first_sample(tmp_path):
    path = tmp_path / "rec.jsonl"
    w = RecordingWriter(Recording(attempt_id="a3", lesson_id="l1-wake-up", program={"blocks": {}}), path)
    w.add_telemetry(_tel(0))
    w.add_telemetry(_tel(4, safety_events=[SafetyEvent(t=100.2, reason="obstacle", kid_text="I stopped: wall ahead")],
                         collisions=[CollisionEvent.model_validate({"t": 100.2, "with": "cone:1", "x_cm": 1,
                                                                    "y_cm": 2, "speed_cm_s": 30})]))
    w.add_frame("overlay.png")
    w.end("kid_stop", ended_at=1234.5)
    w.close()
    rec = read_recording(path)
    assert rec.safety[0]["t"] == 0.2 and rec.safety[0]["kid_text"] == "I stopped: wall ahead"
    assert rec.collisions[0]["with"] == "cone:1" and rec.collisions[0]["t"] == 0.2
    assert rec.frames == ["overlay.png"] and rec.end_reason == "kid_stop" and rec.ended_at == 1234.5
    assert rec.program == {"blocks": {}}
    kinds = [json.loads(l)["type"] for l in path.read_text().splitlines()]
    assert kinds == ["header", "sample", "sample", "safety", "collision", "frame", "end"]


def test_fsync_happens_at_least_once_a_second(tmp_path, monkeypatch):
    import curriculum.recording as recording

    synced: list[float] = []
    now = [0.0]
    monkeypatch.setattr(recording.os, "fsync", lambda fd: synced.append(now[0]))
    w = RecordingWriter(Recording(attempt_id="a4", lesson_id="x"), tmp_path / "r.jsonl", clock=lambda: now[0])
    for i in range(100):  # five seconds at 20 Hz
        now[0] = i * 0.05
        w.add_telemetry(_tel(i))
    gaps = [b - a for a, b in zip([0.0] + synced, synced)]
    assert synced and max(gaps) <= FSYNC_PERIOD_S + 0.05 and len(synced) <= 6
