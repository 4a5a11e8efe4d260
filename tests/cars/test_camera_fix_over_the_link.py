"""A real car fuses the overhead camera's pose of itself that the server sends in `neighbours.own`
(server/cars/neighbours.py): its dead-reckoned position moves to where the camera saw it, and its
uncertainty shrinks. A gpio car on gpiozero's mock pins; the message goes through the runtime's handler."""

from __future__ import annotations

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.drivers import gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.fake_plant import PinPlant
from robot_runtime.protocol import NearbyCar, Neighbours
from robot_runtime.runtime import CarRuntime

ARENA = Arena(width_cm=400, height_cm=300, start={"x_cm": 100, "y_cm": 100, "heading_deg": 0})


def test_the_cameras_pose_of_the_car_pulls_its_dead_reckoning_to_it():
    pins = mock_factory()
    plant = PinPlant(pins, ARENA, cm_per_tick=0.5)
    config = CarConfig(car_id="gpio-1", hardware="gpio", watchdog=False, mode="headless",
                       hardware_options={"pin_factory": "mock", "encoder": {"pin": 5, "cm_per_tick": 0.5}})
    car = gpio.create(config, ARENA, pin_factory=pins, clock=plant.clock.now)
    runtime = CarRuntime(config, car, plant.clock, arena=ARENA)
    try:
        runtime.loop.run_headless(1.0)
        before = car.read()
        sigma_before = car.pose.uncertainty_cm
        own = NearbyCar(car_id="gpio-1", x_cm=130.0, y_cm=90.0, heading_deg=0.0, age_s=0.0, uncertainty_cm=0.5,
                        source="camera")
        assert runtime.handle_neighbours(Neighbours(cars=[], own=own).model_dump(mode="json"))["ok"]
        after = car.read()
        assert (before.x_cm, before.y_cm) == (100.0, 100.0)
        # a 0.5 cm camera against a car sure to a cm or two: the blend lands most of the way to the camera
        assert 100.0 < after.x_cm <= 130.0 and abs(after.x_cm - 130.0) < 5.0
        assert 90.0 <= after.y_cm < 100.0 and abs(after.y_cm - 90.0) < 5.0
        assert after.pose_source == "camera"
        assert car.pose.uncertainty_cm < max(sigma_before, 1.0)
        assert car.pose.fixes == 1
    finally:
        car.close()
