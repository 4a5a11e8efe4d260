"""The ESC (electronic speed controller) of a hobby car: arming and brake-then-reverse.

Two habits of hobby ESCs the driver must respect:

- **Arming.** At power-up an ESC waits for neutral for a second or two (it beeps when armed) and
  ignores or refuses throttle before that. The driver sends neutral for ``ARM_S`` after it starts and
  sends only neutral until then.
- **Brake, then reverse.** A car ESC reads the first reverse pulse after driving forward as *brake*;
  it reverses only after neutral has been seen again. So a reverse command after forward plays a
  short brake tap, a short neutral gap, then reverse (``esc_mode: brake_then_reverse``). Crawler ESCs
  reverse at once (``direct_reverse``); some have no reverse (``forward_only``: reverse commands are
  neutral).

Stopping is always neutral (never a brake pulse): neutral is the one state every ESC mode, the ESC's
own signal-loss failsafe and the pin guard agree on, whereas a "brake" pulse means "reverse" to a
crawler ESC. The fence plans with the stopping distance measured at neutral (`dojo car calibrate`:
the ESC's drag brake setting decides how short it is; docs/real-car.md).

Pure state machine: the caller passes ``now`` (an injected clock), nothing here sleeps.
"""

from __future__ import annotations

from robot_runtime.devices.pulses import ThrottleCalibration, _fraction

ARM_S = 2.0  # hobby ESCs arm after 1-3 s of neutral at power-up (the beeps); 2 s covers the common ones
BRAKE_TAP_S = 0.12  # six 50 Hz frames: long enough for every ESC to register the brake
NEUTRAL_GAP_S = 0.12  # and six frames of neutral before it takes the next reverse pulse as reverse


class Esc:
    def __init__(self, cal: ThrottleCalibration, *, started_at: float) -> None:
        self.cal = cal
        self.armed_at = started_at + ARM_S
        self._last_dir = 0  # direction of the last driving pulse: +1 forward, -1 reverse, 0 none yet
        self._tap_started: float | None = None  # when the brake tap of a reversal began

    def armed(self, now: float) -> bool:
        return now >= self.armed_at

    def reset(self) -> None:
        """After a forced neutral (stop, e-stop, dead-man): a later reverse starts with a fresh tap."""
        self._tap_started = None

    def command(self, throttle: float, now: float) -> tuple[float, float]:
        """(pulse in µs, the throttle that pulse means) for a throttle fraction at time `now`.

        The effective throttle is 0 for neutral, arming, and both phases of a brake tap.
        """
        cal = self.cal
        f = _fraction(throttle)
        if f == 0.0 or not self.armed(now):
            self._tap_started = None
            return float(cal.neutral_us), 0.0
        if f > 0.0:
            self._tap_started = None
            self._last_dir = 1
            return cal.pulse(f), f
        if cal.esc_mode == "forward_only":
            return float(cal.neutral_us), 0.0
        if cal.esc_mode == "brake_then_reverse" and self._last_dir >= 0:
            if self._tap_started is None:
                self._tap_started = now
            elapsed = now - self._tap_started
            if elapsed < BRAKE_TAP_S:
                return cal.pulse(f), 0.0  # read as brake by the ESC
            if elapsed < BRAKE_TAP_S + NEUTRAL_GAP_S:
                return float(cal.neutral_us), 0.0
            self._tap_started = None
        self._last_dir = -1
        return cal.pulse(f), f
