"""Fake GPIO pins for a laptop with no car: gpiozero's MockFactory with a PWM pin that keeps a history.

    from robot_runtime.drivers.fake_pins import mock_factory
    pins = mock_factory()                                   # pass as pin_factory to any gpiozero device
    esc = pins.pin(12)                                      # the same pin object the driver writes
    [(t, duty, hz), ...] = esc.history                      # every write, on time.monotonic()
    esc.pulses_us()                                         # the same as pulse widths in microseconds

`hardware_options: {pin_factory: mock}` builds a car on these pins (`dojo car check --hardware gpio` on
a laptop); tests read the histories to check every safety promise on the pins themselves. Setting
GPIOZERO_PIN_FACTORY=mock and GPIOZERO_MOCK_PIN_CLASS=mockpwmpin gives gpiozero's plain mock pins.
"""

from __future__ import annotations

import threading
import time

from gpiozero.pins.mock import MockFactory, MockPWMPin


class RecordingPWMPin(MockPWMPin):
    """MockPWMPin that records (monotonic time, duty, frequency) for every write, changed or not."""

    def __init__(self, factory, info) -> None:
        self.history: list[tuple[float, float, float | None]] = []
        self._history_lock = threading.Lock()
        super().__init__(factory, info)

    def _set_state(self, value) -> None:
        super()._set_state(value)
        with self._history_lock:
            self.history.append((time.monotonic(), float(value), self._frequency))

    def _set_frequency(self, value) -> None:
        super()._set_frequency(value)
        with self._history_lock:
            self.history.append((time.monotonic(), float(self._state), value))

    def pulses_us(self) -> list[tuple[float, float]]:
        """(t, pulse width in µs) for every write while the pin was pulsing (0 when the train stopped)."""
        with self._history_lock:
            hist = list(self.history)
        return [(t, duty / hz * 1e6 if hz else 0.0) for t, duty, hz in hist]

    @property
    def pulse_us(self) -> float:
        """The pulse width now (0: no pulses)."""
        return float(self._state) / self._frequency * 1e6 if self._frequency else 0.0


def mock_factory() -> MockFactory:
    """A fresh mock pin factory whose pins record their history (a Pi 4's header)."""
    return MockFactory(pin_class=RecordingPWMPin)
