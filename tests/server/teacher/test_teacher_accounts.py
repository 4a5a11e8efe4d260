"""Two classes, two teachers, one server (issue 14): neither teacher can see, assign, stop, e-stop or grade
the other's class, over HTTP or on the /teacher socket; one class's e-stop never stops the other's cars;
admin-only routes refuse a teacher with the rule, the value and the fix.

Real server on a real port, accounts made in its real storage, cars paired with real pairing codes and
driven by real simulated car runtimes, kids and teachers on real socket.io clients.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from accounts_harness import PASSWORDS, RecordingTeacherSocket, delete, login, make_accounts
from core_harness import CALL_TIMEOUT_S, CLASS, classroom_server, wait_for

from curriculum.coach import Coach, CoachConfig
from server.lessons.service import ATTEMPTS

SHORT = {"distance": 5}
GRADED_WAIT_S = 60.0  # drive, rest, judge and draw on a busy machine


async def pair_car(srv, teacher, car_id: str, class_code: str | None = None) -> str:
    """The console's "Add a car" then `dojo car pair`: the car joins the teacher's class. Returns its token."""
    status, made = await teacher.post("/api/teacher/pairing-codes", {"class_code": class_code} if class_code else {})
    assert status == 201, made
    async with srv.http.post(f"{srv.url}/api/cars/pair", json={"code": made["code"], "car_id": car_id, "kind": "sim",
                                                               "hardware": "sim", "protocol": 2}) as resp:
        paired = await resp.json()
        assert resp.status == 200, paired
    assert paired["car_id"] == car_id
    return paired["token"]


async def kid_graded_attempt(srv, kid: dict, sio) -> str:
    auth = {"Authorization": f"Bearer {kid['token']}"}
    async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"}, headers=auth) as r:
        assert r.status == 200, await r.text()
    lesson = srv.handle.app[ATTEMPTS].lesson_set.get("l1-wake-up")
    started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                           "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert started["status"] == "ok", started
    reply = await sio.call("block", {"block": "move_forward", "args": {"distance": 180}, "run_id": started["run_id"]},
                           namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert reply["status"] == "done", reply
    await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                   timeout=CALL_TIMEOUT_S)
    store = srv.handle.app[ATTEMPTS].store
    rows = await wait_for(lambda: [r for r in store.rows_of_kid(kid["kid_id"]) if r["status"] == "graded"],
                          "the graded attempt", GRADED_WAIT_S)
    return rows[0]["attempt_id"]


@contextlib.asynccontextmanager
async def two_classes(tmp_path):
    """ANA1 (teacher ana, car-a, kid Mia) and BOB1 (teacher bob, car-b, kid Leo), an admin root."""
    make_accounts(tmp_path)
    async with classroom_server(tmp_path) as srv:
        ana, bob, root = (await login(srv.url, "ana"), await login(srv.url, "bob"), await login(srv.url, "root"))
        teachers = [ana, bob, root]
        try:
            for teacher, code in ((ana, "ANA1"), (bob, "BOB1")):
                status, body = await teacher.post("/api/teacher/classes", {"name": f"Class {code}", "code": code})
                assert status == 201, body
            # each teacher has one class: the pairing code needs no class_code, the car joins that class
            token_a = await pair_car(srv, ana, "car-a")
            token_b = await pair_car(srv, bob, "car-b", "BOB1")
            await srv.add_car("car-a", token_a)
            await srv.add_car("car-b", token_b)
            mia = await srv.join("Mia", "ANA1")
            leo = await srv.join("Leo", "BOB1")
            # auto-assignment hands a kid only a car of their own class
            assert (mia["car_id"], leo["car_id"]) == ("car-a", "car-b")
            yield srv, ana, bob, root, mia, leo
        finally:
            for teacher in teachers:
                await teacher.http.close()


async def test_two_teachers_see_and_control_only_their_own_class_over_http(tmp_path):
    async with two_classes(tmp_path) as (srv, ana, bob, root, mia, leo):
        mia_sio, leo_sio = await srv.kid_socket(mia["token"]), await srv.kid_socket(leo["token"])
        assert (await srv.block(mia_sio, "move_forward", SHORT))["status"] == "done"
        assert (await srv.block(leo_sio, "move_forward", SHORT))["status"] == "done"

        # see: classes, rosters, boards, cars, the request log
        assert [c["code"] for c in (await ana.get("/api/teacher/classes"))[1]["classes"]] == ["ANA1"]
        assert [c["code"] for c in (await bob.get("/api/teacher/classes"))[1]["classes"]] == ["BOB1"]
        assert {c["code"] for c in (await root.get("/api/teacher/classes"))[1]["classes"]} == {CLASS, "ANA1", "BOB1"}
        assert [c["car_id"] for c in (await ana.get("/api/teacher/cars"))[1]["cars"]] == ["car-a"]
        assert [c["car_id"] for c in (await bob.get("/api/teacher/cars"))[1]["cars"]] == ["car-b"]
        assert {c["car_id"] for c in (await root.get("/api/teacher/cars"))[1]["cars"]} == {"car-a", "car-b"}
        status, board = await ana.get("/api/teacher/classes/ANA1/board")
        assert status == 200 and [k["name"] for k in board["kids"]] == ["Mia"]
        assert [c["car_id"] for c in board["cars"]] == ["car-a"]
        log = (await ana.get("/api/teacher/requests"))[1]["requests"]
        assert log and {r["kid_id"] for r in log} == {mia["kid_id"]}
        for path in ("/api/teacher/classes/BOB1/roster", "/api/teacher/classes/BOB1/board",
                     "/api/teacher/classes/BOB1/lessons", "/api/teacher/classes/BOB1/plans"):
            status, body = await ana.get(path)
            assert (status, body["error"]["rule"]) == (404, "class_code"), (path, body)
            assert "BOB1" in body["error"]["message"] and body["error"]["fix"]
        async with ana.http.get(f"{srv.url}/api/teacher/classes/BOB1/progress.csv") as resp:
            assert resp.status == 404
        status, body = await ana.get(f"/api/teacher/requests?kid_id={leo['kid_id']}")
        assert (status, body["error"]["rule"]) == (404, "kid_id")

        # control: levels, kids, cars, assignments, stops, lessons
        refused = [
            ("/api/teacher/classes/BOB1/level", {"level": 2}, "class_code"),
            (f"/api/teacher/classes/ANA1/kids/{leo['kid_id']}/level", {"level": 2}, "kid_id"),
            ("/api/teacher/cars/car-b/assign", {"kid_ids": [mia["kid_id"]]}, "car_id"),
            ("/api/teacher/cars/car-a/assign", {"kid_ids": [leo["kid_id"]]}, "kid_id"),
            ("/api/teacher/cars/car-b/stop", {}, "car_id"),
            ("/api/teacher/cars/car-b/reset", {}, "car_id"),
            ("/api/teacher/classes/BOB1/estop", {}, "class_code"),
            ("/api/teacher/classes/BOB1/lessons/l1-wake-up/lock", {}, "class_code"),
            (f"/api/teacher/kids/{leo['kid_id']}/lessons/l1-wake-up/lock", {}, "kid_id"),
            ("/api/teacher/pairing-codes", {"class_code": "BOB1"}, "class_code"),
            ("/api/teacher/pairing-codes", {"car_id": "car-b"}, "car_id"),
        ]
        for path, body, rule in refused:
            status, answer = await ana.post(path, body)
            assert (status, answer["error"]["rule"]) == (404, rule), (path, answer)
        status, made = await bob.post("/api/teacher/pairing-codes", {})
        assert status == 201, made
        assert (await bob.get(f"/api/teacher/pairing-codes/{made['code']}"))[0] == 200
        status, answer = await ana.get(f"/api/teacher/pairing-codes/{made['code']}")  # bob's code is not ana's
        assert (status, answer["error"]["rule"]) == (404, "pair_code_unknown")
        status, answer = await delete(ana, f"/api/teacher/classes/BOB1/kids/{leo['kid_id']}")
        assert (status, answer["error"]["rule"]) == (404, "class_code")
        # nothing of bob's changed
        roster = (await bob.get("/api/teacher/classes/BOB1/roster"))[1]["kids"]
        assert [(k["name"], k["level"], k["car_id"]) for k in roster] == [("Leo", 1, "car-b")]
        assert srv.classroom.car_of(mia["kid_id"]) == "car-a"
        # and the core itself never puts a kid on another class's car, whoever asks
        status, answer = await root.post("/api/teacher/cars/car-b/assign", {"kid_ids": [mia["kid_id"]]})
        assert (status, answer["error"]["rule"]) == (409, "car_class"), answer
        # a teacher still controls their own
        assert (await ana.post(f"/api/teacher/classes/ANA1/kids/{mia['kid_id']}/level", {"level": 2}))[0] == 200
        assert (await ana.post("/api/teacher/cars/car-a/stop"))[0] == 200


async def test_one_class_estop_never_stops_the_other_class_cars_and_sockets_are_scoped(tmp_path):
    async with two_classes(tmp_path) as (srv, ana, bob, root, mia, leo):
        ana_socket = await RecordingTeacherSocket().connect(ana)
        bob_socket = await RecordingTeacherSocket().connect(bob)
        root_socket = await RecordingTeacherSocket().connect(root)
        try:
            mia_sio, leo_sio = await srv.kid_socket(mia["token"]), await srv.kid_socket(leo["token"])
            assert (await srv.block(leo_sio, "move_forward", SHORT))["status"] == "done"
            assert (await srv.block(leo_sio, "set_speed", {"speed": 99}))["status"] in ("done", "refused")
            assert (await srv.block(mia_sio, "move_forward", SHORT))["status"] == "done"
            await wait_for(lambda: "car-b" in root_socket.car_ids_seen() and "car-a" in root_socket.car_ids_seen(),
                           "the admin's socket seeing both cars")

            # ana's class e-stop: car-a latches, car-b drives on
            status, body = await ana.post("/api/teacher/classes/ANA1/estop", {"reason": "drill"})
            assert (status, body["cars"]) == (200, ["car-a"]), body
            await wait_for(lambda: srv.classroom.latest_telemetry("car-a").safety_state == "estop", "car-a latched")
            assert (await srv.block(mia_sio, "move_forward", SHORT))["rule"] == "estop_latched"
            assert (await srv.block(leo_sio, "move_forward", SHORT))["status"] == "done"
            assert srv.classroom.latest_telemetry("car-b").safety_state != "estop"
            # ana's STOP ALL is her classes' cars too; every car on the server is an admin's
            status, body = await ana.post("/api/teacher/estop", {"reason": "stop all"})
            assert (status, body["cars"]) == (200, ["car-a"])
            status, body = await ana.post("/api/teacher/estop", {"all_cars": True})
            assert (status, body["error"]["rule"]) == (403, "admin_only") and body["error"]["fix"]
            assert (await srv.block(leo_sio, "move_forward", SHORT))["status"] == "done"
            await asyncio.sleep(0.3)  # what would have leaked has had time to arrive

            assert ana_socket.events("estop") and all(e["cars"] == ["car-a"] for e in ana_socket.events("estop"))
            assert not bob_socket.events("estop"), "bob's console heard of ana's e-stop"
            assert ana_socket.car_ids_seen() == {"car-a"}, ana_socket.car_ids_seen()
            assert bob_socket.car_ids_seen() == {"car-b"}, bob_socket.car_ids_seen()
            assert {e["kid_id"] for e in ana_socket.events("activity")} == {mia["kid_id"]}
            assert {e["kid_id"] for e in bob_socket.events("activity")} == {leo["kid_id"]}
            assert {e["kid_id"] for e in root_socket.events("activity")} == {mia["kid_id"], leo["kid_id"]}
            assert {e["car_id"] for e in bob_socket.events("telemetry")} == {"car-b"}

            # the admin's e-stop of every car reaches both classes' cars
            status, body = await root.post("/api/teacher/estop", {"all_cars": True, "reason": "fire drill"})
            assert status == 200 and sorted(body["cars"]) == ["car-a", "car-b"]
            await wait_for(lambda: srv.classroom.latest_telemetry("car-b").safety_state == "estop", "car-b latched")
            await wait_for(lambda: bob_socket.events("estop"), "bob's console told of the admin's stop of his car")
            assert bob_socket.events("estop")[-1]["cars"] == ["car-b"]  # never the names of ana's cars
        finally:
            for s in (ana_socket, bob_socket, root_socket):
                await s.close()


async def test_a_teacher_cannot_read_or_grade_another_class_attempts(tmp_path):
    async with two_classes(tmp_path) as (srv, ana, bob, root, mia, leo):
        srv.handle.app[ATTEMPTS].coach = Coach(CoachConfig(enabled=False))
        ana_socket = await RecordingTeacherSocket().connect(ana)
        bob_socket = await RecordingTeacherSocket().connect(bob)
        try:
            leo_sio = await srv.kid_socket(leo["token"])
            attempt_id = await kid_graded_attempt(srv, leo, leo_sio)
            await wait_for(lambda: bob_socket.events("attempts_changed"), "bob's console told of Leo's graded attempt")
            assert not ana_socket.events("attempts_changed")

            assert (await ana.get("/api/teacher/attempts"))[1]["attempts"] == []
            status, body = await ana.get(f"/api/teacher/attempts?kid={leo['kid_id']}")
            assert (status, body["error"]["rule"]) == (404, "kid_id")
            status, body = await ana.get(f"/api/attempts/{attempt_id}")
            assert (status, body["error"]["rule"]) == (404, "attempt_id")
            status, body = await ana.post(f"/api/teacher/attempts/{attempt_id}/override", {"stars": 0, "comment": "x"})
            assert (status, body["error"]["rule"]) == (404, "attempt_id")

            assert [a["attempt_id"] for a in (await bob.get("/api/teacher/attempts"))[1]["attempts"]] == [attempt_id]
            status, body = await bob.post(f"/api/teacher/attempts/{attempt_id}/override", {"stars": 3, "comment": "great"})
            assert status == 200, body
            assert (await bob.get(f"/api/attempts/{attempt_id}"))[0] == 200
            status, csv = 0, ""
            async with bob.http.get(f"{srv.url}/api/teacher/classes/BOB1/progress.csv") as resp:
                status, csv = resp.status, await resp.text()
            assert status == 200 and "Leo" in csv and "Mia" not in csv
        finally:
            await ana_socket.close()
            await bob_socket.close()


async def test_admin_routes_refuse_a_teacher_with_the_rule_the_value_and_the_fix(tmp_path):
    make_accounts(tmp_path)
    async with classroom_server(tmp_path) as srv:
        ana, root = await login(srv.url, "ana"), await login(srv.url, "root")
        try:
            for method, path, body in (("GET", "/api/admin/teachers", None),
                                       ("POST", "/api/admin/teachers", {"username": "eve", "password": "eve-pass-123"}),
                                       ("POST", "/api/admin/teachers/bob/disable", {}),
                                       ("POST", f"/api/admin/classes/{CLASS}/teacher", {"username": "ana"})):
                status, answer = await (ana.get(path) if method == "GET" else ana.post(path, body))
                error = answer["error"]
                assert (status, error["rule"], error["value"]) == (403, "admin_only", "ana"), (path, answer)
                assert "admin" in error["message"] and "dojo teacher add" in error["fix"]
            # the admin makes a teacher, gives them a class, disables them: their live session ends
            status, made = await root.post("/api/admin/teachers", {"username": "Eve", "password": "eve-pass-123"})
            assert (status, made) == (201, {"username": "eve", "role": "teacher"})
            status, answer = await root.post("/api/admin/teachers", {"username": "eve", "password": "eve-pass-123"})
            assert (status, answer["error"]["rule"]) == (409, "teacher_username_taken")
            status, answer = await root.post("/api/admin/teachers", {"username": "zed", "password": "short"})
            assert (status, answer["error"]["rule"]) == (400, "teacher_password_length")
            eve = await login(srv.url, "eve", "eve-pass-123")
            assert (await eve.get("/api/teacher/classes"))[1]["classes"] == []
            assert (await root.post(f"/api/admin/classes/{CLASS}/teacher", {"username": "eve"}))[0] == 200
            assert [c["code"] for c in (await eve.get("/api/teacher/classes"))[1]["classes"]] == [CLASS]
            listed = {t["username"]: t for t in (await root.get("/api/admin/teachers"))[1]["teachers"]}
            assert listed["eve"]["classes"] == [CLASS] and listed["root"]["role"] == "admin"
            status, body = await root.post("/api/admin/teachers/eve/disable")
            assert status == 200 and body["disabled"] and body["sessions_ended"] == 1
            assert (await eve.get("/api/teacher/me"))[0] == 401
            with pytest.raises(AssertionError, match="401"):
                await login(srv.url, "eve", "eve-pass-123")
            status, body = await root.post("/api/admin/teachers/root/disable")
            assert (status, body["error"]["rule"]) == (409, "admin_self")
            await eve.http.close()
        finally:
            await ana.http.close()
            await root.http.close()


async def test_accounts_mode_asks_for_a_username_and_single_password_mode_for_none(tmp_path):
    async with classroom_server(tmp_path / "single") as srv:  # no account: today's one-password classroom
        async with srv.http.get(f"{srv.url}/api/teacher/login-mode") as resp:
            assert await resp.json() == {"accounts": False}
        async with srv.http.post(f"{srv.url}/api/teacher/login",
                                 json={"username": "ana", "password": "teacher-pass-123"}) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["rule"] == "teacher_accounts_off"
        teacher = await srv.teacher()
        status, me = await teacher.get("/api/teacher/me")
        assert status == 200 and me["username"] is None and me["sees_everything"] is True
        await teacher.http.close()
    make_accounts(tmp_path / "accounts", ("ana",))
    async with classroom_server(tmp_path / "accounts") as srv:  # the classroom password is configured, and ignored
        async with srv.http.get(f"{srv.url}/api/teacher/login-mode") as resp:
            assert await resp.json() == {"accounts": True}
        async with srv.http.post(f"{srv.url}/api/teacher/login", json={"password": "teacher-pass-123"}) as resp:
            error = (await resp.json())["error"]
            assert resp.status == 400 and error["rule"] == "teacher_username_missing" and "username" in error["fix"]
        for username, password in (("ana", "wrong-password"), ("nobody", PASSWORDS["ana"])):
            async with srv.http.post(f"{srv.url}/api/teacher/login",
                                     json={"username": username, "password": password}) as resp:
                assert resp.status == 401 and (await resp.json())["error"]["rule"] == "teacher_password"
        ana = await login(srv.url, "ANA ", PASSWORDS["ana"])  # usernames are case- and space-insensitive
        status, me = await ana.get("/api/teacher/me")
        assert (me["username"], me["role"], me["sees_everything"]) == ("ana", "teacher", False)
        await ana.http.close()
