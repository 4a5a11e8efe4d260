"""Two server processes, one car: kids on both processes share it and take turns; a second car with the same
token on the other process is refused while the real one is alive (one connection per car, across processes)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_harness import CLASS, PASSWORD, car, cluster, redis_server, wait_until  # noqa: E402

pytestmark = pytest.mark.timeout(180)
CALL_S = 30.0
MOVES = 3
DEAD_PROCESS_S = 8.0  # NODE_TTL_S (3 s) + a beat + the stop grace (1 s) + a request-log flush, on a busy machine


async def test_kids_on_two_processes_take_turns_on_one_car_and_a_second_car_is_refused(tmp_path):
    with redis_server(tmp_path) as redis_url, cluster(tmp_path, redis_url, ["A", "B"], ["car-1"]) as (a, b), \
            car(tmp_path, "car-1", [b.url]) as car1:
        await wait_until(lambda: "car-1" in b.health()["cars"], f"car-1 on B\n{car1.log()}")
        await wait_until(lambda: a.health()["cluster"]["cars_in_cluster"] == 1, "A knowing where car-1 is")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            kids = {}
            for name, server in (("Ana", a), ("Ben", b)):
                async with http.post(f"{server.url}/api/join", json={"class_code": CLASS, "name": name}) as resp:
                    kids[name] = await resp.json()
            async with http.post(f"{a.url}/api/teacher/login", json={"password": PASSWORD}) as resp:
                csrf = (await resp.json())["csrf_token"]
            async with http.post(f"{a.url}/api/teacher/cars/car-1/assign",
                                 json={"kid_ids": [kids["Ana"]["kid_id"], kids["Ben"]["kid_id"]]},
                                 headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200, await resp.text()
            sockets = {}
            for name, server in (("Ana", a), ("Ben", b)):
                sio = socketio.AsyncClient(reconnection=False)
                await sio.connect(server.url, namespaces=["/kid"], auth={"token": kids[name]["token"]},
                                  transports=["websocket"], wait_timeout=10)
                sockets[name] = sio
            try:
                finished: list[tuple[float, str, str]] = []

                async def move(name: str) -> None:
                    reply = await sockets[name].call("block", {"block": "move_forward", "args": {"distance": 5}},
                                                     namespace="/kid", timeout=CALL_S)
                    finished.append((time.monotonic(), name, reply["status"]))

                # Ana (on A, the car is on B) queues three moves, Ben (on B) three: they take turns
                ana = [asyncio.ensure_future(move("Ana")) for _ in range(MOVES)]
                await asyncio.sleep(0.3)
                ben = [asyncio.ensure_future(move("Ben")) for _ in range(MOVES)]
                await asyncio.gather(*ana, *ben)
                order = [name for _, name, _ in sorted(finished)]
                assert all(status == "done" for _, _, status in finished), finished
                assert sorted(order) == ["Ana"] * MOVES + ["Ben"] * MOVES, order
                assert all(a != b for a, b in zip(order, order[1:])), f"not taking turns: {order}"

                # the same car again, on A, while the real car-1 is alive on B: refused (car_in_use)
                (tmp_path / "intruder").mkdir()
                with car(tmp_path / "intruder", "car-1", [a.url]) as intruder:
                    await wait_until(lambda: "already connected (to server process" in intruder.log(),
                                     f"the refusal (car_in_use)\n{intruder.log()}", 20)
                    assert "car-1" in b.health()["cars"] and "car-1" not in a.health()["cars"]
                reply = await sockets["Ana"].call("block", {"block": "move_forward", "args": {"distance": 5}},
                                                  namespace="/kid", timeout=CALL_S)
                assert reply["status"] == "done", reply

                # A dies with -9 while Ana (on A) has a move running on the car and two queued: B stops them, as
                # when a kid disconnects (the request log on B says why), and the car is Ben's again
                async with http.post(f"{b.url}/api/teacher/login", json={"password": PASSWORD}) as resp:
                    assert resp.status == 200
                telemetry: list[dict] = []
                sockets["Ben"].on("telemetry", telemetry.append, namespace="/kid")
                orphaned = [asyncio.ensure_future(sockets["Ana"].call(
                    "block", {"block": block, "args": {"distance": 60}}, namespace="/kid", timeout=CALL_S))
                    for block in ("move_forward", "move_backward") * 3]  # ~1.4 s each, back and forth in the arena
                await wait_until(lambda: telemetry and telemetry[-1].get("skill"), "Ana's move running on car-1")
                a.kill9()
                t0 = time.monotonic()

                async def all_rows() -> list[dict]:
                    async with http.get(f"{b.url}/api/teacher/requests?kid_id={kids['Ana']['kid_id']}&limit=6") as resp:
                        return (await resp.json())["requests"]

                async def anas_requests_stopped() -> list[dict]:
                    async with http.get(f"{b.url}/api/teacher/requests?kid_id={kids['Ana']['kid_id']}&limit=6") as resp:
                        rows = (await resp.json())["requests"]
                    return [r for r in rows if "server process" in r["detail"] and r["status"] == "cancelled"]
                # (the one running and those queued are cancelled; without this they would run on for ~8 s)
                while len(await all_rows()) < 6 or len(await anas_requests_stopped()) < 2:
                    assert time.monotonic() - t0 < DEAD_PROCESS_S, f"B kept running the requests of a dead process: {await all_rows()}"
                    await asyncio.sleep(0.2)
                reply = await sockets["Ben"].call("block", {"block": "move_backward", "args": {"distance": 5}},
                                                  namespace="/kid", timeout=CALL_S)
                assert reply["status"] == "done", reply
                await asyncio.gather(*orphaned, return_exceptions=True)  # Ana's socket died with A
            finally:
                for sio in sockets.values():
                    await sio.disconnect()
