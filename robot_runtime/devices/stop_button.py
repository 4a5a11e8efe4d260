"""A physical stop button on the car: pressing it latches the e-stop.

Wired from a GPIO pin to GND (the Pi's internal pull-up holds it high). gpiozero calls ``on_press``
on its own thread within the debounce time; the driver goes neutral right there (stop() is safe from
any thread) and latches, so every later command is neutral until the latch is cleared. The runtime
latches its own e-stop from the press (kept on disk, shown to the teacher with its reason) and clears
both on the teacher's reset, never while the button is still held down.
"""

from __future__ import annotations

from collections.abc import Callable

DEBOUNCE_S = 0.02  # a pushbutton bounces for a few ms; 20 ms still stops within one 50 Hz tick


class StopButton:
    def __init__(self, pin: int, *, pin_factory, on_press: Callable[[], None]) -> None:
        from gpiozero import Button

        self._button = Button(pin, pull_up=True, bounce_time=DEBOUNCE_S, pin_factory=pin_factory)
        self._button.when_pressed = on_press

    @property
    def is_pressed(self) -> bool:
        return bool(self._button.is_pressed)

    def close(self) -> None:
        self._button.close()
