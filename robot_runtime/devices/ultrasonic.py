"""An HC-SR04-style ultrasonic distance sensor on two gpiozero pins, measured on its own thread.

The loop never waits for an echo: a background thread pings every ``PING_PERIOD_S`` and keeps the
newest reading with its time; ``read()`` returns at once with (distance, fault). Faults are data
(hardware.py contract): ``"timeout"`` when no echo came back for ``STALE_S`` (unplugged, broken
wire), ``"stuck"`` when the echo line is still high before a ping (a shorted or floating ECHO pin).
Nothing in range (echo beyond ``max_cm``) is (None, None). The ECHO pin of a 5 V HC-SR04 must go
through a divider to 3.3 V (docs/real-car.md).
"""

from __future__ import annotations

import threading
import time

SPEED_OF_SOUND_CM_S = 34_300.0  # in air at 20 °C
PING_PERIOD_S = 0.03  # 33 Hz: the echo of a 5 m range comes back within 29 ms; faster pings hear old echoes
ECHO_TIMEOUT_S = 0.04  # no falling edge by then: no echo (the HC-SR04 gives up after ~38 ms)
STALE_S = 0.2  # no good reading for this long (6 pings) is a fault: the supervisor slows the car to a crawl
TRIGGER_S = 10e-6  # the HC-SR04 wants a 10 µs trigger pulse


class UltrasonicSensor:
    def __init__(self, trigger_pin: int, echo_pin: int, *, pin_factory, max_cm: float = 300.0,
                 clock=time.monotonic) -> None:
        from gpiozero import DigitalInputDevice, DigitalOutputDevice

        self.max_cm = max_cm
        self._clock = clock
        self._trigger = DigitalOutputDevice(trigger_pin, pin_factory=pin_factory)
        self._echo_dev = DigitalInputDevice(echo_pin, pull_up=False, pin_factory=pin_factory)
        self._echo = self._echo_dev.pin
        self._factory = self._echo_dev.pin_factory
        self._echo.edges = "both"
        self._echo.when_changed = self._edge
        self._rise: float | None = None
        self._fall = threading.Event()
        self._fall_at: float | None = None
        self._last: tuple[float, float | None] | None = None  # (when, cm or None for out of range)
        self._fault: str | None = None
        self._started = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ultrasonic", daemon=True)
        self._thread.start()

    def _edge(self, ticks, state) -> None:
        if state:
            self._rise = ticks
        elif self._rise is not None:
            self._fall_at = ticks
            self._fall.set()

    def ping(self) -> float | None | str:
        """One measurement: cm, None (nothing in range) or a fault word."""
        if self._echo.state:
            return "stuck"
        self._rise, self._fall_at = None, None
        self._fall.clear()
        self._trigger.on()
        time.sleep(TRIGGER_S)
        self._trigger.off()
        if not self._fall.wait(ECHO_TIMEOUT_S) or self._rise is None or self._fall_at is None:
            return "timeout"
        cm = self._factory.ticks_diff(self._fall_at, self._rise) * SPEED_OF_SOUND_CM_S / 2.0
        return None if cm > self.max_cm else cm

    def _run(self) -> None:
        while not self._stop.wait(PING_PERIOD_S):
            try:
                result = self.ping()
            except Exception:  # a pin error is a fault to report, never a dead thread
                result = "disconnected"
            if isinstance(result, str):
                self._fault = result
            else:
                self._last, self._fault = (self._clock(), result), None

    def read(self) -> tuple[float | None, str | None]:
        """(distance cm or None, fault or None) at once."""
        now = self._clock()
        last = self._last
        if last is None or now - last[0] > STALE_S:
            if now - self._started <= STALE_S and last is None:
                return None, None  # still starting: the first pings are on their way
            return None, self._fault or "timeout"
        return last[1], None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self._echo.when_changed = None
        self._trigger.close()
        self._echo_dev.close()
