"""Floods are limited (issue 17, finding 2), through a real server on 127.0.0.1 and real socket.io clients.

- every block call pays the kid's rate limit before anything else looks at it: unknown, locked and
  malformed calls too;
- refused blocks reach the request log and the teacher's sockets at most twice per kid per second
  (the first as it is, the rest counted in one summary);
- run_start has its own per-kid bucket (every run may become a graded attempt);
- POST /api/join is limited per computer and per class; class codes cannot be guessed unthrottled and a
  bad name gets the same answer whether the code exists or not;
- JSON POSTs need Content-Type: application/json (a foreign page's simple form cannot join);
- a teacher removes a kid (API; the console's button is in the browser test);
- a join pushes car_status only to the kids of the car that changed;
- the request log keeps at most `request_log.max_rows` rows, none older than `max_age_days`.
"""

from __future__ import annotations

import asyncio
import time

import socketio
from yarl import URL

from core_harness import CALL_TIMEOUT_S, CLASS, classroom_server, wait_for
from server.core.config import RateLimits, RequestLogRetention
from server.core.storage import RequestLogEntry

SLOW_REFILL = dict(blocks_per_s=0.01, burst=20)  # a bucket that does not refill during a test, however busy the box
QUIET_S = 0.5  # how long we listen to be sure an event did not come


async def call(sio, event, data):
    return await sio.call(event, data, namespace="/kid", timeout=CALL_TIMEOUT_S)


async def teacher_socket(srv, teacher, events: dict[str, list]) -> socketio.AsyncClient:
    tsio = socketio.AsyncClient(reconnection=False)
    for name, got in events.items():
        tsio.on(name, got.append, namespace="/teacher")
    cookie = teacher.http.cookie_jar.filter_cookies(URL(srv.url))["dojo_teacher"].value
    await tsio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                       transports=["websocket"], wait_timeout=5)
    return tsio


