"""Example-based promises of the safety supervisor (the property tests cover arbitrary inputs)."""

from __future__ import annotations

import math

from robot_runtime.arena import Arena, Wall
from robot_runtime.config import HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import WATCHDOG_S, SessionLimits, Zone
from robot_runtime.safety import EVENT_REPEAT_S, SafetySupervisor

TICK = 0.02
SPEC = CarSpec()
OPEN = Arena(width_cm=1000, height_cm=1000, start={"x_cm": 500, "y_cm": 500, "heading_deg": 0})


def at(x=500.0, y=500.0, heading=0.0, speed=0.0, distance=None, t=0.0) -> CarState:
    return CarState(t=t, x_cm=x, y_cm=y, heading_deg=heading, speed_cm_s=speed, distance_cm=distance)


def drive(sup: SafetySupervisor, cmd: Command, seconds: float, now: float, *, heartbeat=True, state=None):
    """Run the supervisor for `seconds` of ticks; returns (now, outputs, events)."""
    outs, events = [], []
    for _ in range(round(seconds / TICK)):
        now += TICK
        if heartbeat:
            sup.heartbeat(now)
        out, evs = sup.filter(cmd, state or at(t=now), now)
        outs.append(out)
        events += evs
    return now, outs, events


def test_estop_goes_neutral_on_the_next_tick_and_stays_latched_until_reset():
    sup = SafetySupervisor(HardLimits(), SPEC, OPEN, session=SessionLimits())
    now, outs, _ = drive(sup, Command(1.0, 0.5), 1.0, 0.0)
    assert outs[-1].throttle == 1.0
    ev = sup.estop(now, "teacher pressed STOP ALL")
    assert ev.reason == "estop" and "emergency stop" in ev.kid_text
    now, outs, _ = drive(sup, Command(1.0, 0.5), 2.0, now)
    assert outs[0] == Command(0.0, 0.0)  # the very first tick after the e-stop
    assert all(o == Command(0.0, 0.0) for o in outs) and sup.state == "estop"
    sup.reset_estop()
    now, outs, _ = drive(sup, Command(1.0, 0.0), 0.1, now)
    assert 0 < outs[-1].throttle < 1.0  # moves again, ramping up from zero (not a jump)


def test_watchdog_ramps_throttle_to_zero_within_300ms_of_the_last_heartbeat():
    sup = SafetySupervisor(HardLimits(), SPEC, OPEN, session=SessionLimits())
    now, outs, _ = drive(sup, Command(1.0, 0.0), 1.0, 0.0)
    last_heartbeat = now
    zero_at = None
    prev = outs[-1].throttle
    for _ in range(30):
        now += TICK
        out, _ = sup.filter(Command(1.0, 0.0), at(), now)
        assert prev - out.throttle <= HardLimits().max_decel_per_s * TICK + 1e-9  # a controlled stop
        prev = out.throttle
        if out.throttle == 0.0 and zero_at is None:
            zero_at = now
    assert zero_at is not None and zero_at - last_heartbeat <= WATCHDOG_S + 1e-9
    assert sup.state == "watchdog"


def test_car_that_never_heard_a_heartbeat_does_not_move():
    sup = SafetySupervisor(HardLimits(), SPEC, OPEN, session=SessionLimits())
    _, outs, events = drive(sup, Command(0.5, 0.0), 0.5, 0.0, heartbeat=False)
    assert all(o.throttle == 0.0 for o in outs)
    assert any(e.reason == "watchdog" and "can't hear" in e.kid_text for e in events)


def test_session_limits_tighten_but_never_loosen_the_hard_limits():
    sup = SafetySupervisor(HardLimits(max_speed_pct=60, max_steer_pct=80), SPEC, OPEN, session=SessionLimits())
    sup.set_session(SessionLimits(max_speed_pct=100, max_steer_pct=100, level=4))
    _, outs, events = drive(sup, Command(1.0, 1.0), 1.0, 0.0)
    assert outs[-1] == Command(0.6, 0.8)
    assert any(e.kid_text == "I slowed down: this car goes up to 60%" for e in events)
    sup.set_session(SessionLimits(max_speed_pct=30, max_steer_pct=50, level=1))
    _, outs, events = drive(sup, Command(1.0, 1.0), 1.0, 1.0)
    assert outs[0].throttle <= 0.3 and outs[-1] == Command(0.3, 0.5)  # a lowered limit applies at once
    texts = {e.kid_text for e in events}
    assert "I slowed down: Level 1 cars go up to 30%" in texts
    assert "I turned less: Level 1 cars steer up to 50%" in texts


def test_repeated_interventions_are_reported_once_per_second_not_every_tick():
    sup = SafetySupervisor(HardLimits(), SPEC, OPEN, session=SessionLimits())
    sup.set_session(SessionLimits(max_speed_pct=30, level=1))
    _, _, events = drive(sup, Command(1.0, 0.0), 3.0, 0.0)
    speed_events = [e for e in events if e.reason == "speed_limit"]
    assert 2 <= len(speed_events) <= 3.0 / EVENT_REPEAT_S + 1
    assert all(b.t - a.t >= EVENT_REPEAT_S - 1e-9 for a, b in zip(speed_events, speed_events[1:]))


