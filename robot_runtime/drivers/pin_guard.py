"""The pin guard: a tiny process that owns the pulse outputs and goes neutral when the runtime dies.

With pigpio (DMA pulses), kernel hardware PWM or a PCA9685, the pulse train goes on by itself after
the process that set it is gone: a `kill -9` or a crash of the car runtime would leave the car
driving. So the runtime does not own those outputs. This process does, and it is small enough to
trust: it reads one line per tick from the runtime over a pipe and

- ``W <throttle_us> <steering_us>``: sets both pulses;
- ``N``: neutral now (stop(), from any thread of the runtime);
- ``Q``: neutral, release the outputs, exit (a clean shutdown);
- end of file (the runtime died, however: the kernel closes its end of the pipe): neutral, exit;
- silence for ``GUARD_SILENCE_S`` (the runtime is alive but stalled): neutral until the next ``W``.

So a dead or stalled runtime always ends in neutral pulses, and the ESC's own failsafe is the layer
below. Start-up: the guard opens the outputs, sets neutral and prints ``READY``; an error is one line
on stderr, shown by the runtime. Run by the driver as ``python -m robot_runtime.drivers.pin_guard_process SPEC``
(SPEC: JSON naming the outputs, see `pin_guard_process.build_outputs`); tests run `run_guard` on a thread with fake pins.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable

from robot_runtime.devices.pulses import PULSE_CEIL_US, PULSE_FLOOR_US, PulseOutputs

GUARD_SILENCE_S = 0.1  # five missed 50 Hz ticks: the loop has stalled; neutral well inside the dead-man's 150 ms
GUARD_POLL_S = 0.01  # how often a silent pipe is checked: adds at most 10 ms to the silence deadline
GUARD_START_TIMEOUT_S = 10.0  # python + gpiozero + pigpio start-up on a Pi Zero 2 W takes 2-4 s
GUARD_EXIT_TIMEOUT_S = 1.0  # a clean exit is immediate; longer means it hangs and is killed
MAX_LINE = 64  # a command line is ~20 bytes; anything longer is garbage and is dropped


def run_guard(fd: int, outputs: PulseOutputs, *, silence_s: float = GUARD_SILENCE_S,
              clock: Callable[[], float] = time.monotonic) -> str:
    """Serve one runtime on the pipe `fd` until it quits or dies; returns why it ended ("quit"/"eof")."""
    outputs.neutral()
    buf = b""
    last_heard = clock()
    quiet = True  # neutral already (nothing to do on silence)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], GUARD_POLL_S)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    return "eof"
                buf += chunk
                *lines, buf = buf.split(b"\n")
                if len(buf) > MAX_LINE:
                    buf = b""
                last = None
                for line in lines:
                    if line == b"Q":
                        return "quit"
                    if line == b"N":
                        last = None
                        outputs.neutral()
                        quiet = True
                    elif line.startswith(b"W "):
                        last = _parse_write(line) or last  # garbage never replaces a good line
                if last is not None:  # only the newest pulses of a burst matter
                    outputs.write(*last)
                    quiet = False
                last_heard = clock()
            elif not quiet and clock() - last_heard > silence_s:
                outputs.neutral()
                quiet = True
    finally:
        outputs.close()  # neutral, then release (also on an exception in here)


def _parse_write(line: bytes) -> tuple[float, float] | None:
    try:
        _, a, b = line.split()
        thr, steer = float(a), float(b)
    except ValueError:
        return None
    if not (PULSE_FLOOR_US <= thr <= PULSE_CEIL_US and PULSE_FLOOR_US <= steer <= PULSE_CEIL_US):
        return None  # the runtime already clamped to the calibration; this is a corrupted line
    return thr, steer


class GuardedPulses:
    """The runtime's side: PulseOutputs that write lines to the guard's pipe (never blocking)."""

    def __init__(self, fd: int, process: subprocess.Popen | None = None) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self._process = process
        self.dropped = 0  # lines not written because the pipe was full (the guard stalled)
        self.broken = False  # the guard is gone

    @classmethod
    def start(cls, spec: dict) -> "GuardedPulses":
        """Start the guard process for `spec` and wait until it holds the outputs at neutral."""
        proc = subprocess.Popen([sys.executable, "-m", "robot_runtime.drivers.pin_guard_process", json.dumps(spec)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([proc.stdout], [], [], GUARD_START_TIMEOUT_S)
        line = proc.stdout.readline().strip() if ready else b""
        if line != b"READY":
            proc.kill()
            err = proc.stderr.read().decode(errors="replace").strip().splitlines()
            from robot_runtime.drivers import HardwareUnavailable
            raise HardwareUnavailable(f"the pin guard did not start: {err[-1] if err else 'no answer in time'}")
        return cls(proc.stdin.fileno(), proc)

    def _send(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            os.write(self._fd, data)  # one small write is atomic on a pipe (< PIPE_BUF): no lock needed
        except BlockingIOError:
            self.dropped += 1
        except OSError:
            self.broken = True

    def write(self, throttle_us: float, steering_us: float) -> None:
        self._send(b"W %.1f %.1f\n" % (throttle_us, steering_us))

    def neutral(self) -> None:
        self._send(b"N\n")

    def close(self) -> None:
        self._send(b"Q\n")
        if self._process is not None:
            try:
                self._process.stdin.close()
                self._process.wait(GUARD_EXIT_TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
        else:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self.broken = True
