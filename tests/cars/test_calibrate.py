"""`dojo car calibrate` end to end on a pin-driven plant, with a scripted person who looks at the plant.

The plant's car has a trimmed servo (centre 1530 µs, ends 1880 / 1170), an ESC with a 40 µs dead band
wired backwards (pulses above neutral drive it backwards), and the simulator's physics. The walk
through must find all of that, and its braking model must cover the plant's real stopping distance at
a speed it never measured (measured here directly on the simulator).
"""

from __future__ import annotations

import pytest
import yaml

from robot_runtime.arena import Arena
from robot_runtime.calibrate_cli import calibrate
from robot_runtime.config import load_car_config
from robot_runtime.drivers import gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.fake_plant import PinPlant
from robot_runtime.hardware import Command
from robot_runtime.sim import SimCar

pytestmark = pytest.mark.timeout(120)

ARENA = Arena(name="gym", width_cm=5000, height_cm=5000, start={"x_cm": 2500, "y_cm": 2500, "heading_deg": 0})
TRUE = {"neutral_us": 1500, "forward_us": 1000, "reverse_us": 2000, "deadband_us": 40,
        "center_us": 1530, "left_us": 1880, "right_us": 1170}


class Person:
    """Answers each prompt by looking at the plant, as someone standing by the car would."""

    def __init__(self, plant: PinPlant) -> None:
        self.plant, self.prompt, self.said, self.turned = plant, "", [], 0.0

    def say(self, text: str) -> None:
        self.said.append(text)
        self.prompt = text
        if text.startswith("Step 2"):  # off the box, onto the floor at the start mark
            self.plant.sim.place(ARENA.start)

    def poll_line(self) -> str | None:
        p, servo = self.prompt, self.plant.pins.pin(13).pulse_us
        speed = self.plant.sim.read().speed_cm_s
        if p.startswith("Steering centre"):
            return "" if abs(servo - TRUE["center_us"]) <= 5 else ("l" if servo < TRUE["center_us"] else "r")
        if p.startswith("Left end"):
            return "" if servo >= TRUE["left_us"] - 5 else "l"
        if p.startswith("Right end"):
            return "" if servo <= TRUE["right_us"] + 5 else "r"
        if "as soon as the wheels turn" in p:
            backwards = p.endswith("backwards.")
            if (speed < -0.5) if backwards else abs(speed) > 0.5:
                self.turned, self.prompt = speed, ""
                return ""
            return None
        if p.startswith("Did the wheels turn FORWARD"):
            self.prompt = ""
            return "y" if self.turned > 0 else "n"
        if p.startswith("On the floor"):
            self.prompt = ""
            return ""
        return None


def true_stop_cm(throttle: float) -> tuple[float, float]:
    """(speed, stopping distance) of the plant's car from a steady run, measured on the simulator itself."""
    car = SimCar(arena=ARENA)
    for _ in range(150):
        car.apply(Command(throttle, 0.0))
        car.advance(0.02)
    v, x0 = car.read().speed_cm_s, car.pose.x_cm
    car.advance(0.02)  # the neutral pulse goes out at the next tick
    for _ in range(250):
        car.apply(Command(0.0, 0.0))
        car.advance(0.02)
    return v, car.pose.x_cm - x0


def test_calibrate_finds_trim_ends_dead_band_reversed_esc_and_a_braking_model_that_covers_the_truth(tmp_path):
    pins = mock_factory()
    plant = PinPlant(pins, ARENA, cm_per_tick=0.5, **TRUE)
    path = tmp_path / "car.yaml"
    (tmp_path / "arena.yaml").write_text(ARENA.model_dump_json())
    path.write_text(yaml.safe_dump({"car_id": "car-c", "hardware": "gpio", "arena_file": "arena.yaml", "hardware_options": {
        "pin_factory": "mock", "encoder": {"pin": 5, "cm_per_tick": 0.5}}}))
    person = Person(plant)
    result = calibrate(path, person, speeds=[30, 60],
                       make_car=lambda cfg: gpio.create(cfg, ARENA, pin_factory=pins, clock=plant.clock.now),
                       now=plant.clock.now, sleep=plant.clock.advance)
    cfg = load_car_config(path)
    opts = cfg.hardware_options
    assert abs(opts["steering"]["center_us"] - 1530) <= 5
    assert abs(opts["steering"]["left_us"] - 1880) <= 10 and abs(opts["steering"]["right_us"] - 1170) <= 10
    assert opts["throttle"]["forward_max_us"] < 1500 < opts["throttle"]["reverse_max_us"]  # swapped: it drove backwards
    assert any("Swapped" in s for s in person.said)
    assert abs(opts["throttle"]["forward_deadband_us"] - 40) <= 10
    assert abs(opts["throttle"]["reverse_deadband_us"] - 40) <= 10
    assert cfg.spec.top_speed_cm_s == pytest.approx(300, rel=0.15)
    v, d = true_stop_cm(0.45)  # a speed the calibration never drove
    predicted = v * cfg.limits.reaction_s + v * v / (2 * cfg.limits.brake_decel_cm_s2)
    assert d <= predicted <= 1.6 * d + 2.0, (v, d, predicted, result)
