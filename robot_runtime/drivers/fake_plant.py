"""The world a gpio car drives in without a car: a simulated car (SimCar) moved by the pulses on fake pins.

    pins = mock_factory()
    plant = PinPlant(pins, arena, throttle=..., steering=...)   # the car's true ESC and servo
    clock = plant.clock                                          # a ManualClock: advancing it is time passing
    car = gpio.create(config, arena, pin_factory=pins, clock=clock.now)

Each time the clock advances the plant reads the ESC and servo pulses back off the pins (the way the
real ESC and servo would), turns them into the simulator's throttle and steering, integrates the
physics, drives the encoder pin low/high once per `cm_per_tick` the wheels rolled, and (with
`distance_pins`) answers the ultrasonic sensor's pings with the echo of what the simulated car sees
ahead. The pulses are decoded with the plant's own idea of the calibration, written here and not taken
from the driver. Used by the tests (same lesson on the simulator and on a gpio car, calibration) and
bench_drivers.

In real time (``start()``: a thread steps it every PLANT_STEP_S on the wall clock) it is a whole car on
a laptop: ``hardware: gpio`` with ``hardware_options: {pin_factory: mock, plant: true}`` runs the real
driver, supervisor, dead-man and link against it (gpio.py builds it from the car's own calibration).
"""

from __future__ import annotations

import threading
import time

from robot_runtime.arena import Arena
from robot_runtime.clock import ManualClock
from robot_runtime.devices.ultrasonic import SPEED_OF_SOUND_CM_S
from robot_runtime.drivers.fake_pins import SonarTriggerPin
from robot_runtime.hardware import Command
from robot_runtime.sim import SimCar

PLANT_STEP_S = 0.005  # in real time the plant moves every 5 ms: four steps per 50 Hz control tick
NO_ECHO_S = 0.03  # nothing ahead: a 30 ms echo is 5.1 m, past any sensor's max_cm yet inside its 40 ms wait


def decode(us: float, neutral: float, plus_end: float, minus_end: float, deadband: float = 0.0) -> float:
    """A pulse back to a fraction, as the device reads it: 0 in its dead band, +-1 at the ends."""
    if us <= 0.0 or abs(us - neutral) <= deadband:
        return 0.0  # no pulses: an ESC in failsafe, a servo that holds
    plus_side = (us - neutral) * (plus_end - neutral) > 0
    end = plus_end if plus_side else minus_end
    start = neutral + (deadband if end > neutral else -deadband)
    frac = min(1.0, abs(us - start) / abs(end - start))
    return frac if plus_side else -frac


class PinPlant:
    def __init__(self, pins, arena: Arena, *, esc_pin: int = 12, servo_pin: int = 13, encoder_pin: int | None = 5,
                 cm_per_tick: float = 0.5, neutral_us: float = 1500, forward_us: float = 2000, reverse_us: float = 1000,
                 center_us: float = 1500, left_us: float = 1900, right_us: float = 1100, deadband_us: float = 0.0,
                 distance_pins: tuple[int, int] | None = None) -> None:
        self.pins = pins
        self.sim = SimCar(arena=arena)
        self.esc, self.servo = esc_pin, servo_pin
        self.encoder_pin, self.cm_per_tick = encoder_pin, cm_per_tick
        self.throttle_cal = (neutral_us, forward_us, reverse_us, deadband_us)
        self.steer_cal = (center_us, left_us, right_us)
        self._rolled = 0.0
        self.ticks_sent = 0
        self._trigger = None
        if distance_pins is not None:  # made before the driver opens them: its sensor pings this one
            trig, echo = distance_pins
            self._trigger = pins.pin(trig, pin_class=SonarTriggerPin, echo_pin=pins.pin(echo),
                                     echo_time=NO_ECHO_S)
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        plant = self

        class PlantClock(ManualClock):
            def advance(self, seconds: float) -> None:
                plant.step(seconds)
                super().advance(seconds)

        self.clock = PlantClock()

    def start(self, clock=time.monotonic) -> "PinPlant":
        """Step in real time on a thread of its own until stop()."""
        self._running.set()

        def run() -> None:
            last = clock()
            while self._running.is_set():
                time.sleep(PLANT_STEP_S)
                now = clock()
                self.step(now - last)
                last = now

        self._thread = threading.Thread(target=run, name="pin-plant", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def step(self, dt: float) -> None:
        if dt <= 0.0:
            return
        n, f, r, db = self.throttle_cal
        c, left, right = self.steer_cal
        thr = decode(self.pins.pin(self.esc).pulse_us, n, f, r, db)
        steer = decode(self.pins.pin(self.servo).pulse_us, c, left, right)
        self.sim.apply(Command(thr, steer))
        x0, y0 = self.sim.pose.x_cm, self.sim.pose.y_cm
        self.sim.advance(dt)
        if self.encoder_pin is not None:
            p = self.sim.pose
            self._rolled += ((p.x_cm - x0) ** 2 + (p.y_cm - y0) ** 2) ** 0.5
            pin = self.pins.pin(self.encoder_pin)
            while self._rolled >= self.cm_per_tick:  # one magnet passing the hall sensor: a low pulse
                self._rolled -= self.cm_per_tick
                pin.drive_low()
                pin.drive_high()
                self.ticks_sent += 1
        if self._trigger is not None:
            cm = self.sim.read().distance_cm
            self._trigger.echo_time = 2 * cm / SPEED_OF_SOUND_CM_S if cm is not None else NO_ECHO_S
