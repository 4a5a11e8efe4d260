"""Command line: print the marker sheets, look through the simulated camera, track from a real camera.

    python -m perception sheets --paper letter --cars 4 -o markers.pdf
    python -m perception snapshot --tilt 30 -o frame.png        # simulated camera, tracked cars drawn on
    python -m perception track --source usb:0 --arena my-arena.yaml --frames 100   # JSON lines of poses
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np

from perception.arena_file import ArenaFile, ArenaFileError, CameraSection, load_arena_file
from perception.camera import default_intrinsics
from perception.lens import DEFAULT_BOARD
from perception.markers import default_roof_markers
from perception.overlay import draw_tracking
from perception.problems import SourceError
from perception.sheets import marker_sheets
from perception.sim_camera import Imperfections, Scene, SimCamera, overhead_pose, random_car_poses
from perception.sources import open_source
from perception.tracker import Tracker
from robot_runtime.arena import DEFAULT_ARENA


def _arena_file(args: argparse.Namespace) -> ArenaFile:
    if args.arena:
        found = load_arena_file(args.arena)
        if found.camera.roof_markers or not getattr(args, "cars", 0):
            return found
        arena = found.arena
    else:
        arena = DEFAULT_ARENA
    cars = [f"car-{i}" for i in range(1, getattr(args, "cars", 0) + 1)]
    return ArenaFile(arena, CameraSection(roof_markers=default_roof_markers(cars)))


def cmd_sheets(args: argparse.Namespace) -> int:
    af = _arena_file(args)
    pdf = marker_sheets(af.plan(), args.paper, board=None if args.no_board else DEFAULT_BOARD)
    Path(args.output).write_bytes(pdf)
    print(f"wrote {args.output} ({args.paper}, {len(af.camera.roof_markers)} roof markers): print it at 100 % "
          "and check the 10 cm line with a ruler")
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    af = _arena_file(args)
    plan = af.plan()
    w, h = (int(v) for v in args.size.lower().split("x"))
    lens = default_intrinsics(w, h).model_copy(update={"dist": [-0.08, 0.02, 0.0, 0.0, 0.0], "source": "simulated"})
    camera = SimCamera(lens, overhead_pose(plan, lens, args.tilt), Imperfections(), seed=args.seed)
    sim = camera.render(Scene(plan, cars=random_car_poses(plan, np.random.default_rng(args.seed))))
    tracker = Tracker(plan)
    result = tracker.process(sim.image, 0.0)
    cv2.imwrite(args.output, draw_tracking(sim.image, result, plan) if not args.raw else sim.image)
    for car_id, truth in sim.truth.items():
        got = result.cars.get(car_id)
        seen = "not seen" if got is None else (f"tracked at ({got.motion.x_cm:.1f}, {got.motion.y_cm:.1f}) "
                                               f"{got.motion.heading_deg:.1f} deg, off by "
                                               f"{math.hypot(got.motion.x_cm - truth.x_cm, got.motion.y_cm - truth.y_cm):.2f} cm")
        print(f"{car_id}: truth ({truth.x_cm:.1f}, {truth.y_cm:.1f}) {truth.heading_deg:.1f} deg; {seen}")
    for p in result.problems:
        print(f"{p.severity}: {p}")
    print(f"wrote {args.output}")
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    af = _arena_file(args)
    plan = af.plan()
    tracker = Tracker(plan, calibration=af.camera.calibration)
    source = open_source(args.source or af.camera.source or "usb:0")
    try:
        n = 0
        while args.frames <= 0 or n < args.frames:
            frame = source.read()
            print(json.dumps(tracker.process(frame.image, frame.t).as_dict()), flush=True)
            n += 1
    finally:
        source.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m perception", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sheets", help="the printable marker sheets (PDF)")
    s.add_argument("--paper", choices=["a4", "letter"], default="a4")
    s.add_argument("--arena", help="an arena file (YAML); its camera.roof_markers are printed if it has them")
    s.add_argument("--cars", type=int, default=4, help="how many roof markers (car-1 .. car-N), if the arena has none")
    s.add_argument("--no-board", action="store_true", help="leave out the lens board page")
    s.add_argument("-o", "--output", default="markers.pdf")
    s.set_defaults(run=cmd_sheets)
    s = sub.add_parser("snapshot", help="one simulated camera picture, tracked")
    s.add_argument("--arena")
    s.add_argument("--cars", type=int, default=4)
    s.add_argument("--size", default="640x480")
    s.add_argument("--tilt", type=float, default=0.0, help="degrees from straight down")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--raw", action="store_true", help="the picture only, nothing drawn on it")
    s.add_argument("-o", "--output", default="frame.png")
    s.set_defaults(run=cmd_snapshot)
    s = sub.add_parser("track", help="track cars from a camera; prints one JSON line per picture")
    s.add_argument("--source", help="usb:N, an http:// or rtsp:// URL, file:PATH (default: the arena file's)")
    s.add_argument("--arena")
    s.add_argument("--cars", type=int, default=4)
    s.add_argument("--frames", type=int, default=0, help="stop after this many pictures (0: never)")
    s.set_defaults(run=cmd_track)
    args = ap.parse_args(argv)
    try:
        return args.run(args)
    except (ArenaFileError, SourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
