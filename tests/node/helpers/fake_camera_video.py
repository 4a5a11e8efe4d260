"""Write a Y4M clip from our simulated overhead camera, for Chromium's fake video device
(--use-file-for-fake-video-capture): a 2 m x 1.5 m arena, its four corner markers and car-1 (roof
marker 10) moving a little, seen by a 640x480 webcam with its lens, blur, noise and uneven light.

    python tests/node/helpers/fake_camera_video.py OUT.y4m [FRAMES]
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

from perception.markers import MarkerPlan, RoofMarker
from perception.sim_camera import Scene
from perception.sim_rigs import overhead_rig
from robot_runtime.arena import Arena
from robot_runtime.protocol import Pose

ARENA = Arena(name="fake webcam room", width_cm=200.0, height_cm=150.0, start=Pose(x_cm=40, y_cm=40, heading_deg=0))
FPS = 10


def main(path: str, frames: int = 10) -> None:
    plan = MarkerPlan(ARENA, [RoofMarker(car_id="car-1", marker_id=10)])
    camera = overhead_rig(plan).camera(seed=5)
    with open(path, "wb") as out:
        w, h = camera.intrinsics.size
        out.write(f"YUV4MPEG2 W{w} H{h} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            pose = Pose(x_cm=80.0 + 2.0 * i, y_cm=70.0, heading_deg=10.0)
            image = camera.render(Scene(plan, cars={"car-1": pose}), frame_seed=i).image
            out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).astype(np.uint8).tobytes())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
