"""`hardware_options` of a real car, validated per driver; errors name the field, the bound and the fix.

    hardware: gpio
    hardware_options:
      esc_pin: 12                 # BCM numbers
      servo_pin: 13
      pin_factory: pigpio         # auto | pigpio | lgpio | mock
      throttle: {neutral_us: 1500, forward_max_us: 1900, reverse_max_us: 1100, forward_deadband_us: 40}
      steering: {center_us: 1480, left_us: 1880, right_us: 1080}
      distance: {trigger_pin: 23, echo_pin: 24}
      encoder: {pin: 5, cm_per_tick: 0.55}
      stop_button_pin: 26
      battery: {channel: 0}

`plant: true` (gpio, with `pin_factory: mock`) puts a simulated car on the fake pins (fake_plant.py): it
reads the ESC and servo pulses, drives the encoder pin and answers the distance sensor, so the whole car
runs on a laptop (a rehearsal of a class, the end-to-end tests).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from robot_runtime.config import format_validation_error
from robot_runtime.devices.pulses import SteeringCalibration, ThrottleCalibration

BcmPin = Annotated[int, Field(ge=2, le=27)]  # the header's GPIO 2..27 (0/1 are the HAT EEPROM's I2C)
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistanceOptions(_Strict):
    trigger_pin: BcmPin
    echo_pin: BcmPin
    max_cm: Annotated[float, Field(gt=0, le=500)] = 300.0


class EncoderOptions(_Strict):
    pin: BcmPin
    pin_b: BcmPin | None = None  # a second channel (quadrature) gives the direction
    cm_per_tick: Annotated[float, Field(gt=0, le=50)]  # wheel circumference / ticks per wheel turn


class BatteryOptions(_Strict):
    channel: Annotated[int, Field(ge=0, le=7)] = 0
    volts_per_unit: Positive = 9.9  # ADC reference 3.3 V times a 3:1 divider
    low_v: Positive = 6.8  # a 2S LiPo at 3.4 V per cell


class SensorPins(_Strict):
    """Sensors on the Pi's own pins (the gpio and pca9685 drivers)."""

    pin_factory: Literal["auto", "pigpio", "lgpio", "mock"] = "auto"
    distance: DistanceOptions | None = None
    encoder: EncoderOptions | None = None
    stop_button_pin: BcmPin | None = None
    battery: BatteryOptions | None = None

    def used_pins(self) -> dict[str, int]:
        pins: dict[str, int] = {}
        if self.distance:
            pins |= {"distance.trigger_pin": self.distance.trigger_pin, "distance.echo_pin": self.distance.echo_pin}
        if self.encoder:
            pins["encoder.pin"] = self.encoder.pin
            if self.encoder.pin_b is not None:
                pins["encoder.pin_b"] = self.encoder.pin_b
        if self.stop_button_pin is not None:
            pins["stop_button_pin"] = self.stop_button_pin
        if self.battery:  # the MCP3008 on SPI0: SCLK 11, MOSI 10, MISO 9, CE0 8
            pins |= {"battery (SPI SCLK)": 11, "battery (SPI MOSI)": 10, "battery (SPI MISO)": 9, "battery (SPI CE0)": 8}
        return pins

    @model_validator(mode="after")
    def _no_shared_pins(self):
        seen: dict[int, str] = {}
        for name, pin in self.used_pins().items():
            if pin in seen:
                raise ValueError(f"GPIO {pin} is used twice ({seen[pin]} and {name}) — give each its own pin")
            seen[pin] = name
        return self


class PulseCalibration(_Strict):
    throttle: ThrottleCalibration = ThrottleCalibration()
    steering: SteeringCalibration = SteeringCalibration()
    response_s: Annotated[float, Field(gt=0, le=5)] = 0.25  # the speed model's time constant (calibrated)
    guard: bool = True  # outputs owned by the pin guard process (neutral when the runtime dies)


class GpioOptions(PulseCalibration, SensorPins):
    esc_pin: BcmPin = 12  # 12/13 are hardware-PWM capable (PWM0/PWM1)
    servo_pin: BcmPin = 13
    plant: bool = False  # a simulated car on the fake pins (needs pin_factory: mock)

    def used_pins(self) -> dict[str, int]:
        return {"esc_pin": self.esc_pin, "servo_pin": self.servo_pin, **super().used_pins()}

    @model_validator(mode="after")
    def _plant_needs_fake_pins(self):
        if self.plant and self.pin_factory != "mock":
            raise ValueError(f"plant: true drives a simulated car from fake pins — it needs pin_factory: mock "
                             f"(got {self.pin_factory}); on a real car remove `plant`")
        return self


class Pca9685Options(PulseCalibration, SensorPins):
    i2c_bus: Annotated[int, Field(ge=0, le=20)] = 1
    address: Annotated[int, Field(ge=0x03, le=0x77)] = 0x40
    throttle_channel: Annotated[int, Field(ge=0, le=15)] = 0  # DonkeyCar: "PCA9685.1:40.0"
    steering_channel: Annotated[int, Field(ge=0, le=15)] = 1  # DonkeyCar: "PCA9685.1:40.1"
    frequency_hz: Annotated[float, Field(ge=40, le=200)] = 60.0  # DonkeyCar's default frame rate

    def used_pins(self) -> dict[str, int]:  # I2C1: SDA 2, SCL 3
        return {"I2C SDA": 2, "I2C SCL": 3, **super().used_pins()}

    @model_validator(mode="after")
    def _two_channels(self):
        if self.throttle_channel == self.steering_channel:
            raise ValueError(f"throttle_channel and steering_channel are both {self.throttle_channel} — "
                             "give the ESC and the servo their own channel")
        return self


class SerialOptions(PulseCalibration):
    port: Annotated[str, Field(min_length=1, max_length=200)] = "/dev/ttyACM0"
    baud: Literal[9600, 57600, 115200, 230400, 460800, 921600] = 115200
    cm_per_tick: Annotated[float, Field(gt=0, le=50)] | None = None  # the board's wheel encoder, if wired
    guard: bool = False  # the board keeps its own 250 ms failsafe: no pin guard needed


def parse_options(model: type[BaseModel], options: dict[str, Any], kind: str) -> Any:
    from robot_runtime.drivers import UnknownHardware

    try:
        return model.model_validate(options)
    except ValidationError as exc:
        text = format_validation_error(exc).replace("  ", "  hardware_options.", 1)
        text = text.replace("\n  ", "\n  hardware_options.")
        raise UnknownHardware(f"car config ({kind} hardware):\n{text}") from None
