"""A wheel encoder: a hall or optical sensor on the drive shaft counting edges on a gpiozero pin.

One channel counts without a direction (the pose estimator takes the sign of what was sent); two
channels (quadrature, ``pin_b``) count signed steps through gpiozero's RotaryEncoder. gpiozero calls
back on its own thread per edge; ``ticks`` is read by the loop at once (one int, no lock needed).
"""

from __future__ import annotations


class WheelEncoder:
    def __init__(self, pin: int, *, pin_factory, pin_b: int | None = None) -> None:
        self.signed = pin_b is not None
        self._count = 0
        if pin_b is None:
            from gpiozero import DigitalInputDevice

            self._dev = DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)
            self._dev.when_activated = self._tick
        else:
            from gpiozero import RotaryEncoder

            self._dev = RotaryEncoder(pin, pin_b, max_steps=0, pin_factory=pin_factory)

    def _tick(self) -> None:
        self._count += 1  # only gpiozero's callback thread writes it

    @property
    def ticks(self) -> int:
        return self._dev.steps if self.signed else self._count

    def close(self) -> None:
        self._dev.close()
