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
from collections import deque

from gpiozero.pins.mock import MockFactory, MockPWMPin

HISTORY_KEEP = 200_000  # writes kept per pin: over an hour of 50 Hz pulses (a laptop rehearsal stays bounded)
ECHO_DELAY_S = 0.001  # an HC-SR04 starts its echo about 1 ms after the trigger (gpiozero's MockTriggerPin too)


class RecordingPWMPin(MockPWMPin):
    """MockPWMPin that records (monotonic time, duty, frequency) for every write, changed or not."""

    def __init__(self, factory, info) -> None:
        self.history: deque[tuple[float, float, float | None]] = deque(maxlen=HISTORY_KEEP)
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


class SonarTriggerPin(MockPWMPin):
    """The TRIG pin of a fake HC-SR04 (gpiozero's MockTriggerPin, but of the PWM kind this factory makes):
    each trigger pulse drives `echo_pin` high for `echo_time` seconds, which the plant keeps updated."""

    def __init__(self, factory, info, echo_pin=None, echo_time: float = 0.04) -> None:
        super().__init__(factory, info)
        self.echo_pin, self.echo_time = echo_pin, echo_time
        self._echo_thread: threading.Thread | None = None

    def _set_state(self, value) -> None:
        super()._set_state(value)
        if value:
            if self._echo_thread is not None:
                self._echo_thread.join()
            self._echo_thread = threading.Thread(target=self._echo, name="sonar-echo", daemon=True)
            self._echo_thread.start()

    def _echo(self) -> None:
        time.sleep(ECHO_DELAY_S)
        self.echo_pin.drive_high()
        time.sleep(self.echo_time)
        self.echo_pin.drive_low()


def mock_factory() -> MockFactory:
    """A fresh mock pin factory whose pins record their history (a Pi 4's header)."""
    return MockFactory(pin_class=RecordingPWMPin)
