"""The dead-man: below the control loop, a thread of its own that puts the motors in neutral when the
loop stops delivering supervised commands, and the e-stop latch that works while the loop is stuck.

Every supervised command reaches the hardware through ``DeadMan.apply``. Promises (tests/runtime/
test_deadman.py, measured on the hardware's own timestamped record; benchmarks: `python -m benchmarks
runtime`):

- **stall -> neutral**: when no supervised command has been applied for DEADMAN_S, this thread calls
  ``hardware.stop()`` (within DEADMAN_S + the thread's wake-up latency of the last apply), whatever the
  loop is doing: blocked in a skill, a slow model, a driver call, a full SD card.
- **no stale command**: once tripped, ``apply`` sends only neutral (``stop``) until the loop ``rearm``s at
  the start of a fresh tick (a command computed before the stall never reaches the motors); a command whose state is
  older than DEADMAN_S when it arrives is refused and trips the dead-man too.
- **stop wins a race**: if a trip or an e-stop lands while ``hardware.apply`` is in progress, ``stop`` is
  called again after it returns, so neutral is the last word.
- **e-stop from any thread**: ``latch_estop`` stops the hardware at once and refuses every later apply
  until ``reset_estop``, without waiting for the loop (the link calls it from its own thread).

The thread runs only while the loop runs in real time (``start``/``close``); headless runs on a
ManualClock use the same apply path with no thread (nothing can stall there).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from robot_runtime.hardware import Command, Hardware

log = logging.getLogger(__name__)

DEADMAN_S = 0.1  # no supervised command for 100 ms (5 ticks at 50 Hz) -> neutral: 30 cm at full speed
def coast_before_neutral_s(rate_hz: float) -> float:
    """The longest a car may roll on its last command before neutral reaches the motors: a loop that stalls
    just after a command went out is caught DEADMAN_S later, plus the tick that command was computed in.
    The fence plans every stop with at least this much delay (CarConfig, calibration)."""
    return DEADMAN_S + 1.0 / rate_hz


IDLE_POLL_S = 0.05  # nothing applied yet (or tripped): look again this often (cheap, nothing to guard)


@dataclass(frozen=True)
class Trip:
    """One time the dead-man forced neutral."""

    at: float  # clock time of the forced stop
    last_apply: float  # clock time of the last supervised command before it
    why: str  # "stall": nothing applied for DEADMAN_S; "stale": a command computed too long ago arrived
    stage: str  # what the control loop was doing (its stage name) when the dead-man fired


class DeadMan:
    def __init__(
        self,
        hardware: Hardware,
        clock: Callable[[], float],
        *,
        timeout_s: float = DEADMAN_S,
        stage: Callable[[], str] = lambda: "",
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"dead-man timeout must be > 0 s (got {timeout_s})")
        self.hardware = hardware
        self.timeout_s = timeout_s
        self._clock = clock
        self._stage = stage
        self._lock = threading.Lock()  # guards the fields below; never held during a hardware call
        self._last_apply: float | None = None
        self._trip: Trip | None = None
        self._estop: str | None = None
        self._busy = False  # a hardware.apply is in progress (loop thread)
        self.trips: list[Trip] = []  # every trip since start (the flight recorder logs them too)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    # --- the loop's side ------------------------------------------------------------------------

    def apply(self, cmd: Command, computed_at: float) -> Command | None:
        """Send a supervised command; None (neutral sent instead) while tripped or e-stopped, or when the
        command was computed from a state older than the timeout."""
        with self._lock:
            now = self._clock()
            if self._estop is not None or self._trip is not None:
                held = True
            elif now - computed_at > self.timeout_s:
                trip, held = self._trip_locked(now, "stale"), False
            else:
                trip, held = None, False
                self._busy = True
        if held:  # keep telling the device neutral (a motor board with its own timeout stays quiet)
            self._stop_hardware()
            return None
        if trip is not None:
            self._stop_hardware()
            return None
        try:
            sent = self.hardware.apply(cmd)
        finally:
            with self._lock:
                self._busy = False
                overtaken = self._estop is not None or self._trip is not None
                if not overtaken:
                    self._last_apply = self._clock()
        if overtaken:  # a trip or an e-stop fired while the command was on its way: neutral is the last word
            self._stop_hardware()
            return None
        return sent

    def rearm(self) -> Trip | None:
        """Start of a fresh tick: the trip since the last tick (if any), cleared. The e-stop stays."""
        with self._lock:
            trip, self._trip = self._trip, None
            if trip is not None:
                self._last_apply = None  # counting starts again with the next apply
            return trip

    @property
    def tripped(self) -> bool:
        return self._trip is not None

    # --- e-stop (any thread) --------------------------------------------------------------------

    def latch_estop(self, reason: str) -> None:
        with self._lock:
            self._estop = reason
        self._stop_hardware()

    def reset_estop(self) -> None:
        with self._lock:
            self._estop = None
            self._last_apply = None

    @property
    def estopped(self) -> bool:
        return self._estop is not None

    # --- the thread -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._closing.clear()
        with self._lock:
            self._last_apply = None  # armed by the first command the real-time loop applies
        self._thread = threading.Thread(target=self._watch, name="dead-man", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=1.0)

    def _watch(self) -> None:
        while not self._closing.is_set():
            with self._lock:
                now = self._clock()
                last = self._last_apply
                wait = IDLE_POLL_S
                trip = None
                if last is not None and self._trip is None and self._estop is None:
                    wait = last + self.timeout_s - now
                    if wait <= 0.0:
                        trip = self._trip_locked(now, "stall")
            if trip is not None:
                self._stop_hardware()
                log.warning("dead-man: no supervised command for %.3f s (loop stage %s): neutral",
                            trip.at - trip.last_apply, trip.stage or "?")
                continue
            self._closing.wait(wait)

    def _trip_locked(self, now: float, why: str) -> Trip:
        trip = Trip(at=now, last_apply=self._last_apply if self._last_apply is not None else now, why=why,
                    stage=self._stage())
        self._trip = trip
        self.trips.append(trip)
        return trip

    def _stop_hardware(self) -> None:
        try:
            self.hardware.stop()
        except Exception:  # the contract says stop never raises; a driver that does must not kill the guard
            log.exception("hardware.stop() raised (it must not): neutral may not have been set")


