"""`python -m perception` as a user runs it, and the import rules: perception sits above robot_runtime only,
and the car never loads it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from perception.sim_camera import Scene
from perception_helpers import OVERHEAD, PLAN, random_poses

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 60.0  # importing cv2 + numpy and drawing a few pictures takes ~1 s; a minute is a hang


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "perception", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=RUN_TIMEOUT_S)


def test_perception_imports_only_robot_runtime_of_our_packages():
    modules = sorted(p.stem for p in (REPO / "perception").glob("*.py") if p.stem != "__main__")
    code = ("import sys\n" + "".join(f"import perception.{m}\n" for m in modules)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('server', 'curriculum', 'dojo', 'torch')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_car_runtime_never_loads_perception():
    code = ("import sys\nimport robot_runtime.car, robot_runtime.link, robot_runtime.drivers, robot_runtime.arena\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('perception', 'cv2')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_sheets_command_writes_a_pdf(tmp_path):
    proc = run("sheets", "--paper", "letter", "--cars", "2", "-o", "m.pdf", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF-1.4")
    assert "check the 10 cm line" in proc.stdout


def test_snapshot_command_tracks_the_simulated_cars(tmp_path):
    proc = run("snapshot", "--size", "1280x720", "--tilt", "25", "--cars", "3", "-o", "f.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    offs = [float(line.split("off by ")[1].split(" cm")[0]) for line in proc.stdout.splitlines() if "off by" in line]
    assert len(offs) == 3 and max(offs) < 2.0
    assert cv2.imread(str(tmp_path / "f.png")).shape == (720, 1280, 3)


def test_track_command_prints_one_json_line_per_picture(tmp_path):
    camera = OVERHEAD.camera(seed=6)
    truth = random_poses(np.random.default_rng(6))
    video = tmp_path / "arena.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, OVERHEAD.lens.size)
    for i in range(4):
        writer.write(camera.render(Scene(PLAN, cars=truth), frame_seed=i).image)
    writer.release()
    arena = tmp_path / "arena.yaml"
    arena.write_text("name: test room\nwidth_cm: 200\nheight_cm: 150\nstart: {x_cm: 40, y_cm: 40, heading_deg: 0}\n")
    proc = run("track", "--source", f"file:{video}", "--arena", str(arena), "--frames", "4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 4 and all(line["ok"] for line in lines)
    last = {c["car_id"]: c for c in lines[-1]["cars"]}
    for car_id, pose in truth.items():
        assert abs(last[car_id]["x_cm"] - pose.x_cm) < 2 and abs(last[car_id]["y_cm"] - pose.y_cm) < 2


def test_commands_report_bad_input_in_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("width_cm: -3\n")
    proc = run("sheets", "--arena", "bad.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "bad.yaml" in proc.stderr and "width_cm" in proc.stderr
    proc = run("track", "--source", "usb:x", cwd=tmp_path)
    assert proc.returncode == 2 and "usb:N" in proc.stderr
