"""Named skills in the simulator, through the real supervisor and loop: slalom, figure eight, parallel park."""

from __future__ import annotations

import math

import pytest

from robot_runtime.arena import Arena, Cone, NamedZone
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import NamedSkillAction, Pose
from robot_runtime.sim import SimCar
from robot_runtime.skills.parallel_park import STANDARD_BOX_CM, box_axis, standard_parking_box
from robot_runtime.skills.registry import skill_names
from robot_runtime.skills.scripted import to_local
from robot_runtime.skills.slalom import STANDARD_CONES_AHEAD_CM, slalom_gates

from sim_helpers import run_supervised

LEVEL_3 = {"max_speed_pct": 70, "level": 3}
HALF_W = CarSpec().width_cm / 2


def test_every_skill_in_the_block_catalog_is_registered_on_the_car():
    from curriculum.catalog import SKILL_NAMES  # the test may look at the server; the car runtime never imports it

    assert set(SKILL_NAMES) <= set(skill_names())


def _turned_deg(states) -> list[float]:
    out = [0.0]
    for a, b in zip(states, states[1:]):
        out.append(out[-1] + (b.heading_deg - a.heading_deg + 540.0) % 360.0 - 180.0)
    return out


# --- slalom ------------------------------------------------------------------------------------


def _cone_line(start, spacing: float, n: int = 4, first: float = 100.0, wobble: float = 0.0) -> list[Cone]:
    h = math.radians(start[2])
    cones = []
    for i in range(n):
        a, lat = first + i * spacing, wobble * (1 if i % 2 else -1)
        cones.append(Cone(x_cm=start[0] + a * math.cos(h) - lat * math.sin(h), y_cm=start[1] + a * math.sin(h) + lat * math.cos(h)))
    return cones


def _gate_crossings(states, start, gates):
    """For each gate: the car's offset from the cone (+ = on the gate's side) when it crossed the gate line."""
    h = math.radians(start[2])
    out = []
    for g in gates:
        for a, b in zip(states, states[1:]):
            ax0, _ = to_local(a.x_cm, a.y_cm, start[0], start[1], h)
            ax1, ly1 = to_local(b.x_cm, b.y_cm, start[0], start[1], h)
            if ax0 < g.ahead_cm <= ax1:
                out.append((ly1 - g.lateral_cm) * g.side)
                break
        else:
            out.append(None)
    return out


SLALOM_STARTS = [(100.0, 500.0, 0.0), (500.0, 100.0, 90.0), (900.0, 900.0, -135.0), (200.0, 300.0, 20.0)]


@pytest.mark.parametrize("start", SLALOM_STARTS)
@pytest.mark.parametrize(("spacing", "wobble"), [(120.0, 0.0), (150.0, 8.0)])
def test_slalom_passes_its_gates_touching_no_cone(start, spacing, wobble):
    arena = Arena(width_cm=1000, height_cm=1000, start=Pose(x_cm=start[0], y_cm=start[1], heading_deg=start[2]),
                  cones=_cone_line(start, spacing, wobble=wobble) + [Cone(x_cm=950, y_cm=50)])  # plus one off the course
    run = run_supervised(SimCar(arena=arena), NamedSkillAction(name="slalom", speed_pct=70), limits=LEVEL_3)
    assert run.result.status == "done", run.result
    assert not [c for s in run.states for c in s.collisions]
    gates = slalom_gates(arena, arena.start)
    assert [g.arena_cone for g in gates] == [0, 1, 2, 3]
    assert [g.side for g in gates] == [1, -1, 1, -1]  # alternate sides
    for offset, g in zip(_gate_crossings(run.states, start, gates), gates):
        assert offset is not None and offset > g.radius_cm + HALF_W  # crossed on its side, body clear of the cone


def test_slalom_without_cones_weaves_the_standard_layout():
    start = (100.0, 300.0, 0.0)
    arena = Arena(width_cm=700, height_cm=600, start=Pose(x_cm=100, y_cm=300, heading_deg=0))
    run = run_supervised(SimCar(arena=arena), NamedSkillAction(name="slalom", speed_pct=50))
    assert run.result.status == "done"
    gates = slalom_gates(arena, arena.start)
    assert [g.ahead_cm for g in gates] == list(STANDARD_CONES_AHEAD_CM) and all(g.arena_cone is None for g in gates)
    assert all(o is not None and o > 14.0 for o in _gate_crossings(run.states, start, gates))