async def test_unknown_locked_and_malformed_blocks_pay_the_rate_limit_before_the_rule_check(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"], rate_limits=RateLimits(**SLOW_REFILL)) as srv:
        sio = await srv.kid_socket((await srv.join("Mia"))["token"])
        kinds = [{"block": "fly_to_the_moon", "args": {}},  # unknown
                 {"block": "go_to", "args": {"x": 50, "y": 50}},  # locked at level 1
                 {"block": 42, "args": []}]  # malformed
        rules = [(await call(sio, "block", kinds[i % 3]))["rule"] for i in range(60)]
        assert rules[:20].count("rate_limit") == 0, rules  # the burst: each gets its own refusal
        assert {r for r in rules[:20]} >= {"unknown_block", "block_locked"}, rules
        assert rules[20:] == ["rate_limit"] * 40, rules  # then the flood is limited, whatever it sends
        moved = await srv.block(sio, "move_forward", {"distance": 5})
        assert moved["status"] == "refused" and moved["rule"] == "rate_limit"  # one bucket for all of them
        assert (await call(sio, "stop", {}))["status"] == "done"  # stop is never limited


async def test_refused_blocks_reach_the_request_log_and_teachers_at_most_twice_per_kid_per_second(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        teacher = await srv.teacher()
        activity: list[dict] = []
        tsio = await teacher_socket(srv, teacher, {"activity": activity})
        try:
            await srv.classroom.flush_request_log()
            t0 = time.monotonic()
            replies = []
            for _ in range(6):  # 300 refused blocks as fast as the socket takes them
                replies += await asyncio.gather(*(call(sio, "block", {"block": "nope", "args": {}}) for _ in range(50)))
            elapsed = time.monotonic() - t0
            assert len(replies) == 300 and all(r["status"] == "refused" for r in replies)  # each still answered
            await asyncio.sleep(srv.config.rate_limits.refusal_report_s + 0.1)  # the last window is over
            await srv.classroom.flush_request_log()
            rows = srv.classroom.storage.recent_requests(1000, kid["kid_id"])
            windows = int(elapsed / srv.config.rate_limits.refusal_report_s) + 2
            assert len(rows) <= 2 * windows, (len(rows), elapsed)
            counted = sum(sum(r.args.values()) if r.block == "*" else 1 for r in rows)
            assert counted == 300, [(r.block, r.detail) for r in rows]  # nothing lost: the rest are counted
            assert any(r.block == "*" and "more refused blocks" in r.detail for r in rows)
            await wait_for(lambda: sum(a.get("count", 1) for a in activity if a["status"] == "refused") == 300,
                           "the teacher's activity rows adding up to 300")
            assert len(activity) <= 2 * windows, len(activity)
        finally:
            await tsio.disconnect()
            await teacher.http.close()


async def test_run_start_is_limited_per_kid(tmp_path):
    limits = RateLimits(runs_per_s=0.01, run_burst=3)
    async with classroom_server(tmp_path, cars=["car-1"], rate_limits=limits) as srv:
        mia = await srv.kid_socket((await srv.join("Mia"))["token"])
        leo = await srv.kid_socket((await srv.join("Leo"))["token"])
        started = []
        srv.classroom.events.subscribe("run_started", started.append)
        program = {"source": "scratch", "program": {"blocks": []}}
        answers = [await call(mia, "run_start", program) for _ in range(10)]
        assert [a["status"] for a in answers] == ["ok"] * 3 + ["refused"] * 7, answers
        assert answers[-1]["rule"] == "run_rate" and "green flag" in answers[-1]["kid_text"]
        assert len(started) == 3  # refused starts never became runs (or graded attempts)
        assert (await call(leo, "run_start", program))["status"] == "ok"  # per kid


async def test_joins_are_limited_per_computer_and_per_class(tmp_path):
    async with classroom_server(tmp_path, rate_limits=RateLimits(join_burst_per_address=5,
                                                                 joins_per_address_per_min=0.01)) as srv:
        for name in ("Ada", "Ben", "Cleo", "Dev", "Eve"):
            await srv.join(name)
        async with srv.http.post(srv.url + "/api/join", json={"class_code": CLASS, "name": "Finn"}) as resp:
            body = await resp.json()
            assert resp.status == 429 and body["error"]["rule"] == "join_rate", body
            assert int(resp.headers["Retry-After"]) > 0 and "wait" in body["error"]["fix"]
        assert len(srv.classroom.kids_in_class(CLASS)) == 5
    async with classroom_server(tmp_path / "b", rate_limits=RateLimits(join_burst_per_class=3,
                                                                       joins_per_class_per_min=0.01)) as srv:
        other = srv.classroom.create_class("Class 4B", "FOURB")
        for name in ("Ada", "Ben", "Cleo"):
            await srv.join(name)
        async with srv.http.post(srv.url + "/api/join", json={"class_code": CLASS, "name": "Dev"}) as resp:
            assert resp.status == 429 and (await resp.json())["error"]["rule"] == "class_join_rate"
        assert (await srv.join("Dev", other))["class_code"] == other  # another class is not affected


async def test_class_codes_cannot_be_guessed_and_a_bad_name_does_not_tell_which_codes_exist(tmp_path):
    async with classroom_server(tmp_path, rate_limits=RateLimits(unknown_code_burst=3,
                                                                 unknown_codes_per_address_per_min=0.01)) as srv:
        answers = []
        for code in (CLASS, "NOPE1"):  # an invalid name: the same answer, whichever the code
            async with srv.http.post(srv.url + "/api/join", json={"class_code": code, "name": "R2D2"}) as resp:
                answers.append((resp.status, (await resp.json())["error"]["rule"]))
        assert answers == [(400, "kid_name"), (400, "kid_name")]
        for code in ("NOPE1", "NOPE2", "NOPE3"):
            async with srv.http.post(srv.url + "/api/join", json={"class_code": code, "name": "Mia"}) as resp:
                assert resp.status == 404 and (await resp.json())["error"]["rule"] == "class_code"
        for code in ("NOPE4", CLASS):  # tries used up: every code gets the same "wait", the right one too
            async with srv.http.post(srv.url + "/api/join", json={"class_code": code, "name": "Mia"}) as resp:
                body = await resp.json()
                assert resp.status == 429 and body["error"]["rule"] == "class_code_tries", body
        assert srv.classroom.kids_in_class(CLASS) == []


async def test_json_posts_need_content_type_application_json(tmp_path):
    async with classroom_server(tmp_path) as srv:
        body = '{"class_code": "TEST", "name": "Mia"}'
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            async with srv.http.post(srv.url + "/api/join", data=body, headers={"Content-Type": content_type}) as resp:
                error = (await resp.json())["error"]
                assert resp.status == 415 and error["rule"] == "content_type", (content_type, error)
                assert "application/json" in error["fix"]
        async with srv.http.post(srv.url + "/api/teacher/login", data='{"password": "x"}',
                                 headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 415
        assert srv.classroom.kids_in_class(CLASS) == []
        assert (await srv.join("Mia"))["name"] == "Mia"  # with the right type it works


async def test_a_teacher_removes_a_kid_whose_socket_closes_and_whose_token_opens_nothing(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        mia, leo = await srv.join("Mia"), await srv.join("Leo")
        removed: list[dict] = []
        sio = await srv.kid_socket(mia["token"], {"removed": removed.append})
        teacher = await srv.teacher()
        try:
            url = f"{srv.url}/api/teacher/classes/{CLASS}/kids/{mia['kid_id']}"
            async with teacher.http.delete(url) as resp:  # no CSRF header: refused
                assert resp.status == 403
            async with teacher.http.delete(url, headers={"X-CSRF-Token": teacher.csrf}) as resp:
                body = await resp.json()
                assert resp.status == 200 and body == {"kid_id": mia["kid_id"], "name": "Mia", "removed": True}
            await wait_for(lambda: removed and not sio.connected, "the kid's socket told and closed")
            assert "took you out" in removed[0]["kid_text"]
            assert [k.name for k in srv.classroom.kids_in_class(CLASS)] == ["Leo"]
            assert srv.classroom.car_info("car-1").kid_ids == (leo["kid_id"],)
            async with srv.http.get(srv.url + "/api/cars", headers={"Authorization": f"Bearer {mia['token']}"}) as resp:
                assert resp.status == 401
            again = socketio.AsyncClient(reconnection=False)
            try:
                await again.connect(srv.url, namespaces=["/kid"], auth={"token": mia["token"]}, transports=["websocket"])
                raise AssertionError("a removed kid's token opened a socket")
            except socketio.exceptions.ConnectionError:
                pass
            async with teacher.http.delete(url, headers={"X-CSRF-Token": teacher.csrf}) as resp:
                assert resp.status == 404 and (await resp.json())["error"]["rule"] == "kid_id"
            assert (await srv.join("Mia"))["kid_id"] != mia["kid_id"]  # she may join again as a new kid
        finally:
            await teacher.http.close()


async def test_a_join_pushes_car_status_only_to_the_kids_of_the_car_that_changed(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1", "car-2"], auto_assign_cars=False) as srv:
        ada, ben = await srv.join("Ada"), await srv.join("Ben")
        srv.classroom.assign("car-1", [ada["kid_id"]])
        srv.classroom.assign("car-2", [ben["kid_id"]])
        got = {"ada": [], "ben": []}
        await srv.kid_socket(ada["token"], {"car_status": got["ada"].append})
        await srv.kid_socket(ben["token"], {"car_status": got["ben"].append})
        await wait_for(lambda: got["ada"] and got["ben"], "the welcome car_status")
        await asyncio.sleep(QUIET_S)
        before = {k: len(v) for k, v in got.items()}
        cleo = await srv.join("Cleo")
        srv.classroom.assign("car-1", [ada["kid_id"], cleo["kid_id"]])
        await wait_for(lambda: len(got["ada"]) > before["ada"], "car-1's kid hears that the car is shared now")
        assert got["ada"][-1]["cars"][0]["shared"] is True
        await asyncio.sleep(QUIET_S)
        assert len(got["ben"]) == before["ben"]  # car-2's kid hears nothing


async def test_the_request_log_keeps_at_most_max_rows_and_nothing_older_than_max_age(tmp_path):
    retention = RequestLogRetention(max_rows=100, max_age_days=1)
    async with classroom_server(tmp_path, request_log=retention) as srv:
        storage = srv.classroom.storage
        now = time.time()
        old = [RequestLogEntry(now - 3 * 86400, "k-old", None, "move_forward", {}, "done", "", 0.1) for _ in range(50)]
        new = [RequestLogEntry(now - 300 + i, "k-new", None, "move_forward", {"i": i}, "done", "", 0.1) for i in range(300)]
        storage.log_requests(old + new)
        gone = await srv.classroom.prune_request_log()
        assert gone == 250
        rows = storage.recent_requests(1000)
        assert len(rows) == 100 and {r.kid_id for r in rows} == {"k-new"}
        assert sorted(r.args["i"] for r in rows) == list(range(200, 300))  # the newest stay
