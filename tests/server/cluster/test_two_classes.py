"""Two classes, two teacher accounts, three server processes: each class's guarantees hold across processes.
Ana's class has car-1 (connected to B) and Mia (on C); Bob's class has car-2 (connected to A) and Leo (on A).
Ana watches on A, Bob on B. Ana's class e-stop, pressed on A, latches car-1 on B and never car-2; each
teacher's console on its process sees only their own class's cars and kids, whatever process they are on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_harness import REPO, Recorder, _env, car, cluster, redis_server, wait_until  # noqa: E402

pytestmark = pytest.mark.timeout(240)
CALL_S = 30.0
ADMIN_PW, ANA_PW, BOB_PW = "root-pass-1234", "ana-pass-1234", "bob-pass-1234"


async def login(http: aiohttp.ClientSession, url: str, username: str, password: str) -> str:
    async with http.post(f"{url}/api/teacher/login", json={"username": username, "password": password}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body["csrf_token"]


async def test_two_classes_on_three_processes_keep_their_e_stops_and_their_views_apart(tmp_path, shared_database):
    with redis_server(tmp_path) as redis_url, \
            cluster(tmp_path, redis_url, ["A", "B", "C"], ["car-1", "car-2"], shared_database) as (a, b, c), \
            car(tmp_path, "car-1", [b.url]), car(tmp_path, "car-2", [a.url]):
        added = subprocess.run([sys.executable, "-c", "import sys; from dojo.cli import main; sys.exit(main(sys.argv[1:]))",
                                "teacher", "--config", str(tmp_path / "classroom.json"), "add", "root", "--admin"],
                               input=ADMIN_PW + "\n", text=True, capture_output=True, cwd=REPO, env=_env(), timeout=60)
        assert added.returncode == 0, added.stderr
        await wait_until(lambda: "car-1" in b.health()["cars"] and "car-2" in a.health()["cars"], "both cars")
        jars = {n: aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) for n in ("root", "ana", "bob")}
        clients: list[socketio.AsyncClient] = []
        try:
            admin = {"X-CSRF-Token": await login(jars["root"], c.url, "root", ADMIN_PW)}
            for name, pw in (("ana", ANA_PW), ("bob", BOB_PW)):
                async with jars["root"].post(f"{c.url}/api/admin/teachers", json={"username": name, "password": pw},
                                             headers=admin) as resp:
                    assert resp.status == 201, await resp.text()
            ana = {"X-CSRF-Token": await login(jars["ana"], a.url, "ana", ANA_PW)}  # Ana on A
            bob = {"X-CSRF-Token": await login(jars["bob"], b.url, "bob", BOB_PW)}  # Bob on B
            for who, url, headers, code in (("ana", a.url, ana, "ANA"), ("bob", b.url, bob, "BOB")):
                async with jars[who].post(f"{url}/api/teacher/classes", json={"name": f"class {code}", "code": code},
                                          headers=headers) as resp:
                    assert resp.status in (200, 201), await resp.text()
            for car_id, code in (("car-1", "ANA"), ("car-2", "BOB")):
                async with jars["root"].post(f"{c.url}/api/admin/cars/{car_id}/class", json={"class_code": code},
                                             headers=admin) as resp:
                    assert resp.status == 200, await resp.text()

            kids, sockets = {}, {}
            for name, code, url in (("Mia", "ANA", c.url), ("Leo", "BOB", a.url)):
                async with jars["root"].post(f"{url}/api/join", json={"class_code": code, "name": name}) as resp:
                    kids[name] = await resp.json()
                    assert resp.status == 200, kids[name]
                sio = socketio.AsyncClient(reconnection=False)
                await sio.connect(url, namespaces=["/kid"], auth={"token": kids[name]["token"]}, transports=["websocket"],
                                  wait_timeout=10)
                clients.append(sio)
                sockets[name] = sio
            assert kids["Mia"]["car_id"] == "car-1" and kids["Leo"]["car_id"] == "car-2"

            views = {}
            for who, url in (("ana", a.url), ("bob", b.url)):
                rec = views[who] = Recorder()
                sio = socketio.AsyncClient(reconnection=False, http_session=jars[who])
                for event in ("telemetry", "estop", "activity"):
                    sio.on(event, rec.handler(event), namespace="/teacher")
                await sio.connect(url, namespaces=["/teacher"], transports=["websocket"], wait_timeout=10)
                clients.append(sio)

            async def block(name: str) -> dict:
                return await sockets[name].call("block", {"block": "move_forward", "args": {"distance": 5}},
                                                namespace="/kid", timeout=CALL_S)
            assert (await block("Mia"))["status"] == "done"  # Mia on C, car-1 on B
            assert (await block("Leo"))["status"] == "done"  # Leo and car-2 both on A
            await wait_until(lambda: views["ana"].of("activity") and views["bob"].of("activity"), "both activity feeds")
            await wait_until(lambda: {t["car_id"] for t in views["ana"].of("telemetry")} == {"car-1"}
                             and {t["car_id"] for t in views["bob"].of("telemetry")} == {"car-2"}, "each class's telemetry")

            # Ana's class e-stop, pressed on A: car-1 (on B) latches, car-2 (on A, Bob's) drives on
            async with jars["ana"].post(f"{a.url}/api/teacher/classes/ANA/estop", json={"reason": "test"},
                                        headers=ana) as resp:
                body = await resp.json()
                assert resp.status == 200 and body["cars"] == ["car-1"], body
            assert (await block("Mia"))["rule"] == "estop_latched"
            assert (await block("Leo"))["status"] == "done"
            await wait_until(lambda: views["ana"].of("estop"), "Ana's console hearing her e-stop")
            await asyncio.sleep(1.0)  # anything that would leak has had its time
            assert not views["bob"].of("estop")
            assert {t["car_id"] for t in views["bob"].of("telemetry")} == {"car-2"}
            assert {t["car_id"] for t in views["ana"].of("telemetry")} == {"car-1"}
            assert {x["kid_id"] for x in views["ana"].of("activity")} == {kids["Mia"]["kid_id"]}
            assert {x["kid_id"] for x in views["bob"].of("activity")} == {kids["Leo"]["kid_id"]}
            # Bob cannot reset Ana's car from his process; Ana can, from hers
            async with jars["bob"].post(f"{b.url}/api/teacher/cars/car-1/reset", headers=bob) as resp:
                assert resp.status == 404
            async with jars["ana"].post(f"{a.url}/api/teacher/cars/car-1/reset", headers=ana) as resp:
                assert resp.status == 200
            assert (await block("Mia"))["status"] == "done"
        finally:
            for client in clients:
                await client.disconnect()
            for jar in jars.values():
                await jar.close()