def test_wall_ahead_stops_forward_motion_but_lets_the_car_back_away():
    arena = Arena(width_cm=600, height_cm=300, start={"x_cm": 100, "y_cm": 150, "heading_deg": 0},
                  walls=[Wall(x0=300, y0=0, x1=300, y1=300)])
    sup = SafetySupervisor(HardLimits(), SPEC, arena, session=SessionLimits())
    state = at(x=276, y=150)  # front bumper at 296: 3 cm from the wall's face (inside the 5 cm margin)
    _, outs, events = drive(sup, Command(0.5, 0.0), 0.5, 0.0, state=state)
    assert all(o.throttle == 0.0 for o in outs)
    fence = [e for e in events if e.reason == "fence"]
    assert fence and fence[0].kid_text in ("I stopped: wall 3 cm ahead", "I stopped: wall 2 cm ahead")  # 2.5 cm, rounded
    _, outs, _ = drive(sup, Command(-0.5, 0.0), 0.5, 1.0, state=state)
    assert outs[-1].throttle == -0.5  # backing away from the wall is fine


def test_fence_slows_the_car_down_before_the_wall_in_proportion_to_the_distance():
    arena = Arena(width_cm=1000, height_cm=300, start={"x_cm": 100, "y_cm": 150, "heading_deg": 0})
    sup = SafetySupervisor(HardLimits(), SPEC, arena, session=SessionLimits())
    caps = []
    for x in (500, 800, 900, 950):
        _, outs, _ = drive(sup, Command(1.0, 0.0), 1.0, x, state=at(x=x, y=150))
        caps.append(outs[-1].throttle)
    assert caps[0] == 1.0 and caps[0] > caps[1] > caps[2] > caps[3]
    assert "I slowed down: edge of the arena" in sup.last_event_text["fence"]


def test_session_fence_keeps_the_car_inside_its_play_area():
    sup = SafetySupervisor(HardLimits(), SPEC, OPEN, session=SessionLimits())
    sup.set_session(SessionLimits(fence=Zone(x0=100, y0=100, x1=400, y1=400)))
    _, outs, _ = drive(sup, Command(1.0, 0.0), 0.5, 0.0, state=at(x=375, y=200))  # bumper 5 cm from the fence
    assert outs[-1].throttle == 0.0
    assert sup.last_event_text["fence"].startswith("I stopped: edge of my play area")
    # outside the fence (pushed out by hand): only a crawl back in
    _, outs, _ = drive(sup, Command(1.0, 0.0), 1.0, 1.0, state=at(x=450, y=200, heading=180))
    assert 0 < outs[-1].throttle <= 0.15
    _, outs, _ = drive(sup, Command(1.0, 0.0), 1.0, 3.0, state=at(x=450, y=200, heading=0))
    assert outs[-1].throttle == 0.0


def test_obstacle_seen_by_the_distance_sensor_stops_forward_motion():
    sup = SafetySupervisor(HardLimits(), SPEC, OPEN, session=SessionLimits())
    _, outs, events = drive(sup, Command(0.6, 0.0), 0.5, 0.0, state=at(distance=7.0))
    assert all(o.throttle == 0.0 for o in outs)
    assert [e.kid_text for e in events if e.reason == "obstacle"] == ["I stopped: something 7 cm ahead"]
    _, outs, _ = drive(sup, Command(-0.3, 0.0), 0.5, 1.0, state=at(distance=7.0))
    assert outs[-1].throttle == -0.3  # reversing away is allowed


def test_garbage_commands_become_neutral_not_full_throttle():
    sup = SafetySupervisor(HardLimits(), SPEC, OPEN, session=SessionLimits())
    _, outs, _ = drive(sup, Command(math.nan, math.inf), 0.2, 0.0)
    assert all(o == Command(0.0, 0.0) for o in outs)


def test_turning_toward_a_side_wall_slows_the_car_that_a_straight_look_would_miss():
    # A wall along the car's left, 40 cm away: straight ahead is clear, the left arc is not.
    arena = Arena(width_cm=2000, height_cm=1000, start={"x_cm": 500, "y_cm": 500, "heading_deg": 0},
                  walls=[Wall(x0=0, y0=540, x1=2000, y1=540)])
    straight = SafetySupervisor(HardLimits(), SPEC, arena, session=SessionLimits())
    _, outs, _ = drive(straight, Command(1.0, 0.0), 1.0, 0.0)
    assert outs[-1].throttle == 1.0
    turning = SafetySupervisor(HardLimits(), SPEC, arena, session=SessionLimits())
    _, outs, events = drive(turning, Command(1.0, 1.0), 1.0, 0.0)  # full left lock, toward the wall
    assert outs[-1].throttle < 0.5
    assert any(e.reason == "fence" and "wall" in e.kid_text for e in events)


def test_car_config_loads_from_yaml_and_bad_fields_name_the_field_and_bound(tmp_path):
    import pytest

    from robot_runtime.config import ConfigError, load_car_config

    good = tmp_path / "car.yaml"
    good.write_text("car_id: car-7\nrate_hz: 100\nlimits: {max_speed_pct: 60}\nspec: {top_speed_cm_s: 250}\n"
                    "arena_file: arenas/home.yaml\npolicies: [policies/wall_follow.yaml]\n")
    cfg = load_car_config(good, token="T")
    assert (cfg.car_id, cfg.rate_hz, cfg.limits.max_speed_pct, cfg.spec.to_spec().top_speed_cm_s, cfg.token) == \
        ("car-7", 100, 60, 250, "T")
    # paths in a car config are relative to the config file
    assert cfg.arena_file == str(tmp_path / "arenas/home.yaml")
    assert cfg.policies == [str(tmp_path / "policies/wall_follow.yaml")]
    bad = tmp_path / "bad.json"
    bad.write_text('{"car_id": "car-7", "limits": {"max_decel_per_s": 0}, "colour": "red"}')
    with pytest.raises(ConfigError) as info:
        load_car_config(bad)
    msg = str(info.value)
    assert "bad.json" in msg and "limits.max_decel_per_s: Input should be greater than 0" in msg
    assert "colour: Extra inputs are not permitted" in msg
