"""Three real server processes over a real Redis and one database: a kid on A, their car on B, the teacher on
C. Blocks, stop, e-stop, telemetry, a graded lesson attempt — and B killed with -9 in the middle of a
request: the kid gets exactly one final answer within the request's timeout, the car moves to C and
drives again (docs/cluster.md)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import socketio

from curriculum.loader import load_lessons

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_harness import CLASS, PASSWORD, Recorder, car, cluster, redis_server, wait_until  # noqa: E402

pytestmark = pytest.mark.timeout(240)
CALL_S = 30.0  # the longest block here is a few seconds; a missing answer fails long before this
DEAD_OWNER_S = 5.0  # NODE_TTL_S (3 s) + one beat (0.5 s) + a busy machine: the kid hears car_disconnected


async def kid_socket(url: str, token: str, rec: Recorder) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    for name in ("telemetry", "car_status", "feedback", "safety", "level"):
        sio.on(name, rec.handler(name), namespace="/kid")
    await sio.connect(url, namespaces=["/kid"], auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return sio


async def block(sio: socketio.AsyncClient, name: str, args: dict | None = None, **extra) -> dict:
    return await sio.call("block", {"block": name, "args": args or {}, **extra}, namespace="/kid", timeout=CALL_S)


async def test_kid_on_a_drives_car_on_b_teacher_on_c_and_b_dies_mid_request(tmp_path, shared_database):
    with redis_server(tmp_path) as redis_url, \
            cluster(tmp_path, redis_url, ["A", "B", "C"], ["car-1"], shared_database) as (a, b, c), \
            car(tmp_path, "car-1", [b.url, c.url]) as car1:
        await wait_until(lambda: "car-1" in b.health()["cars"], f"car-1 on B\n{car1.log()}")
        await wait_until(lambda: a.health()["cluster"]["cars_in_cluster"] == 1, "A knowing where car-1 is")
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        clients: list[socketio.AsyncClient] = []
        try:
            # the kid joins through A and gets car-1 (connected to B)
            async with http.post(f"{a.url}/api/join", json={"class_code": CLASS, "name": "Mia"}) as resp:
                kid = await resp.json()
                assert resp.status == 200 and kid["car_id"] == "car-1", kid
            # the teacher logs in on C and watches
            async with http.post(f"{c.url}/api/teacher/login", json={"password": PASSWORD}) as resp:
                csrf = (await resp.json())["csrf_token"]
            teacher_rec = Recorder()
            teacher = socketio.AsyncClient(reconnection=False, http_session=http)
            for name in ("telemetry", "estop", "activity", "roster_changed", "attempts_changed"):
                teacher.on(name, teacher_rec.handler(name), namespace="/teacher")
            await teacher.connect(c.url, namespaces=["/teacher"], transports=["websocket"], wait_timeout=10)
            clients.append(teacher)
            kid_rec = Recorder()
            sio = await kid_socket(a.url, kid["token"], kid_rec)
            clients.append(sio)
            await wait_until(lambda: any(s and s.get("connected") for s in kid_rec.of("car_status")),
                             "A telling the kid their car is connected")

            async def online_on_c() -> bool:
                async with http.get(f"{c.url}/api/teacher/classes/{CLASS}/roster") as resp:
                    return any(r["kid_id"] == kid["kid_id"] and r["online"] for r in (await resp.json())["kids"])
            deadline = time.monotonic() + 10
            while not await online_on_c():  # the teacher's roster on C shows the kid on A online
                assert time.monotonic() < deadline, "the kid on A never showed online on C"
                await asyncio.sleep(0.1)

            # the teacher on C moves the kid to level 2: A's gate knows it at once (drive_for opens at level 2)
            async with http.post(f"{c.url}/api/teacher/classes/{CLASS}/kids/{kid['kid_id']}/level", json={"level": 2},
                                 headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200, await resp.text()
            await wait_until(lambda: any(lv and lv.get("level") == 2 for lv in kid_rec.of("level")), "level 2 on A")

            # blocks: a kid on A drives the car on B
            reply = await block(sio, "move_forward", {"distance": 10})
            assert reply["status"] == "done", reply
            assert b.health()["cluster"]["requests_served"] >= 1 and a.health()["cluster"]["requests_forwarded"] >= 1
            # telemetry of the car on B reaches the kid on A and the teacher on C
            await wait_until(lambda: any(t["car_id"] == "car-1" for t in kid_rec.of("telemetry")), "telemetry on A")
            await wait_until(lambda: any(t["car_id"] == "car-1" for t in teacher_rec.of("telemetry")), "telemetry on C")
            await wait_until(lambda: any(x["kid_id"] == kid["kid_id"] for x in teacher_rec.of("activity")),
                             "the kid's block in the teacher's activity feed")
            # a reporter answers on A from B's telemetry
            reply = await block(sio, "distance")
            assert reply["status"] == "done" and isinstance(reply["value"], (int, float)), reply

            # stop skips the queue: a long move and two queued behind it end at once
            long_moves = [asyncio.ensure_future(block(sio, "drive_for", {"speed": 30, "seconds": 6})) for _ in range(3)]
            await asyncio.sleep(1.0)
            t0 = time.monotonic()
            stopped = await sio.call("stop", {}, namespace="/kid", timeout=CALL_S)
            assert stopped["status"] == "done"
            replies = await asyncio.gather(*long_moves)
            assert time.monotonic() - t0 < 3.0, "stop did not skip the queue"
            assert [r["status"] for r in replies] == ["cancelled"] * 3, replies

            # the teacher's e-stop on C stops the car on B: a running move ends, the car stays latched
            running = asyncio.ensure_future(block(sio, "drive_for", {"speed": 30, "seconds": 6}))
            await asyncio.sleep(1.0)
            async with http.post(f"{c.url}/api/teacher/estop", json={"reason": "test"},
                                 headers={"X-CSRF-Token": csrf}) as resp:
                body = await resp.json()
                assert resp.status == 200 and "car-1" in body["cars"], body
            assert (await running)["status"] == "cancelled"
            await wait_until(lambda: teacher_rec.of("estop"), "the e-stop event on C")
            assert (await block(sio, "move_forward", {"distance": 5}))["rule"] == "estop_latched"
            async with http.post(f"{c.url}/api/teacher/cars/car-1/reset", headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200, await resp.text()
            assert (await block(sio, "move_forward", {"distance": 5}))["status"] == "done"

            # B dies with -9 in the middle of a request: one final answer, within the request's timeout
            answers: list[dict] = []
            mid = asyncio.ensure_future(block(sio, "drive_for", {"speed": 30, "seconds": 8}))
            mid.add_done_callback(lambda f: answers.append(f.result()))
            await asyncio.sleep(1.0)
            b.kill9()
            t0 = time.monotonic()
            reply = await mid
            assert time.monotonic() - t0 < DEAD_OWNER_S, "the kid waited too long for B's death to be noticed"
            assert reply["status"] == "failed" and reply["rule"] == "car_disconnected", reply
            await asyncio.sleep(1.0)
            assert len(answers) == 1
            # the car dials C; the kid on A drives it again
            await wait_until(lambda: "car-1" in c.health()["cars"], f"car-1 reconnecting to C\n{car1.log()}", 20)
            await wait_until(lambda: a.health()["cluster"]["cars_in_cluster"] == 1, "A knowing car-1 is on C")
            reply = await block(sio, "move_backward", {"distance": 10})  # away from the wall the long moves neared
            assert reply["status"] == "done", reply
            # a lesson attempt on A with the car now on C: graded on A from C's telemetry, overridden on C
            auth = {"Authorization": f"Bearer {kid['token']}"}
            async with http.post(f"{a.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"}, headers=auth) as resp:
                assert resp.status == 200, await resp.text()
            async with http.get(f"{c.url}/api/arena?car=car-1") as resp:
                assert (await resp.json())["arena"]["name"] == "breakfast run"  # C knows the car's arena
            lesson = load_lessons(strict=False)[0].get("l1-wake-up")
            started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                                   "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_S)
            assert started["status"] == "ok", started
            reply = await block(sio, "move_forward", {"distance": 180}, run_id=started["run_id"])
            assert reply["status"] == "done", reply
            await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                           timeout=CALL_S)
            feedback = await wait_until(lambda: kid_rec.of("feedback"), "the attempt's feedback on A", 30)
            assert isinstance(feedback[0]["passed"], bool) and feedback[0]["checks"], feedback[0]
            attempt_id = feedback[0]["attempt_id"]
            async with http.get(f"{c.url}/api/teacher/attempts") as resp:
                rows = (await resp.json())["attempts"]
                assert attempt_id in [r["attempt_id"] for r in rows]
            async with http.post(f"{c.url}/api/teacher/attempts/{attempt_id}/override",
                                 json={"stars": 1, "comment": "well done"}, headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200, await resp.text()
            await wait_until(lambda: any(f.get("overridden") for f in kid_rec.of("feedback")),
                             "the teacher's grade on C reaching the kid on A")

        finally:
            for client in clients:
                await client.disconnect()
            await http.close()
