"""The neighbours relay on a real server: hand-driven /car clients (RawCar) send telemetry and record what
the server sends them back — who hears about whom, from which source, and when a list is emptied."""

from __future__ import annotations

import asyncio

import pytest
from core_harness import RawCar, classroom_server, wait_for

from robot_runtime.arena import Arena
from robot_runtime.protocol import NEIGHBOURS_HZ, Pose
from server.cars.neighbours import NEIGHBOUR_RADIUS_CM, TRACKED_FRESH_S

pytestmark = pytest.mark.timeout(60)
QUIET_S = 5 / NEIGHBOURS_HZ  # five relay rounds


async def raw(srv, car_id: str, kind: str = "sim") -> RawCar:
    car = RawCar(srv.url, car_id)
    car.sio.on("neighbours", car._recorder("neighbours"), namespace="/car")
    await car.connect(kind=kind)
    await wait_for(lambda: srv.classroom.dispatcher.is_connected(car_id), f"{car_id} connected")
    return car


def last_list(car: RawCar) -> list[dict] | None:
    got = car.events("neighbours")
    return got[-1]["cars"] if got else None


def names(car: RawCar) -> list[str] | None:
    cars = last_list(car)
    return None if cars is None else sorted(c["car_id"] for c in cars)


async def test_each_car_hears_the_cars_near_it_on_its_floor_and_forgets_one_that_left(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1", "car-2", "car-3", "car-4"],
                                sim_cars_see_each_other=True) as srv:
        cars = {c: await raw(srv, c) for c in ("car-1", "car-2", "car-3", "car-4")}
        await cars["car-1"].telemetry(x=50, y=50, speed_cm_s=40.0)
        await cars["car-2"].telemetry(x=150, y=50)
        await cars["car-3"].telemetry(x=150 + NEIGHBOUR_RADIUS_CM + 100, y=50)  # too far from both to matter
        # car-4 is in a lesson's arena: a simulated world of its own, nobody else's floor
        await srv.classroom.set_arena("car-4", Arena(name="lesson"), Pose(x_cm=60, y_cm=50, heading_deg=0))
        await cars["car-4"].telemetry(x=60, y=50)
        await wait_for(lambda: names(cars["car-1"]) == ["car-2"] and names(cars["car-2"]) == ["car-1"],
                       "car-1 and car-2 hearing about each other")
        seen = last_list(cars["car-2"])[0]
        assert seen["source"] == "telemetry" and seen["vx_cm_s"] == pytest.approx(40.0)
        assert seen["length_cm"] > 0 and seen["width_cm"] > 0 and seen["age_s"] >= 0
        await asyncio.sleep(QUIET_S)
        assert names(cars["car-3"]) in (None, [])  # alone within its radius
        assert cars["car-4"].events("neighbours") == []
        await cars["car-2"].close()  # a simulated car that leaves takes its world with it
        await wait_for(lambda: names(cars["car-1"]) == [], "car-1 told that car-2 is gone")
        count = len(cars["car-1"].events("neighbours"))
        await asyncio.sleep(QUIET_S)
        assert len(cars["car-1"].events("neighbours")) == count  # an empty list once, then quiet


async def test_a_real_car_that_drops_off_stays_on_the_floor_as_a_standing_car(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-a", "car-b"]) as srv:
        a, b = await raw(srv, "car-a", "real"), await raw(srv, "car-b", "real")
        await a.telemetry(x=50, y=50)
        await b.telemetry(x=120, y=50, speed_cm_s=100.0)
        await wait_for(lambda: names(a) == ["car-b"], "car-a hearing about car-b")
        await b.close()
        await asyncio.sleep(QUIET_S)
        await wait_for(lambda: names(a) == ["car-b"] and last_list(a)[0]["vx_cm_s"] == 0.0, "car-b parked")
        parked = last_list(a)[0]
        # its watchdog stops it within the distance it needs to stop from 100 cm/s: that much less sure
        assert parked["uncertainty_cm"] >= 100.0 * 0.3 and (parked["x_cm"], parked["y_cm"]) == (120, 50)


async def test_a_fresh_camera_pose_wins_over_telemetry_and_a_stale_one_gives_way(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1", "car-2"], sim_cars_see_each_other=True) as srv:
        c1, c2 = await raw(srv, "car-1"), await raw(srv, "car-2")
        await c1.telemetry(x=50, y=50)
        await c2.telemetry(x=150, y=50)
        srv.classroom.on_tracked_pose("car-2", Pose(x_cm=140, y_cm=60, heading_deg=90), vx_cm_s=5.0,
                                      uncertainty_cm=1.2)
        await wait_for(lambda: (last_list(c1) or [{}])[0].get("source") == "camera", "car-1 hearing the camera")
        seen = last_list(c1)[0]
        assert (seen["x_cm"], seen["y_cm"], seen["heading_deg"], seen["uncertainty_cm"]) == (140, 60, 90, 1.2)
        await asyncio.sleep(TRACKED_FRESH_S)
        await c2.telemetry(x=151, y=50, seq=1)  # the camera went quiet: the car's own pose again
        await wait_for(lambda: (last_list(c1) or [{}])[0].get("source") == "telemetry"
                       and last_list(c1)[0]["x_cm"] == 151, "car-2's own telemetry again")


async def test_a_car_the_camera_sees_hears_its_own_camera_pose_as_its_external_pose(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        c1 = await raw(srv, "car-1", kind="real")  # alone in the room: no neighbours, but the camera sees it
        await c1.telemetry(x=50, y=50)
        srv.classroom.on_tracked_pose("car-1", Pose(x_cm=57, y_cm=44, heading_deg=10), uncertainty_cm=0.8)
        await wait_for(lambda: any(m.get("own") for m in c1.events("neighbours")), "car-1 told where the camera sees it")
        own = next(m["own"] for m in c1.events("neighbours") if m.get("own"))
        assert (own["car_id"], own["x_cm"], own["y_cm"], own["heading_deg"], own["source"]) == ("car-1", 57, 44, 10, "camera")
        assert own["uncertainty_cm"] == 0.8 and 0 <= own["age_s"] < 5


async def test_simulated_cars_pass_through_each_other_unless_the_classroom_says_they_share_the_floor(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1", "car-2"]) as srv:  # the default: off
        c1, c2 = await raw(srv, "car-1"), await raw(srv, "car-2")
        await c1.telemetry(x=50, y=50)
        await c2.telemetry(x=100, y=50)
        await asyncio.sleep(QUIET_S)
        assert c1.events("neighbours") == [] and c2.events("neighbours") == []
