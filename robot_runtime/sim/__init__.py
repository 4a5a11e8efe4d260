"""The simulated car and its world: a dynamic bicycle model with tyre slip, arena collisions, a ray-cast
distance sensor and optional seeded noise. See docs/simulator.md."""

from robot_runtime.sim.car import PHYSICS_HZ, SimCar, wrap_deg
from robot_runtime.sim.noise import NoiseSpec
from robot_runtime.sim.vehicle import BicycleModel, VehicleParams
from robot_runtime.sim.world import Contact, World

__all__ = ["PHYSICS_HZ", "BicycleModel", "Contact", "NoiseSpec", "SimCar", "VehicleParams", "World", "wrap_deg"]
