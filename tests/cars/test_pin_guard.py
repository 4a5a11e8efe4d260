"""The pin guard owns the pulse outputs: a runtime that dies (kill -9) or stalls (SIGSTOP) ends in
neutral pulses, seen on the fake pins' own timestamps. The guard runs here on a thread with fake pins;
the runtime is a real child process writing to it over a pipe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.gpio import GpioPulses
from robot_runtime.drivers.pin_guard import GUARD_SILENCE_S, GuardedPulses, run_guard

pytestmark = pytest.mark.timeout(60)

HERE = Path(__file__).parent
NEUTRAL_US = 1500.0
ESC, SERVO = 12, 13
DRIVING_WITHIN_S = 15.0  # child start-up (python + pydantic + gpiozero) plus the ESC's 2 s arming
KILL_DEADLINE_S = 0.05  # EOF on the pipe is immediate: neutral within a poll (10 ms) and a margin
STALL_DEADLINE_S = 0.15  # the dead-man promise: neutral within 150 ms of a stalled loop


class Guard:
    """run_guard on a thread with fake pins, serving one child over a pipe."""

    def __init__(self) -> None:
        self.pins = mock_factory()
        self.read_fd, self.write_fd = os.pipe()
        self.outputs = GpioPulses(ESC, SERVO, NEUTRAL_US, NEUTRAL_US, pin_factory=self.pins)
        self.ended: list[str] = []
        self.thread = threading.Thread(target=lambda: self.ended.append(run_guard(self.read_fd, self.outputs)),
                                       daemon=True)
        self.thread.start()

    def esc(self):
        return self.pins.pin(ESC)

    def start_child(self) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, str(HERE / "guard_child.py"), str(self.write_fd)],
                                pass_fds=(self.write_fd,), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(self.write_fd)  # only the child holds the write end: its death is EOF here
        return proc

    def wait_driving(self, proc) -> None:
        deadline = time.monotonic() + DRIVING_WITHIN_S
        while self.esc().pulse_us < NEUTRAL_US + 50:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"the child never drove: {proc.communicate()[1].decode()[-2000:]}")
            time.sleep(0.01)


def first_neutral_after(pin, t0: float) -> float:
    for t, us in pin.pulses_us():
        if t >= t0 and abs(us - NEUTRAL_US) < 0.5:
            return t
    raise AssertionError(f"no neutral pulse after the event; last pulses: {pin.pulses_us()[-5:]}")


def test_kill_9_of_the_runtime_ends_in_neutral_pulses_then_no_pulses():
    guard = Guard()
    proc = guard.start_child()
    try:
        guard.wait_driving(proc)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        guard.thread.join(2)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert guard.ended == ["eof"]
    esc = guard.esc()
    assert first_neutral_after(esc, killed_at) - killed_at <= KILL_DEADLINE_S
    assert esc.pulse_us == 0.0  # then the guard released the pins: no pulses (the ESC's own failsafe)
    driving = [us for t, us in esc.pulses_us() if t < killed_at]
    assert max(driving) > NEUTRAL_US + 50  # it really was driving before


# Longer than the guard's deadline; shorter than the car's link watchdog (300 ms, less the child's 20 ms
# heartbeat period) and the 0.5 s after which its dead-man ends the move: a hiccup, the move goes on.
STALL_S = 0.2


def test_a_stalled_runtime_is_neutral_within_150ms_and_drives_again_when_it_resumes():
    guard = Guard()
    proc = guard.start_child()
    try:
        guard.wait_driving(proc)
        proc.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        time.sleep(STALL_S)
        esc = guard.esc()
        last_write = max(t for t, us in esc.pulses_us() if t <= stopped_at + 0.05 and us > NEUTRAL_US + 50)
        assert first_neutral_after(esc, last_write) - last_write <= STALL_DEADLINE_S
        assert esc.pulse_us == NEUTRAL_US  # neutral, still pulsing (not released: the runtime may come back)
        proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 2.0
        while esc.pulse_us <= NEUTRAL_US + 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert esc.pulse_us > NEUTRAL_US + 50
    finally:
        proc.kill()
        proc.wait(5)
        guard.thread.join(2)
    assert guard.ended == ["eof"]


def test_guard_ignores_garbage_and_out_of_range_lines_and_quits_on_q():
    guard = Guard()
    w = GuardedPulses(guard.write_fd)
    w.write(1700, 1600)
    os.write(guard.write_fd, b"W 5000 1500\nW abc\n" + b"x" * 500 + b"\n")
    time.sleep(0.05)
    assert guard.esc().pulse_us == pytest.approx(1700)
    w.neutral()
    time.sleep(0.05)
    assert guard.esc().pulse_us == pytest.approx(NEUTRAL_US)
    w.close()
    guard.thread.join(2)
    assert guard.ended == ["quit"] and guard.esc().pulse_us == 0.0


def test_guard_silence_constant_keeps_the_dead_man_promise():
    assert GUARD_SILENCE_S + 0.01 < STALL_DEADLINE_S