def test_slalom_with_cones_too_close_says_how_far_apart_they_must_be():
    start = (100.0, 300.0, 0.0)
    arena = Arena(width_cm=900, height_cm=600, start=Pose(x_cm=100, y_cm=300, heading_deg=0), cones=_cone_line(start, 70.0))
    run = run_supervised(SimCar(arena=arena), NamedSkillAction(name="slalom", speed_pct=50))
    assert (run.result.status, run.result.reason) == ("failed", "cones_too_close")
    assert "cm apart" in run.result.kid_text
    assert max(abs(c.throttle) for c in run.sent) == 0.0


def test_slalom_without_room_ahead_fails_before_moving():
    run = run_supervised(SimCar(arena=Arena()), NamedSkillAction(name="slalom", speed_pct=50))  # 300 x 200, start at x=50
    assert (run.result.status, run.result.reason) == ("failed", "no_room")


# --- figure eight ------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [(300.0, 300.0, 0.0), (300.0, 300.0, 90.0), (300.0, 300.0, 180.0), (320.0, 280.0, -45.0)])
def test_figure_eight_loops_left_then_right_and_comes_back(start):
    arena = Arena(width_cm=600, height_cm=600)
    car = SimCar(arena=arena, pose=Pose(x_cm=start[0], y_cm=start[1], heading_deg=start[2]))
    run = run_supervised(car, NamedSkillAction(name="figure_eight", speed_pct=70), limits=LEVEL_3)
    assert run.result.status == "done", run.result
    assert not [c for s in run.states for c in s.collisions]
    turned = _turned_deg(run.states)
    peak = turned.index(max(turned))
    assert max(turned) > 320.0  # a full loop to the left ...
    assert turned[-1] - max(turned) < -320.0  # ... then a full loop to the right
    lat = [to_local(s.x_cm, s.y_cm, start[0], start[1], math.radians(start[2]))[1] for s in run.states]
    assert max(lat[:peak]) > 100.0 and min(lat[peak:]) < -100.0  # one lobe on each side
    assert math.hypot(run.end.x_cm - start[0], run.end.y_cm - start[1]) < 40.0


def test_figure_eight_without_room_fails_before_moving():
    run = run_supervised(SimCar(arena=Arena()), NamedSkillAction(name="figure_eight", speed_pct=50))
    assert (run.result.status, run.result.reason) == ("failed", "no_room")
    assert "open floor" in run.result.kid_text


# --- parallel park -----------------------------------------------------------------------------


def _in_box(state, zone: NamedZone, axis_deg: float) -> tuple[bool, float]:
    """(car centre inside the box, heading error to the axis in degrees)."""
    cx, cy = (zone.x0 + zone.x1) / 2, (zone.y0 + zone.y1) / 2
    ax, ly = to_local(state.x_cm, state.y_cm, cx, cy, math.radians(axis_deg))
    length = max(zone.x1 - zone.x0, zone.y1 - zone.y0) if zone.heading_deg is None else STANDARD_BOX_CM[0]
    width = min(zone.x1 - zone.x0, zone.y1 - zone.y0) if zone.heading_deg is None else STANDARD_BOX_CM[1]
    inside = abs(ax) <= length / 2 and abs(ly) <= width / 2
    return inside, abs((state.heading_deg - axis_deg + 540.0) % 360.0 - 180.0)


def _footprint_inside(state, zone: NamedZone, axis_deg: float, length: float, width: float) -> bool:
    cx, cy = (zone.x0 + zone.x1) / 2, (zone.y0 + zone.y1) / 2
    h = math.radians(state.heading_deg)
    spec = CarSpec()
    for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        px = state.x_cm + sx * spec.length_cm / 2 * math.cos(h) - sy * spec.width_cm / 2 * math.sin(h)
        py = state.y_cm + sx * spec.length_cm / 2 * math.sin(h) + sy * spec.width_cm / 2 * math.cos(h)
        ax, ly = to_local(px, py, cx, cy, math.radians(axis_deg))
        if abs(ax) > length / 2 or abs(ly) > width / 2:
            return False
    return True


