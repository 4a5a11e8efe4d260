"""The steering servo: a fraction (-1 full right .. 1 full left) to a pulse, within its calibration.

Trim is the calibrated ``center_us``; range is ``left_us`` / ``right_us`` (where the wheels stop
turning, so the servo never stalls against the steering's end stops: a stalled servo draws amps and
buzzes). Reversed steering is fixed by swapping left_us and right_us.
"""

from __future__ import annotations

from robot_runtime.devices.pulses import SteeringCalibration, _fraction


class SteeringServo:
    def __init__(self, cal: SteeringCalibration) -> None:
        self.cal = cal

    def command(self, steering: float) -> tuple[float, float]:
        """(pulse in µs, the steering fraction that pulse means)."""
        f = _fraction(steering)
        return self.cal.pulse(f), f

    @property
    def center_us(self) -> float:
        return float(self.cal.center_us)
