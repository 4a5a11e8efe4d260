"""Servo-style pulses: calibration values and the maps from a command fraction to a pulse width.

Hobby ESCs and steering servos read one pulse per frame (50 Hz), 1.0-2.0 ms wide, 1.5 ms meaning
neutral/centre. Every car differs a little, so each end is calibrated (`dojo car calibrate`) and a
pulse never leaves the calibrated range, whatever the command (NaN and out-of-range fractions too):
clamping happens here, at the lowest layer, and callers get back what was actually sent.

Direction lives in the calibration, not in flags: an ESC wired "backwards" simply has forward_max_us
below neutral_us (the fix for "car drives backwards" is swapping the two numbers).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

FRAME_HZ = 50.0  # the standard servo frame: every hobby ESC and servo accepts it (DonkeyCar's PCA9685 uses 60)
PULSE_FLOOR_US = 800  # no hobby ESC or servo signal lies outside 0.8-2.2 ms; a value beyond is a typo
PULSE_CEIL_US = 2200
DEADBAND_MAX_US = 200  # an ESC dead band wider than this is a misread neutral, not a dead band
MIN_FRACTION = 0.005  # smaller commands are neutral: rounding noise must never creep a car forward

Micros = Annotated[int, Field(ge=PULSE_FLOOR_US, le=PULSE_CEIL_US)]
Deadband = Annotated[int, Field(ge=0, le=DEADBAND_MAX_US)]
EscMode = Literal["brake_then_reverse", "direct_reverse", "forward_only"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThrottleCalibration(_Strict):
    """ESC pulses in microseconds.

    forward_deadband_us / reverse_deadband_us: how far from neutral the ESC starts to turn the wheels;
    the map starts just past it, so a 5% command moves the car instead of humming in the dead band.
    esc_mode: brake_then_reverse (most car ESCs: the first reverse pulse after forward brakes, reverse
    needs neutral in between), direct_reverse (crawler ESCs), forward_only (no reverse at all).
    """

    neutral_us: Micros = 1500
    forward_max_us: Micros = 2000
    reverse_max_us: Micros = 1000
    forward_deadband_us: Deadband = 0
    reverse_deadband_us: Deadband = 0
    esc_mode: EscMode = "brake_then_reverse"

    @model_validator(mode="after")
    def _sides(self) -> "ThrottleCalibration":
        fwd, rev, n = self.forward_max_us - self.neutral_us, self.reverse_max_us - self.neutral_us, self.neutral_us
        if fwd == 0 or rev == 0 or (fwd > 0) == (rev > 0):
            raise ValueError(f"forward_max_us ({self.forward_max_us}) and reverse_max_us ({self.reverse_max_us}) must lie "
                             f"on opposite sides of neutral_us ({n}) — run `dojo car calibrate`")
        if self.forward_deadband_us >= abs(fwd) or self.reverse_deadband_us >= abs(rev):
            raise ValueError(f"the dead band must be smaller than the distance from neutral to full "
                             f"({self.forward_deadband_us}/{self.reverse_deadband_us} us vs {abs(fwd)}/{abs(rev)} us)")
        return self

    @property
    def bounds_us(self) -> tuple[int, int]:
        return min(self.forward_max_us, self.reverse_max_us), max(self.forward_max_us, self.reverse_max_us)

    def pulse(self, fraction: float) -> float:
        """Pulse for a throttle fraction (-1..1; + forward), clamped to the calibration."""
        f = _fraction(fraction)
        if f == 0.0:
            return float(self.neutral_us)
        if f > 0.0:
            start = self.neutral_us + math.copysign(self.forward_deadband_us, self.forward_max_us - self.neutral_us)
            return start + f * (self.forward_max_us - start)
        start = self.neutral_us + math.copysign(self.reverse_deadband_us, self.reverse_max_us - self.neutral_us)
        return start - f * (self.reverse_max_us - start)


class SteeringCalibration(_Strict):
    """Steering servo pulses in microseconds; left is + (arena convention). center_us holds the trim."""

    center_us: Micros = 1500
    left_us: Micros = 1900
    right_us: Micros = 1100

    @model_validator(mode="after")
    def _sides(self) -> "SteeringCalibration":
        a, b = self.left_us - self.center_us, self.right_us - self.center_us
        if a == 0 or b == 0 or (a > 0) == (b > 0):
            raise ValueError(f"left_us ({self.left_us}) and right_us ({self.right_us}) must lie on opposite sides of "
                             f"center_us ({self.center_us}) — run `dojo car calibrate`")
        return self

    @property
    def bounds_us(self) -> tuple[int, int]:
        return min(self.left_us, self.right_us), max(self.left_us, self.right_us)

    def pulse(self, fraction: float) -> float:
        """Pulse for a steering fraction (-1 full right .. 1 full left), clamped to the calibration."""
        f = _fraction(fraction)
        end = self.left_us if f > 0.0 else self.right_us
        return self.center_us + abs(f) * (end - self.center_us)


def _fraction(v: float) -> float:
    """-1..1, and 0 for NaN or anything tiny (a motor never sees NaN; min/max would make it full)."""
    if not isinstance(v, (int, float)) or math.isnan(v) or abs(v) < MIN_FRACTION:
        return 0.0
    return max(-1.0, min(1.0, float(v)))


class PulseOutputs(Protocol):
    """Where two pulse trains go: gpiozero pins, PCA9685 channels, or the pin guard process."""

    def write(self, throttle_us: float, steering_us: float) -> None:
        """Set both pulses (within HARDWARE_CALL_BUDGET_S)."""

    def neutral(self) -> None:
        """Neutral throttle, centred steering: any thread, idempotent, never raises, never blocks."""

    def close(self) -> None:
        """Neutral, then release the outputs."""


class PulsePair:
    """Base of PulseOutputs that set two pulses and release them: ``_set`` and ``_release`` do the I/O;
    neutral() never raises and close() is neutral first, then no pulses (the ESC's own failsafe)."""

    def __init__(self, neutral_us: float, center_us: float) -> None:
        self._neutral = (float(neutral_us), float(center_us))
        self.closed = False

    def _set(self, throttle_us: float, steering_us: float) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def write(self, throttle_us: float, steering_us: float) -> None:
        if not self.closed:
            self._set(throttle_us, steering_us)

    def neutral(self) -> None:
        try:
            self.write(*self._neutral)
        except Exception:
            pass  # never raises: the caller may be the dead-man thread

    def close(self) -> None:
        if self.closed:
            return
        self.neutral()
        self.closed = True
        self._release()