@pytest.mark.parametrize("start", [(400.0, 300.0, 0.0), (300.0, 400.0, 90.0), (500.0, 500.0, -135.0)])
def test_parallel_park_into_the_standard_box(start):
    pose = Pose(x_cm=start[0], y_cm=start[1], heading_deg=start[2])
    run = run_supervised(SimCar(arena=Arena(width_cm=800, height_cm=800), pose=pose), NamedSkillAction(name="parallel_park", speed_pct=50))
    assert run.result.status == "done", run.result
    zone = standard_parking_box(pose)
    inside, err = _in_box(run.end, zone, start[2])
    assert inside and err < 10.0
    assert _footprint_inside(run.end, zone, start[2], *STANDARD_BOX_CM)


KERB_BOX = NamedZone(name="P1", kind="parking", x0=250, y0=15, x1=320, y1=51)  # along the arena's bottom edge


@pytest.mark.parametrize("start", [(450.0, 85.0, 0.0), (150.0, 100.0, 10.0), (100.0, 200.0, -20.0), (300.0, 300.0, 90.0),
                                   (500.0, 300.0, 180.0), (520.0, 90.0, 180.0)])
def test_parallel_park_into_the_arenas_parking_zone_from_anywhere(start):
    arena = Arena(width_cm=600, height_cm=400, zones=[NamedZone(name="finish", kind="target", x0=500, y0=300, x1=590, y1=390), KERB_BOX])
    car = SimCar(arena=arena, pose=Pose(x_cm=start[0], y_cm=start[1], heading_deg=start[2]))
    run = run_supervised(car, NamedSkillAction(name="parallel_park", speed_pct=50))
    assert run.result.status == "done", run.result
    assert not [c for s in run.states for c in s.collisions]
    axis = math.degrees(box_axis(KERB_BOX, start[2]))
    inside, err = _in_box(run.end, KERB_BOX, axis)
    assert inside and err < 10.0
    assert _footprint_inside(run.end, KERB_BOX, axis, 70.0, 36.0)


@pytest.mark.parametrize("name", ["slalom", "figure_eight", "parallel_park", "donut", "drift"])
def test_named_skills_report_progress_from_0_to_nearly_1(name):
    arena = Arena(width_cm=800, height_cm=600, start=Pose(x_cm=150 if name in ("slalom", "drift") else 400, y_cm=300, heading_deg=0))
    run = run_supervised(SimCar(arena=arena), NamedSkillAction(name=name, speed_pct=100), limits={"max_speed_pct": 100, "level": 4})
    assert run.result.status == "done", run.result
    assert run.progress and all(0.0 <= p <= 1.0 for p in run.progress)
    assert run.progress[0] < 0.5 and max(run.progress) >= 0.9


# poses facing every which way, near and far: the approach (goto, a turn on the spot, the set-up line) copes
@pytest.mark.parametrize("start", [(146.0, 291.0, -112.0), (431.0, 139.0, -159.0), (470.0, 216.0, -135.0),
                                   (486.0, 407.0, 37.0), (707.0, 155.0, -29.0), (300.0, 250.0, 180.0)])
def test_parallel_park_from_poses_facing_any_way(start):
    zone = NamedZone(name="P", kind="parking", x0=350, y0=15, x1=420, y1=51)
    arena = Arena(width_cm=800, height_cm=500, zones=[zone])
    car = SimCar(arena=arena, pose=Pose(x_cm=start[0], y_cm=start[1], heading_deg=start[2]))
    run = run_supervised(car, NamedSkillAction(name="parallel_park", speed_pct=50))
    assert run.result.status == "done", run.result
    axis = math.degrees(box_axis(zone, start[2]))
    inside, err = _in_box(run.end, zone, axis)
    assert inside and err < 10.0
    assert not car.collision_log
