"""Optional sensor and actuator noise for the simulated car, reproducible from a seed.

Without a NoiseSpec (or with every sigma at 0) the simulator is exactly deterministic and never touches
a random generator. With one, all draws come from one ``numpy.random.Generator(PCG64(seed))`` in a
fixed order, so the same seed and the same commands give the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseSpec:
    seed: int = 0
    distance_sigma_cm: float = 1.0  # ultrasonic/ToF sensors: about 1 cm at classroom ranges
    pose_sigma_cm: float = 0.0  # what the car reports about its own position (e.g. from overhead tracking)
    heading_sigma_deg: float = 0.0
    speed_sigma_cm_s: float = 1.0  # wheel-encoder or ESC speed estimate
    throttle_sigma: float = 0.01  # ESC jitter, fraction of top speed, redrawn per command
    steering_sigma: float = 0.01  # servo jitter, fraction of max steer, redrawn per command
    steering_trim: float = 0.0  # a constant servo mis-centring (fraction of max steer): real cars have one

    def __post_init__(self) -> None:
        for name in ("distance_sigma_cm", "pose_sigma_cm", "heading_sigma_deg", "speed_sigma_cm_s", "throttle_sigma", "steering_sigma"):
            v = getattr(self, name)
            if not v >= 0.0:
                raise ValueError(f"noise {name} must be >= 0 (got {v})")
        if not -0.2 <= self.steering_trim <= 0.2:
            raise ValueError(f"noise steering_trim must be between -0.2 and 0.2 (got {self.steering_trim})")


class NoiseSource:
    """Draws for one car: one generator, fixed draw order."""

    def __init__(self, spec: NoiseSpec) -> None:
        self.spec = spec
        self._rng = np.random.Generator(np.random.PCG64(spec.seed))

    def actuator(self, throttle: float, steering: float) -> tuple[float, float]:
        s = self.spec
        dt, ds = self._rng.normal(0.0, 1.0, 2)
        return throttle + s.throttle_sigma * float(dt), steering + s.steering_trim + s.steering_sigma * float(ds)

    def sensors(self) -> tuple[float, float, float, float, float]:
        """Additive noise: (x, y, heading_deg, speed, distance)."""
        s = self.spec
        z = self._rng.normal(0.0, 1.0, 5)
        return (
            s.pose_sigma_cm * float(z[0]),
            s.pose_sigma_cm * float(z[1]),
            s.heading_sigma_deg * float(z[2]),
            s.speed_sigma_cm_s * float(z[3]),
            s.distance_sigma_cm * float(z[4]),
        )
