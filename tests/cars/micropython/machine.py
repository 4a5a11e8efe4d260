"""A stand-in for MicroPython's `machine` module, so the Pico firmware runs under CPython in the tests.

Only what firmware/pico uses: PWM outputs record every duty change with time.monotonic() (the
board's pins' own history), Pin, WDT and time_pulse_us do nothing interesting.
"""

import threading
import time


class Pin:
    IN, OUT, PULL_UP, IRQ_FALLING = 0, 1, 2, 4

    def __init__(self, n, mode=None, pull=None):
        self.n, self._value = n, 1

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = v

    def irq(self, trigger=None, handler=None):
        self.handler = handler


class PWM:
    def __init__(self, pin, freq=None, duty_ns=None):
        self.pin, self._freq, self._duty_ns = pin, freq, 0
        self.history = []  # (monotonic time, pulse width in µs)
        self._lock = threading.Lock()

    def freq(self, hz=None):
        if hz is None:
            return self._freq
        self._freq = hz

    def duty_ns(self, ns=None):
        if ns is None:
            return self._duty_ns
        self._duty_ns = ns
        with self._lock:
            self.history.append((time.monotonic(), ns / 1000.0))

    def pulses(self):
        with self._lock:
            return list(self.history)


class WDT:
    def __init__(self, timeout=0):
        self.fed = 0

    def feed(self):
        self.fed += 1


def time_pulse_us(pin, level, timeout_us):
    return -1
