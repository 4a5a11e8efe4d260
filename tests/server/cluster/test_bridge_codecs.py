"""Every event the bridge forwards survives the trip as JSON text (no pickles): what a replaying process's
subscribers receive equals what the publisher's received. And the bus keeps its scopes apart: an
origin-only subscriber never hears a replayed event, a replayed-only one never hears its own process's."""

from __future__ import annotations

import json

from curriculum.loader import load_lessons
from robot_runtime.protocol import SafetyEvent, Telemetry
from server.cluster.bridge import Bridge
from server.cluster.peers import RedisPeers
from server.core.classroom import Classroom
from server.core.config import ServerConfig
from server.core.events import TOPICS, EventBus
from server.core.storage import SqliteStorage
from server.core.types import BlockReply, Kid, Run

TELEMETRY = Telemetry.model_validate({
    "car_id": "car-1", "seq": 7, "t": 12.5, "pose": {"x_cm": 10.5, "y_cm": 20.0, "heading_deg": 90.0},
    "speed_cm_s": 30.0, "distance_cm": None, "safety_state": "limiting",
    "safety_events": [{"t": 12.4, "reason": "fence", "kid_text": "I slowed down: wall 10 cm ahead", "value": 10.0}],
    "collisions": [{"t": 12.3, "with": "cone:3", "x_cm": 1.0, "y_cm": 2.0, "speed_cm_s": 5.0}],
    "skill": {"request_id": "car-1.ab-3", "name": "drive", "progress": 0.5},
    "timing": {"skill": {"p50_ms": 0.1, "p99_ms": 0.4}}, "pose_source": "camera", "pose_uncertainty_cm": 2.0})


class CarPortUnused:
    """The classroom is built with a port to the cars; nothing in these tests reaches a car."""


def bridge(tmp_path) -> Bridge:
    config = ServerConfig(data_dir=tmp_path, secret_key="k" * 32, redis_url="redis://127.0.0.1:1/0")
    peers = RedisPeers(config.redis_url, node_id="test")  # never started: the codecs need no connection
    classroom = Classroom(config, SqliteStorage(":memory:"), CarPortUnused(), peers=peers)  # type: ignore[arg-type]
    return Bridge(classroom, peers)


def test_every_forwarded_topic_round_trips_through_json_text(tmp_path):
    b = bridge(tmp_path)
    arena = load_lessons(strict=False)[0].get("l1-wake-up").arena
    b.classroom.set_known_arena("car-2", arena)
    kid = Kid("k123", "Mia", "DEMO", 2)
    run = Run("r1", "k123", "blockly", "l1-wake-up", "car-1", 1700000000.5)  # the program stays where it ran
    ended = Run("r2", "k123", "scratch", None, None, 1700000001.0, None, 1700000009.0, "finished")
    samples = {
        "telemetry": ("car-1", TELEMETRY),
        "safety": ("car-1", TELEMETRY.safety_events[0]),
        "car_connected": ("car-1",), "car_disconnected": ("car-1",),
        "level_changed": ("k123", 3), "assignment_changed": ("car-1", ["k1", "k2"]),
        "car_changed": ("k123", "car-1", None), "kid_joined": (kid,), "kid_removed": (kid,),
        "skills_changed": ("mia_park",), "estop": ("teacher emergency stop", ["car-1", "car-2"]),
        "block_result": ("k123", BlockReply(status="refused", kid_text="Level 1 cars go up to 30% — try 30!",
                                            detail="speed_limit: 80 > 30", block="drive_for", ref="r1", rule="speed_limit")),
        "run_started": (run,), "run_ended": (ended,),
        "refusals_summarised": ("k123", {"count": 4, "rules": {"rate_limit": 4}, "detail": "4 refused"}),
        "car_refused": ("car-1", {"rule": "car_in_use", "address": "10.0.0.9", "message": "m", "kid_text": "k"}),
        "attempt_graded": ("k123", {"attempt_id": "a1", "stars": 2, "passed": True, "checks": [{"kid_text": "ok"}]}),
    }
    assert set(b.codecs) == set(samples) | {"arena_changed"} and set(b.codecs) <= TOPICS
    for topic, args in samples.items():
        encode, decode = b.codecs[topic]
        text = json.dumps(encode(*args))
        back = decode(*json.loads(text))
        assert tuple(back) == args, topic
        assert "pickle" not in text
    assert isinstance(b.codecs["safety"][1](*json.loads(json.dumps(b.codecs["safety"][0](*samples["safety"]))))[1],
                      SafetyEvent)
    encode, decode = b.codecs["arena_changed"]
    assert decode(*json.loads(json.dumps(encode("car-2")))) == ["car-2", arena]  # the lesson's arena goes along
    assert decode(*json.loads(json.dumps(encode("car-9")))) == ["car-9", None]  # the default arena


def test_replayed_events_update_the_caches_and_reach_only_the_subscribers_that_want_them(tmp_path):
    b = bridge(tmp_path)
    heard: dict[str, list] = {"all": [], "origin": [], "replayed": []}
    for scope in heard:
        b.classroom.events.subscribe("telemetry", lambda car, t, s=scope: heard[s].append(car), scope=scope)
    b.classroom.events.publish("telemetry", "car-1", TELEMETRY)  # happened here
    b.on_event("other", "telemetry", json.loads(json.dumps(b.codecs["telemetry"][0]("car-2", TELEMETRY))))
    assert heard == {"all": ["car-1", "car-2"], "origin": ["car-1"], "replayed": ["car-2"]}
    assert b.classroom.latest_telemetry("car-2") == TELEMETRY  # a kid's reporter here reads it

    b.on_event("other", "car_connected", ["car-2"])
    assert b.peers.owner_of("car-2") == "other" and b.classroom.car_info("car-2").connected
    b.on_event("other", "car_disconnected", ["car-2"])
    assert b.peers.owner_of("car-2") is None and not b.classroom.car_info("car-2").connected


def test_a_scope_that_does_not_exist_is_refused_with_the_ones_that_do():
    bus = EventBus()
    try:
        bus.subscribe("telemetry", print, scope="everywhere")  # type: ignore[arg-type]
    except ValueError as exc:
        assert "all, origin, replayed" in str(exc) and "everywhere" in str(exc)
    else:
        raise AssertionError("an unknown scope was accepted")
