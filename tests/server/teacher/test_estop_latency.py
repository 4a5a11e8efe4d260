"""The e-stop latency record: what the server reports as "every car's throttle was zero N ms after the
click reached us". Driven with real Telemetry messages and an injected clock (no sleeps)."""

from __future__ import annotations

import contextvars

from robot_runtime.protocol import Pose, SafetyEvent, Telemetry
from server.teacher.estop_latency import EstopLatency, _received


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def telemetry(car_id: str, t: float, throttle: float, state: str = "ok", latched_at: float | None = None) -> Telemetry:
    events = [SafetyEvent(t=latched_at, reason="estop", kid_text="I stopped: emergency stop.")] if latched_at else []
    return Telemetry(car_id=car_id, seq=1, t=t, pose=Pose(x_cm=1, y_cm=1, heading_deg=0), speed_cm_s=10.0,
                     throttle=throttle, safety_state=state, safety_events=events)


def estop_from_http(rec: EstopLatency, received_at: float, cars: list[str]) -> None:
    """What the middleware does around the estop handler: the receive time rides in a context variable."""
    def handler() -> None:
        _received.set((received_at, "POST", "/api/teacher/estop"))
        rec.on_estop("teacher emergency stop", cars)
    contextvars.copy_context().run(handler)


def test_zero_throttle_time_is_measured_from_the_click_reaching_the_server():
    clock = Clock(100.0)
    rec = EstopLatency(clock)
    rec.on_telemetry("car-1", telemetry("car-1", 99.990, 0.3))  # before the click: says nothing
    clock.t = 100.004
    estop_from_http(rec, 100.000, ["car-1", "car-2"])
    clock.t = 100.012
    rec.on_telemetry("car-1", telemetry("car-1", 100.011, 0.0, "estop", latched_at=100.002))
    clock.t = 100.030
    rec.on_telemetry("car-2", telemetry("car-2", 100.021, 0.3))  # still driving: not stopped yet
    rec.on_telemetry("car-2", telemetry("car-2", 100.029, 0.0, "estop"))
    [stop] = rec.latest()
    assert stop["source"] == "http POST /api/teacher/estop"
    cars = {c["car_id"]: c for c in stop["cars"]}
    assert cars["car-1"]["zero_throttle_ms"] == 11.0 and cars["car-1"]["latched_ms"] == 2.0
    assert cars["car-2"]["zero_throttle_ms"] == 29.0
    assert [s["throttle"] for s in cars["car-2"]["samples"]] == [0.3, 0.0]
    assert stop["all_confirmed"] and stop["max_zero_throttle_ms"] == 29.0


def test_a_car_that_reported_its_stop_before_the_event_was_published_still_counts():
    clock = Clock(200.0)
    rec = EstopLatency(clock)
    clock.t = 200.006  # the car's neutral tick arrives while the server is still sending to other cars
    rec.on_telemetry("car-1", telemetry("car-1", 200.005, 0.0, "estop"))
    clock.t = 200.008
    estop_from_http(rec, 200.000, ["car-1"])
    assert rec.latest()[0]["cars"][0]["zero_throttle_ms"] == 5.0


def test_a_car_that_never_reports_zero_throttle_is_not_confirmed():
    clock = Clock(300.0)
    rec = EstopLatency(clock)
    estop_from_http(rec, 300.0, ["car-1"])
    clock.t = 300.05
    rec.on_telemetry("car-1", telemetry("car-1", 300.05, 0.4, "ok"))
    [stop] = rec.latest()
    assert stop["all_confirmed"] is False and stop["max_zero_throttle_ms"] is None
    assert stop["cars"][0]["confirmed"] is False


def test_a_car_on_another_clock_is_marked_and_not_compared():
    clock = Clock(400.0)
    rec = EstopLatency(clock)
    estop_from_http(rec, 400.0, ["pi-car"])
    clock.t = 400.02
    rec.on_telemetry("pi-car", telemetry("pi-car", 9_000.0, 0.0, "estop"))  # a Raspberry Pi's own monotonic clock
    car = rec.latest()[0]["cars"][0]
    assert car["same_clock"] is False and car["zero_throttle_ms"] is None
    assert car["telemetry_arrived_ms"] == 20.0  # only the arrival on our clock is comparable


def test_an_estop_without_an_http_request_uses_the_event_time():
    clock = Clock(500.0)
    rec = EstopLatency(clock)
    rec.on_estop("demo shutting down", ["car-1"])  # e.g. `dojo demo` stopping every car on Ctrl-C
    assert rec.latest()[0]["source"] == "event"
