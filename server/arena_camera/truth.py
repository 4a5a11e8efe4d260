"""Camera poses as the truth for real cars: a pose filter the classroom runs on each car's telemetry.

A real car knows its position only by dead reckoning (encoders, a speed model) that drifts; a
simulated car knows it exactly. So for a car the arena camera tracks, whose telemetry does not come from
a simulator, the camera's pose and speed (seen within MAX_AGE_S) replace the car's own in what the server
keeps and passes on: the lesson's recording (so the attempt is graded from camera poses), the kids'
`position` reporters, the arena views. The telemetry then says ``pose_source: camera`` and how far
off the camera may be (the floor calibration's error, plus the distance the car moves in half a frame).

``stand_in`` makes a simulated car count as real (a rehearsal, the tests: its grading then uses only
what the camera saw). A car the camera has not seen lately keeps its own pose, said by its own
pose_source, so nothing is invented.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from robot_runtime.protocol import Pose, Telemetry
from server.arena_camera.camera import ArenaCamera

FRAME_S = 1.0 / 30.0
MAX_AGE_S = 1.0  # a camera pose up to this old still stands for the car (a slow or busy camera); older: the car's own


@dataclass
class CameraTruth:
    camera: ArenaCamera
    stand_in: set[str] = field(default_factory=set)  # simulated cars graded as if real (from the camera)
    replaced: dict[str, int] = field(default_factory=dict)  # car -> telemetry samples given a camera pose

    def is_real(self, car_id: str, tel: Telemetry) -> bool:
        return car_id in self.stand_in or tel.pose_source not in ("sim", "camera")

    def __call__(self, car_id: str, tel: Telemetry) -> Telemetry | None:
        if car_id not in self.camera.plan.roofs or not self.is_real(car_id, tel):
            return None
        sighting = self.camera.sightings.get(car_id)
        cal = self.camera.calibration
        if sighting is None or cal is None:
            return None
        age = time.monotonic() - sighting.at
        if age > MAX_AGE_S:
            return None
        m = sighting.car.motion
        age = max(age, 0.0)
        h = math.radians(m.heading_deg)
        speed = m.vx_cm_s * math.cos(h) + m.vy_cm_s * math.sin(h)  # signed, along the heading, as the car's own
        # No guessing forward: the last pose the camera saw, its uncertainty grown by how far the car may have
        # gone since. The speed is the camera's too, so a recording waits until the camera has seen it stop.
        uncertainty = cal.error_cm + math.hypot(m.vx_cm_s, m.vy_cm_s) * (FRAME_S / 2 + age)
        self.replaced[car_id] = self.replaced.get(car_id, 0) + 1
        return tel.model_copy(update={
            "pose": Pose(x_cm=round(m.x_cm, 2), y_cm=round(m.y_cm, 2), heading_deg=round(m.heading_deg, 2)),
            "speed_cm_s": round(speed, 1), "yaw_rate_dps": round(m.yaw_rate_dps, 1),
            "pose_source": "camera", "pose_uncertainty_cm": round(min(uncertainty, 100_000.0), 2)})
