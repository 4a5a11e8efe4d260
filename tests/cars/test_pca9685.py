"""The PCA9685 driver against a fake chip at the I2C edge that decodes register writes as the chip does."""

from __future__ import annotations

import pytest

from robot_runtime.arena import Arena
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.devices.esc import ARM_S
from robot_runtime.drivers import HardwareUnavailable, pca9685
from robot_runtime.drivers.fake_i2c import FakeSMBus
from robot_runtime.hardware import Command

ARENA = Arena(name="hall", width_cm=2000, height_cm=2000, start={"x_cm": 300, "y_cm": 1000, "heading_deg": 0})
COUNTS_US = 1e6 / (25e6 / (4096 * 102)) / 4096  # one count at the real 59.8 Hz frame (prescale 101): ~4.09 µs


def make(opts=None, bus=None):
    bus = bus or FakeSMBus()
    clock = ManualClock()
    config = CarConfig(car_id="car-p", hardware="pca9685", mode="headless", hardware_options={"guard": False, **(opts or {})})
    return pca9685.create(config, ARENA, smbus=bus, clock=clock.now), bus.devices.get(0x40), clock


def test_channels_get_the_calibrated_pulses_at_donkeycars_60hz():
    car, chip, clock = make({"throttle": {"neutral_us": 1505, "forward_max_us": 2034, "reverse_max_us": 895},
                             "steering": {"center_us": 1530, "left_us": 1872, "right_us": 1180}})
    assert chip.refused == [] and chip.regs[0xFE] == 101  # round(25e6 / (4096 * 60)) - 1
    assert chip.pulse_us(0) == pytest.approx(1505, abs=COUNTS_US) and chip.pulse_us(1) == pytest.approx(1530, abs=COUNTS_US)
    clock.advance(ARM_S)
    car.apply(Command(1.0, -1.0))
    assert chip.pulse_us(0) == pytest.approx(2034, abs=COUNTS_US)  # full forward
    assert chip.pulse_us(1) == pytest.approx(1180, abs=COUNTS_US)  # full right
    car.apply(Command(0.5, 0.5))
    assert chip.pulse_us(0) == pytest.approx(1505 + 0.5 * (2034 - 1505), abs=COUNTS_US)
    assert chip.pulse_us(1) == pytest.approx(1530 + 0.5 * (1872 - 1530), abs=COUNTS_US)


def test_stop_is_neutral_and_close_stops_the_pulse_trains():
    car, chip, clock = make()
    clock.advance(ARM_S)
    car.apply(Command(0.7, 0.2))
    car.stop()
    assert chip.pulse_us(0) == pytest.approx(1500, abs=COUNTS_US) and chip.pulse_us(1) == pytest.approx(1500, abs=COUNTS_US)
    car.close()
    assert chip.pulse_us(0) == 0.0 and chip.pulse_us(1) == 0.0
    assert [us for _, us in chip.pulses(0)][-2:] == [pytest.approx(1500, abs=COUNTS_US), 0.0]  # neutral, then off


def test_other_channels_and_addresses():
    bus = FakeSMBus(addresses=(0x41,))
    car, _, clock = make({"address": 0x41, "throttle_channel": 4, "steering_channel": 5}, bus=bus)
    clock.advance(ARM_S)
    car.apply(Command(1.0, 0.0))
    chip = bus.devices[0x41]
    assert chip.pulse_us(4) == pytest.approx(2000, abs=COUNTS_US) and chip.pulse_us(0) == 0.0


def test_nothing_at_the_address_is_a_clear_error():
    with pytest.raises(HardwareUnavailable, match=r"PCA9685 at 0x40 on I2C bus 1.*Remote I/O"):
        make(bus=FakeSMBus(addresses=(0x70,)))
