"""`hardware: pca9685` — ESC and steering servo on a PCA9685 16-channel servo board over I2C.

The DonkeyCar standard: throttle on channel 0, steering on channel 1, address 0x40 on I2C bus 1, a
60 Hz frame. The PCA9685 makes the pulses with its own oscillator (jitter-free) and keeps making
them when the Pi's program dies — so its channels belong to the pin guard process (pin_guard.py),
which sets neutral when the runtime dies or stalls. Sensors stay on the Pi's pins (gpio.py).

Registers (NXP datasheet): MODE1 0x00 (SLEEP 0x10, AI auto-increment 0x20, RESTART 0x80), PRE_SCALE
0xFE (written only while asleep), LEDn_ON_L = 0x06 + 4n: ON_L, ON_H, OFF_L, OFF_H, 12-bit counts
within the frame. A pulse of `us` at frame `f` Hz is OFF = us * f * 4096 / 1e6 counts (ON = 0).
I2C goes through smbus2 (pure Python); tests pass a fake bus (fake_i2c.FakeSMBus).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.devices.pulses import PulsePair
from robot_runtime.drivers.gpio import assemble, open_pins, pin_factory_named
from robot_runtime.drivers.options import Pca9685Options, parse_options
from robot_runtime.drivers.pin_guard import GuardedPulses
from robot_runtime.hardware import Hardware

MODE1, PRE_SCALE, LED0_ON_L = 0x00, 0xFE, 0x06
SLEEP, AUTO_INCREMENT, RESTART = 0x10, 0x20, 0x80
OSC_HZ = 25_000_000  # the PCA9685's internal oscillator
OSC_WAKE_S = 0.0005  # the oscillator needs 500 µs after leaving sleep (datasheet)


def prescale_for(frame_hz: float) -> int:
    return max(3, min(255, round(OSC_HZ / (4096 * frame_hz)) - 1))


class Pca9685:
    """The chip: frame rate and per-channel pulse widths."""

    def __init__(self, bus, address: int = 0x40, frame_hz: float = 60.0) -> None:
        self.bus, self.address = bus, address
        prescale = prescale_for(frame_hz)
        self.frame_hz = OSC_HZ / (4096 * (prescale + 1))  # the rate it really runs at
        bus.write_byte_data(address, MODE1, SLEEP)
        bus.write_byte_data(address, PRE_SCALE, prescale)
        bus.write_byte_data(address, MODE1, AUTO_INCREMENT)
        time.sleep(OSC_WAKE_S)
        bus.write_byte_data(address, MODE1, AUTO_INCREMENT | RESTART)

    def set_pulse_us(self, channel: int, us: float) -> None:
        off = max(0, min(4095, round(us * self.frame_hz * 4096 / 1e6)))
        self.bus.write_i2c_block_data(self.address, LED0_ON_L + 4 * channel, [0, 0, off & 0xFF, off >> 8])

    def channel_off(self, channel: int) -> None:
        """No pulses at all on the channel (full-off bit): what the ESC sees as signal loss."""
        self.bus.write_i2c_block_data(self.address, LED0_ON_L + 4 * channel, [0, 0, 0, 0x10])


class Pca9685Pulses(PulsePair):
    """PulseOutputs on two PCA9685 channels."""

    def __init__(self, chip: Pca9685, throttle_channel: int, steering_channel: int, neutral_us: float,
                 center_us: float) -> None:
        super().__init__(neutral_us, center_us)
        self.chip = chip
        self.channels = (throttle_channel, steering_channel)

    @classmethod
    def open(cls, *, bus: int, address: int, throttle_channel: int, steering_channel: int, frame_hz: float,
             neutral_us: float, center_us: float, smbus=None) -> "Pca9685Pulses":
        if smbus is None:
            from smbus2 import SMBus

            smbus = SMBus(bus)
        return cls(Pca9685(smbus, address, frame_hz), throttle_channel, steering_channel, neutral_us, center_us)

    def _set(self, throttle_us: float, steering_us: float) -> None:
        self.chip.set_pulse_us(self.channels[0], throttle_us)
        self.chip.set_pulse_us(self.channels[1], steering_us)

    def _release(self) -> None:
        for ch in self.channels:
            try:
                self.chip.channel_off(ch)
            except Exception:
                pass


def create(config: CarConfig, arena: Arena, *, seed: int | None = None, noise: bool = False,
           smbus=None, pin_factory=None, outputs=None, clock: Callable[[], float] = time.monotonic) -> Hardware:
    """Build the PCA9685 car. Tests pass `smbus` (a fake I2C bus), `pin_factory` and/or `outputs`."""
    opts: Pca9685Options = parse_options(Pca9685Options, config.hardware_options, "pca9685")
    spec = {"bus": opts.i2c_bus, "address": opts.address, "throttle_channel": opts.throttle_channel,
            "steering_channel": opts.steering_channel, "frame_hz": opts.frequency_hz,
            "neutral_us": opts.throttle.neutral_us, "center_us": opts.steering.center_us}
    guarded = outputs is not None or (opts.guard and smbus is None)
    if outputs is None:
        if guarded:
            outputs = GuardedPulses.start({"kind": "pca9685", **spec})
        else:
            outputs = open_pins("pca9685", f"the PCA9685 at 0x{opts.address:02x} on I2C bus {opts.i2c_bus}",
                                lambda: Pca9685Pulses.open(**spec, smbus=smbus))
    factory = pin_factory
    if factory is None and opts.used_pins().keys() - {"I2C SDA", "I2C SCL"}:
        try:
            factory = open_pins("pca9685", "the pin factory", lambda: pin_factory_named(opts.pin_factory))
        except Exception:
            outputs.close()
            raise
    return assemble(config, arena, opts, outputs, guarded=guarded, pin_factory=factory, clock=clock)
