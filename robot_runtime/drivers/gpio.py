"""`hardware: gpio` — the ESC and the steering servo on the Raspberry Pi's own pins (gpiozero).

Which pin factory gives clean pulses:

- **pigpio** (Pi Zero 2 W, 3, 4; `sudo systemctl enable --now pigpiod`): pulses timed by DMA, exact to
  a microsecond on any pin, whatever the CPU does. Use it: a servo fed by software-timed pulses
  twitches and buzzes, and an ESC near its dead band creeps.
- **lgpio** (the default on a Pi 5, where pigpio does not run): pulses timed by a thread in the process,
  tens of microseconds of jitter under load. Good enough for the ESC; the servo may buzz. On a Pi 5
  prefer the PCA9685 or the Pico board, whose pulses come from their own hardware timers.

pigpio's pulses (like a PCA9685's or kernel PWM's) go on after the process dies, so with
``guard: true`` (the default) the outputs belong to the pin guard process (pin_guard.py), which goes
neutral when the runtime dies or stalls. Sensors (distance, encoder, stop button, battery ADC) stay in
the runtime process: losing them cannot move the car.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.devices.pulses import FRAME_HZ, PulsePair
from robot_runtime.drivers.options import GpioOptions, SensorPins, parse_options
from robot_runtime.drivers.pin_guard import GUARD_SILENCE_S, GuardedPulses
from robot_runtime.drivers.pulse_car import PulseCar
from robot_runtime.hardware import Hardware


class GpioPulses(PulsePair):
    """Two 50 Hz pulse trains on gpiozero PWM outputs (PulseOutputs)."""

    def __init__(self, esc_pin: int, servo_pin: int, neutral_us: float, center_us: float, *, pin_factory,
                 frame_hz: float = FRAME_HZ) -> None:
        from gpiozero import PWMOutputDevice

        super().__init__(neutral_us, center_us)
        self._period_us = 1e6 / frame_hz
        self._esc = PWMOutputDevice(esc_pin, frequency=frame_hz, initial_value=neutral_us / self._period_us,
                                    pin_factory=pin_factory)
        try:
            self._servo = PWMOutputDevice(servo_pin, frequency=frame_hz, initial_value=center_us / self._period_us,
                                          pin_factory=pin_factory)
        except Exception:
            self._esc.close()
            raise

    def _set(self, throttle_us: float, steering_us: float) -> None:
        self._esc.value = throttle_us / self._period_us
        self._servo.value = steering_us / self._period_us

    def _release(self) -> None:
        # Closing stops the pulse train: the ESC sees signal loss and holds neutral (its own failsafe).
        self._esc.close()
        self._servo.close()


def pin_factory_named(name: str):
    """A gpiozero pin factory: auto (gpiozero's own choice), pigpio, lgpio, or mock (fake_pins)."""
    if name == "mock":
        from robot_runtime.drivers.fake_pins import mock_factory

        return mock_factory()
    if name == "pigpio":
        from gpiozero.pins.pigpio import PiGPIOFactory

        return PiGPIOFactory()
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    return None  # gpiozero's own choice (GPIOZERO_PIN_FACTORY, else lgpio / rpigpio / pigpio / native)


def build_sensors(opts: SensorPins, pin_factory, car_holder: list) -> dict:
    """The Pi-pin sensors both pin drivers share; returns PulseCar keyword arguments."""
    from robot_runtime.devices.battery import BatteryMonitor
    from robot_runtime.devices.encoder import WheelEncoder
    from robot_runtime.devices.stop_button import StopButton
    from robot_runtime.devices.ultrasonic import UltrasonicSensor

    kw: dict = {}
    devices: dict[str, object] = {}
    closers: list[Callable[[], None]] = []
    try:
        if opts.distance:
            d = opts.distance
            sensor = UltrasonicSensor(d.trigger_pin, d.echo_pin, pin_factory=pin_factory, max_cm=d.max_cm)
            kw["distance"], devices["distance"] = sensor.read, sensor
            closers.append(sensor.close)
        if opts.encoder:
            enc = WheelEncoder(opts.encoder.pin, pin_b=opts.encoder.pin_b, pin_factory=pin_factory)
            kw |= {"ticks": lambda: enc.ticks, "cm_per_tick": opts.encoder.cm_per_tick, "signed_ticks": enc.signed}
            devices["encoder"] = enc
            closers.append(enc.close)
        if opts.battery:
            b = opts.battery
            bat = BatteryMonitor(b.channel, volts_per_unit=b.volts_per_unit, low_v=b.low_v, pin_factory=pin_factory)
            kw["battery"], devices["battery"] = bat.volts, bat
            closers.append(bat.close)
        if opts.stop_button_pin is not None:
            button = StopButton(opts.stop_button_pin, pin_factory=pin_factory,
                                on_press=lambda: car_holder[0].press_stop_button() if car_holder else None)
            devices["stop_button"] = button
            closers.append(button.close)
    except Exception:
        for close in closers:
            close()
        raise
    kw["closers"], kw["devices"] = tuple(closers), devices
    return kw


def open_pins(kind: str, what: str, make):
    """Run `make()`; a missing pin library or pin becomes HardwareUnavailable naming the fix."""
    from robot_runtime.drivers import HardwareUnavailable

    try:
        return make()
    except HardwareUnavailable:
        raise
    except Exception as exc:
        raise HardwareUnavailable(
            f"{kind} hardware: cannot open {what}: {type(exc).__name__}: {exc} — on a Raspberry Pi check the "
            "wiring and `pin_factory` (pigpio needs `sudo systemctl enable --now pigpiod`); on a laptop use "
            "`pin_factory: mock` (docs/real-car.md)") from None


def assemble(config: CarConfig, arena: Arena, opts: SensorPins, outputs, *, guarded: bool, pin_factory,
             clock: Callable[[], float], also_close: tuple[Callable[[], None], ...] = ()) -> PulseCar:
    """The car around its outputs, with the Pi-pin sensors of `opts` (both pin drivers end here)."""
    holder: list[PulseCar] = []
    try:
        sensors = open_pins(config.hardware, "the sensors", lambda: build_sensors(opts, pin_factory, holder))
    except Exception:
        outputs.close()
        raise
    sensors["closers"] = (*also_close, *sensors["closers"])
    car = PulseCar(config.spec.to_spec(), config.limits, opts, outputs, arena=arena, clock=clock,
                   failsafe_s=GUARD_SILENCE_S if guarded else None, **sensors)
    holder.append(car)
    return car


def create(config: CarConfig, arena: Arena, *, seed: int | None = None, noise: bool = False,
           pin_factory=None, outputs=None, clock: Callable[[], float] = time.monotonic) -> Hardware:
    """Build the gpio car. Tests pass `pin_factory` (fake pins) and/or `outputs` (e.g. a pin guard on a pipe)."""
    opts: GpioOptions = parse_options(GpioOptions, config.hardware_options, "gpio")
    factory = pin_factory if pin_factory is not None else open_pins("gpio", "the pin factory",
                                                                    lambda: pin_factory_named(opts.pin_factory))
    guarded = outputs is not None or (opts.guard and opts.pin_factory != "mock")
    plant = rehearsal_plant(opts, factory, arena) if opts.plant else None
    if outputs is None:
        neutral, center = opts.throttle.neutral_us, opts.steering.center_us
        if guarded:
            spec = {"kind": "gpio", "esc_pin": opts.esc_pin, "servo_pin": opts.servo_pin, "neutral_us": neutral,
                    "center_us": center, "pin_factory": opts.pin_factory}
            outputs = GuardedPulses.start(spec)
        else:
            outputs = open_pins("gpio", f"GPIO {opts.esc_pin}/{opts.servo_pin} for pulses", lambda: GpioPulses(
                opts.esc_pin, opts.servo_pin, neutral, center, pin_factory=factory))
    car = assemble(config, arena, opts, outputs, guarded=guarded, pin_factory=factory, clock=clock,
                   also_close=(plant.stop,) if plant else ())
    if plant is not None:
        car.devices["plant"] = plant  # the simulated car's truth, for `dojo car check` and tests
        plant.start()  # after the driver made its pins: from now on the pulses move the simulated car
    return car


def rehearsal_plant(opts: GpioOptions, pins, arena: Arena):
    """`plant: true`: the simulated car on the fake pins, with an ESC and servo as the calibration says."""
    from robot_runtime.drivers.fake_plant import PinPlant

    t, st = opts.throttle, opts.steering
    return PinPlant(pins, arena, esc_pin=opts.esc_pin, servo_pin=opts.servo_pin,
                    encoder_pin=opts.encoder.pin if opts.encoder else None,
                    cm_per_tick=opts.encoder.cm_per_tick if opts.encoder else 1.0,
                    neutral_us=t.neutral_us, forward_us=t.forward_max_us, reverse_us=t.reverse_max_us,
                    deadband_us=t.forward_deadband_us, center_us=st.center_us, left_us=st.left_us,
                    right_us=st.right_us,
                    distance_pins=(opts.distance.trigger_pin, opts.distance.echo_pin) if opts.distance else None)
