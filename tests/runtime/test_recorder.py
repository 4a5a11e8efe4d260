"""The flight recorder: readable JSON lines with commands before/after the supervisor, safety events,
requests, results and telemetry; flushed so a crash loses at most the last second."""

from __future__ import annotations

import json

from car_helpers import make_runtime, request

from robot_runtime.arena import Arena, Wall
from robot_runtime.recorder import FLUSH_EVERY_S, FlightRecorder, read_log


def test_a_run_writes_readable_jsonl_with_commands_before_and_after_supervision_and_safety_events(tmp_path):
    log_path = tmp_path / "car.jsonl"
    arena = Arena(width_cm=600, height_cm=300, start={"x_cm": 60, "y_cm": 150, "heading_deg": 0},
                  walls=[Wall(x0=300, y0=0, x1=300, y1=300)])
    recorder = FlightRecorder(log_path)
    rt, car, clock = make_runtime(arena=arena, recorder=recorder)
    rt.handle_limits({"max_speed_pct": 50, "level": 2})
    rt.handle_skill(request("into-wall", kind="drive", distance_cm=400, speed_pct=100))
    rt.handle_skill({"request_id": "bad", "action": {"kind": "drive", "distance_cm": "far"}})
    rt.loop.run_headless(10, until=lambda: bool(rt.results))
    recorder.close()

    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records == read_log(log_path)
    kinds = {r["k"] for r in records}
    assert {"start", "note", "request", "cmd", "safety", "telemetry", "result"} <= kinds
    assert records[0]["k"] == "start" and records[0]["car_id"] == "car-t"
    cmds = [r for r in records if r["k"] == "cmd"]
    assert len(cmds) == rt.loop.ticks  # one per tick
    limited = [c for c in cmds if c["in"] != c["out"]]
    assert limited and all(c.get("why") for c in limited if c["in"][0] > c["out"][0] + 0.01)
    assert any("fence" in c.get("why", []) for c in cmds)
    texts = [r["event"]["kid_text"] for r in records if r["k"] == "safety"]
    assert "I slowed down: Level 2 cars go up to 50%" in texts
    assert any(t.startswith("I stopped: wall") or t.startswith("I slowed down: wall") for t in texts)
    good, bad = [r for r in records if r["k"] == "request"]
    assert good["request"]["request_id"] == "into-wall" and good["ack"]["ok"] is True
    assert "'bad'" in bad["request"] and bad["ack"]["ok"] is False  # a rejected payload is kept as a short repr
    assert "distance_cm" in bad["ack"]["error"]["message"]
    (result,) = [r for r in records if r["k"] == "result"]
    assert result["result"]["request_id"] == "into-wall" and result["result"]["status"] == "failed"
    # readable by a person: short lines, rounded numbers
    assert max(len(line) for line in lines if '"k":"cmd"' in line) < 200
    assert all(len(str(v).split(".")[-1]) <= 4 for c in cmds for v in c["out"] if isinstance(v, float))


def test_a_crash_loses_at_most_the_last_second(tmp_path):
    log_path = tmp_path / "crash.jsonl"
    recorder = FlightRecorder(log_path)
    rt, car, clock = make_runtime(recorder=recorder)
    rt.handle_skill(request("a", kind="drive", seconds=5))
    rt.loop.run_headless(3.0)
    # The process "dies" here: nothing is closed or flushed by hand; read what reached the file.
    on_disk = read_log(log_path)
    last = max(r["t"] for r in on_disk)
    assert clock.now() - last <= FLUSH_EVERY_S + rt.loop.period + 1e-9
    assert sum(r["k"] == "cmd" for r in on_disk) >= rt.loop.ticks - (FLUSH_EVERY_S / rt.loop.period) - 1
    recorder.close()


def test_the_disk_sync_never_runs_on_the_control_loops_thread(tmp_path, monkeypatch):
    """An fsync can stall for tens of ms on an SD card: the loop hands it to the recorder's own thread."""
    import os
    import threading
    import time

    import robot_runtime.recorder as recorder_module

    synced_on: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:  # the edge of the world: the disk
        synced_on.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(recorder_module.os, "fsync", recording_fsync)
    recorder = FlightRecorder(tmp_path / "car.jsonl")
    for i in range(200):  # 4 s of 50 Hz commands: several flush points
        recorder.command(i * 0.02, "drive", (0.5, 0.0), (0.3, 0.0), frozenset({"speed_limit"}))
    loop_thread = threading.current_thread().name
    deadline = time.monotonic() + 2.0
    while not synced_on and time.monotonic() < deadline:
        time.sleep(0.01)
    assert synced_on and all(name == "flight-recorder-fsync" for name in synced_on), synced_on
    recorder.close()  # the last sync happens at close, on the caller's thread (shutdown, not a tick)
    assert synced_on[-1] == loop_thread
    assert len(read_log(tmp_path / "car.jsonl")) == 200
