"""Shared cars and reconnects keep the car where it is (issue 17, finding 6).

Real server, real simulated car runtimes over the real link, real kid sockets:
- a co-assigned kid picking a lesson while another kid's run is on the shared car is refused (409
  car_busy, naming who drives), nothing changes, and the server's and the car's arena stay the same;
- after the car's link drops (or the car process restarts) mid-lesson, the car is not put back at the
  lesson's start: the next block goes on from where it was.
Before the fix the pick answered 200 and either left server and car with different arenas (the busy car
refused the arena the server had already recorded) or put the other kid's car back at the start; and
every reconnect sent the lesson's start pose again (the simulated car jumped back).
"""

from __future__ import annotations

import asyncio

from core_harness import CALL_TIMEOUT_S, classroom_server, start_sim_car, wait_for

from curriculum.coach import Coach, CoachConfig
from server.cars.hub import CAR_HUB
from server.lessons.service import ATTEMPTS

LESSON = "l1-wake-up"
JUMP_CM = 15.0  # more than the car moves in one telemetry period at level-1 speed: a teleport


async def select(srv, kid: dict, lesson_id: str | None) -> tuple[int, dict]:
    async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": lesson_id},
                             headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
        return resp.status, await resp.json()


async def start_run(sio) -> str:
    started = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {}}, "lesson_id": LESSON},
                             namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert started["status"] == "ok", started
    return started["run_id"]


def block(sio, name: str, args: dict, run_id: str):
    return sio.call("block", {"block": name, "args": args, "run_id": run_id}, namespace="/kid", timeout=CALL_TIMEOUT_S)


def same_arena(srv, car_id: str) -> bool:
    return srv.classroom.arena_for_car(car_id).name == srv.cars[car_id].runtime.arena.name


async def test_a_lesson_pick_on_a_shared_car_someone_drives_is_refused_and_changes_nothing(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        srv.handle.app[ATTEMPTS].coach = Coach(CoachConfig(enabled=False))
        mia, leo = await srv.join("Mia"), await srv.join("Leo")
        assert mia["car_id"] == leo["car_id"] == "car-1"  # co-assigned
        assert (await select(srv, mia, LESSON))[0] == 200
        lesson_arena = srv.classroom.arena_for_car("car-1").name
        await wait_for(lambda: same_arena(srv, "car-1"), "the car in the lesson's arena")
        sio = await srv.kid_socket(mia["token"])
        run_id = await start_run(sio)
        xs: list[float] = []
        watching = True

        async def watch() -> None:
            while watching:
                xs.append(srv.cars["car-1"].pose.x_cm)
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        driving = asyncio.create_task(block(sio, "move_forward", {"distance": 150}, run_id))
        await wait_for(lambda: srv.classroom.latest_telemetry("car-1").speed_cm_s > 5, "Mia's car moving")
        for pick in (LESSON, None):  # the same lesson (back to its start) or free driving (another arena)
            status, body = await select(srv, leo, pick)
            assert status == 409 and body["error"]["rule"] == "car_busy", body
            assert "Mia is driving car-1" in body["error"]["message"] and body["error"]["fix"]
        reply = await driving
        assert reply["status"] == "done", reply
        watching = False
        await watcher
        assert all(b >= a - 1.0 for a, b in zip(xs, xs[1:])), "Mia's car never jumped back"
        assert xs[-1] - xs[0] > 140
        assert srv.classroom.arena_for_car("car-1").name == lesson_arena and same_arena(srv, "car-1")
        status, body = await select(srv, leo, None)  # between Mia's blocks: her run is still on the car
        assert status == 409 and body["error"]["rule"] == "car_busy"
        await sio.call("run_end", {"run_id": run_id, "reason": "finished"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
        status, body = await select(srv, leo, None)  # Mia is done: Leo may take the car elsewhere
        assert status == 200, body
        await wait_for(lambda: same_arena(srv, "car-1") and srv.cars["car-1"].runtime.arena.name != lesson_arena,
                       "the car and the server both in the default arena")


async def test_after_a_reconnect_or_a_car_restart_mid_lesson_the_car_stays_where_it_was(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        srv.handle.app[ATTEMPTS].coach = Coach(CoachConfig(enabled=False))
        mia = await srv.join("Mia")
        assert (await select(srv, mia, LESSON))[0] == 200
        start = srv.classroom.arena_for_car("car-1").start
        await wait_for(lambda: abs(srv.cars["car-1"].pose.x_cm - start.x_cm) < 1, "the car at the lesson's start")
        sio = await srv.kid_socket(mia["token"])
        run_id = await start_run(sio)
        assert (await block(sio, "move_forward", {"distance": 60}, run_id))["status"] == "done"
        here = srv.cars["car-1"].pose
        assert here.x_cm - start.x_cm > 50

        # 1) the link drops (the server closes it) and the car dials again
        link = srv.cars["car-1"].link
        connects = link.connects
        hub = srv.handle.app[CAR_HUB]
        await hub.disconnect(hub.sid_of["car-1"])
        await wait_for(lambda: link.connects > connects and srv.classroom.dispatcher.is_connected("car-1"),
                       "car-1 back on the link")
        await asyncio.sleep(0.5)  # the arena and limits of the reconnect have arrived
        pose = srv.cars["car-1"].pose
        assert abs(pose.x_cm - here.x_cm) < JUMP_CM and abs(pose.y_cm - here.y_cm) < JUMP_CM, (pose, here)

        # 2) the car's process restarts: a new runtime, which the server puts where the old one was
        await srv.cars["car-1"].stop()
        await wait_for(lambda: not srv.classroom.dispatcher.is_connected("car-1"), "car-1 gone")
        srv.cars["car-1"] = await start_sim_car(srv.url, "car-1", srv.classroom.default_arena)
        await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1")
                       and srv.classroom.latest_telemetry("car-1") is not None, "the restarted car-1 connected")
        await wait_for(lambda: abs(srv.cars["car-1"].pose.x_cm - here.x_cm) < JUMP_CM,
                       "the restarted car placed where it was, not at the start")
        assert same_arena(srv, "car-1")
        sio2 = await srv.kid_socket(mia["token"])
        run_id = await start_run(sio2)  # a new try: this one does go back to the lesson's start
        await wait_for(lambda: abs(srv.cars["car-1"].pose.x_cm - start.x_cm) < 1, "a new attempt starts at the start")
