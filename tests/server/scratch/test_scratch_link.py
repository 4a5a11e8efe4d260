"""The Scratch-Link-compatible endpoint /scratch/ble, spoken to with aiohttp's WebSocket client.

A real app on 127.0.0.1 with two real simulated cars (car-1 for Mia, car-2 for Leo). Every bad
message gets the right JSON-RPC error with a `data` text naming the rule/value/fix, the socket stays
up, and no car is touched: nothing reaches the classroom's block pipeline (its "block_result"
events stay empty) and the cars do not move.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from server.scratch.protocol import (
    APPLICATION_ERROR, BLOCK_CHAR_UUID, EVENTS_CHAR_UUID, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND,
    PARSE_ERROR, SERVICE_UUID, canonical_uuid,
)
from core_harness import Srv, classroom_server, wait_for

RECEIVE_TIMEOUT_S = 5.0  # loopback answers in milliseconds
BLOCK_RESULT_TIMEOUT_S = 20.0  # a short move on a simulated car
QUIET_S = 0.3  # how long we listen to be sure nothing else arrives

SERVICE_AS_INT = 0xD0D0


def b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


class Link:
    """A JSON-RPC client on /scratch/ble that keeps the notifications it sees."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0  # like scratch-vm: ids start at 0
        self.notifications: list[dict[str, Any]] = []

    async def receive(self, timeout: float = RECEIVE_TIMEOUT_S) -> dict[str, Any] | None:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        return json.loads(msg.data)

    async def raw(self, text: str) -> dict[str, Any]:
        await self.ws.send_str(text)
        return await self._reply(None)

    async def call(self, method: str, params: Any = None, **extra: Any) -> dict[str, Any]:
        request_id = self.next_id
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, **extra}
        if params is not None:
            message["params"] = params
        await self.ws.send_str(json.dumps(message))
        reply = await self._reply(request_id)
        assert reply["id"] == request_id
        return reply

    async def _reply(self, request_id: Any) -> dict[str, Any]:
        while True:
            msg = await self.receive()
            assert msg is not None, "the socket closed instead of answering"
            if "method" in msg:
                self.notifications.append(msg)
                continue
            if request_id is None or msg.get("id") == request_id:
                return msg

    async def result(self, method: str, params: Any = None) -> Any:
        reply = await self.call(method, params)
        assert "error" not in reply, reply
        assert "result" in reply, reply  # a void success still has "result": null
        return reply["result"]

    def payloads(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = []
        for n in self.notifications:
            if n["method"] == "characteristicDidChange":
                p = json.loads(base64.b64decode(n["params"]["message"]))
                if kind is None or p["type"] == kind:
                    out.append(p)
        return out

    async def wait_payload(self, kind: str, timeout: float = BLOCK_RESULT_TIMEOUT_S, **match: Any) -> dict[str, Any]:
        import time
        deadline = time.monotonic() + timeout
        while True:
            for p in self.payloads(kind):
                if all(p.get(k) == v for k, v in match.items()):
                    return p
            left = deadline - time.monotonic()
            assert left > 0, f"no {kind} payload {match} within {timeout} s; saw {self.payloads()[-5:]}"
            msg = await self.receive(timeout=left)
            assert msg is not None, "the socket closed"
            if "method" in msg:
                self.notifications.append(msg)

    async def connect_car(self, car_id: str) -> None:
        assert await self.result("discover", {"filters": [{"services": ["mikrodojo"]}]}) is None
        await self.wait_notification("didDiscoverPeripheral")
        assert await self.result("connect", {"peripheralId": car_id}) is None

    async def wait_notification(self, method: str) -> dict[str, Any]:
        while not any(n["method"] == method for n in self.notifications):
            msg = await self.receive()
            assert msg is not None
            self.notifications.append(msg)
        return next(n for n in self.notifications if n["method"] == method)

    async def expect_error(self, reply: dict[str, Any], code: int, *words: str) -> str:
        assert "error" in reply and "result" not in reply, reply
        assert reply["error"]["code"] == code, reply
        data = reply["error"]["data"]
        for word in words:
            assert word.lower() in data.lower(), f"{word!r} not in {data!r}"
        assert not self.ws.closed
        return data


class Env:
    def __init__(self, srv: Srv, kids: dict[str, dict[str, Any]], http: aiohttp.ClientSession) -> None:
        self.srv, self.kids, self.http = srv, kids, http
        self.results: list[tuple[str, Any]] = []
        self.start_poses = {c: self.pose(c) for c in srv.cars}
        srv.classroom.events.subscribe("block_result", lambda kid_id, reply: self.results.append((kid_id, reply)))

    def pose(self, car_id: str) -> tuple[float, float, float]:
        tel = self.srv.classroom.latest_telemetry(car_id)
        return (round(tel.pose.x_cm, 1), round(tel.pose.y_cm, 1), round(tel.pose.heading_deg, 1))

    @contextlib.asynccontextmanager
    async def link(self, token: str | None = "Mia", headers: dict[str, str] | None = None,
                   query: str | None = None) -> AsyncIterator[Link]:
        url = f"{self.srv.url}/scratch/ble"
        if query is not None:
            url += query
        elif token is not None:
            url += f"?token={self.kids[token]['token'] if token in self.kids else token}"
        async with self.http.ws_connect(url, headers=headers or {}) as ws:
            yield Link(ws)

    def assert_no_car_touched(self) -> None:
        assert self.results == [], f"block calls reached the classroom: {self.results}"
        for car_id, pose in self.start_poses.items():
            assert self.pose(car_id) == pose, f"{car_id} moved: {pose} -> {self.pose(car_id)}"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with classroom_server(tmp_path, cars=["car-1", "car-2"], auto_assign_cars=False,
                                allowed_origins=["https://turbowarp.org"]) as srv:
        teacher = await srv.teacher()
        kids = {}
        for name, car in (("Mia", "car-1"), ("Leo", "car-2")):
            kids[name] = await srv.join(name)
            status, body = await teacher.post(f"/api/teacher/cars/{car}/assign", {"kid_ids": [kids[name]["kid_id"]]})
            assert status == 200, body
        await teacher.http.close()
        async with aiohttp.ClientSession() as http:
            yield Env(srv, kids, http)


# --- the happy path -------------------------------------------------------------------------


async def test_session_goes_initial_discovery_connected_and_a_write_drives_the_car(env: Env) -> None:
    async with env.link() as link:
        first = await link.call("getVersion")
        assert first == {"jsonrpc": "2.0", "id": 0, "result": {"protocol": "1.2"}}
        assert await link.result("discover", {"filters": [{"services": [SERVICE_AS_INT]}], "optionalServices": []}) is None
        found = await link.wait_notification("didDiscoverPeripheral")
        assert found["params"]["peripheralId"] == "car-1"
        assert found["params"]["name"] == "car-1 (simulated)"
        assert isinstance(found["params"]["rssi"], int) and found["params"]["rssi"] > -100
        assert await link.result("connect", {"peripheralId": "car-1"}) is None
        assert await link.result("startNotifications", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_events"}) is None
        level = await link.wait_payload("level")
        assert level["level"] == 1
        telemetry = await link.wait_payload("telemetry", car="car-1")
        assert {"x", "y", "heading", "distance", "speed", "safety"} <= set(telemetry)
        call = {"block": "move_forward", "args": {"distance": 10}, "ref": "r1"}
        written = await link.result("write", {"serviceId": SERVICE_UUID.upper(), "characteristicId": BLOCK_CHAR_UUID,
                                              "message": b64(call), "encoding": "base64", "withResponse": False})
        assert written == len(json.dumps(call).encode())  # the byte count, at once
        result = await link.wait_payload("result", ref="r1")
        assert result["status"] == "done" and result["block"] == "move_forward"
        notification = next(n for n in link.notifications if n["method"] == "characteristicDidChange")
        assert notification["params"]["serviceId"] == SERVICE_UUID
        assert notification["params"]["characteristicId"] == EVENTS_CHAR_UUID
    assert env.pose("car-1")[0] > env.start_poses["car-1"][0] + 8, "car-1 drove forward"
    assert env.pose("car-2") == env.start_poses["car-2"], "Leo's car did not move"


async def test_discover_lists_only_the_cars_the_kid_may_drive(env: Env) -> None:
    async with env.link("Leo") as link:
        await link.result("discover", {"filters": [{"namePrefix": "car"}]})
        await link.wait_notification("didDiscoverPeripheral")
        with pytest.raises(TimeoutError):
            await link.receive(timeout=QUIET_S)
        listed = [n["params"]["peripheralId"] for n in link.notifications if n["method"] == "didDiscoverPeripheral"]
        assert listed == ["car-2"]
        # Mia's car was never discovered on this socket: connecting to it is refused.
        data = await link.expect_error(await link.call("connect", {"peripheralId": "car-1"}), INVALID_PARAMS,
                                       "car-1", "car-2")
        assert "not discovered" in data
    env.assert_no_car_touched()


async def test_filters_that_match_no_car_announce_nothing(env: Env) -> None:
    async with env.link() as link:
        assert await link.result("discover", {"filters": [{"services": ["heart_rate"]}, {"name": "car-9"}]}) is None
        with pytest.raises(TimeoutError):
            await link.receive(timeout=QUIET_S)


@pytest.mark.parametrize("service_id", [SERVICE_AS_INT, "mikrodojo", SERVICE_UUID, "{" + SERVICE_UUID.upper() + "}"])
def test_service_ids_as_integer_name_or_uuid_are_the_same_service(service_id: Any) -> None:
    assert canonical_uuid(service_id) == SERVICE_UUID == "0000d0d0-0000-1000-8000-00805f9b34fb"


async def test_read_returns_the_latest_telemetry_and_stop_notifications_ends_the_stream(env: Env) -> None:
    async with env.link() as link:
        await link.connect_car("car-1")
        read = await link.result("read", {"serviceId": SERVICE_AS_INT, "characteristicId": 0xD0D2})
        assert read["encoding"] == "base64"
        payload = json.loads(base64.b64decode(read["message"]))
        assert payload["type"] == "telemetry" and payload["car"] == "car-1"
        assert link.payloads("telemetry") == [], "no stream before startNotifications"
        await link.result("read", {"serviceId": SERVICE_AS_INT, "characteristicId": 0xD0D2, "startNotifications": True})
        await link.wait_payload("telemetry")
        assert await link.result("stopNotifications", {"serviceId": "mikrodojo", "characteristicId": EVENTS_CHAR_UUID}) is None
        link.notifications.clear()
        with contextlib.suppress(TimeoutError):
            while True:
                msg = await link.receive(timeout=QUIET_S)
                if msg and "method" in msg:
                    link.notifications.append(msg)
        assert link.payloads("telemetry") == [], "stopNotifications stops the telemetry"


async def test_a_refusal_travels_inside_a_successful_notification_and_the_socket_stays_up(env: Env) -> None:
    async with env.link() as link:
        await link.connect_car("car-1")
        await link.result("startNotifications", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_events"})
        written = await link.result("write", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_block",
                                              "message": b64({"block": "drive_for", "args": {"speed": 90, "seconds": 1},
                                                              "ref": 7})})
        assert written > 0
        refused = await link.wait_payload("result", ref=7)
        assert refused["status"] == "refused"
        assert "level" in refused["kid_text"].lower()
        assert refused["rule"]
        await link.result("write", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_block",
                                    "message": b64({"block": "stop", "ref": "s"})})
        assert (await link.wait_payload("result", ref="s"))["status"] == "done"


async def test_a_kid_driving_only_from_scratch_link_is_online_in_the_teachers_roster(env: Env) -> None:
    teacher = await env.srv.teacher()

    async def online() -> dict[str, bool]:
        status, body = await teacher.get("/api/teacher/classes/TEST/roster")
        assert status == 200, body
        return {k["name"]: k["online"] for k in body["kids"]}

    try:
        assert await online() == {"Mia": False, "Leo": False}
        async with env.link() as link:  # TurboWarp: no /kid socket at all
            await link.connect_car("car-1")
            assert await online() == {"Mia": True, "Leo": False}
        await wait_for(lambda: not env.srv.classroom.presence.online(env.kids["Mia"]["kid_id"]), "Mia's socket to close")
        assert await online() == {"Mia": False, "Leo": False}
    finally:
        await teacher.http.close()


# --- errors: each with its JSON-RPC code, a useful data text, and no effect on any car ----------


async def test_protocol_errors_name_the_rule_and_touch_no_car(env: Env) -> None:
    async with env.link() as link:
        assert (await link.raw("{not json"))["error"]["code"] == PARSE_ERROR
        reply = await link.raw("{not json")
        assert reply["id"] is None and "JSON" in reply["error"]["data"]
        await link.expect_error(await link.raw(json.dumps({"id": 3, "method": "getVersion"})), INVALID_REQUEST, "jsonrpc")
        await link.expect_error(await link.raw(json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "getVersion"}])),
                                INVALID_REQUEST, "batch")
        await link.expect_error(await link.raw(json.dumps({"jsonrpc": "2.0", "id": 4})), INVALID_REQUEST, "method")
        await link.expect_error(await link.call("pair", {}), METHOD_NOT_FOUND, "pair", "discover")
        await link.expect_error(await link.call("discover", [1, 2]), INVALID_PARAMS, "params must be an object")
        # write / connect before their state
        await link.expect_error(await link.call("write", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_block",
                                                          "message": b64({"block": "move_forward"})}),
                                APPLICATION_ERROR, "needs a connected car", "discover")
        await link.expect_error(await link.call("connect", {"peripheralId": "car-1"}), APPLICATION_ERROR, "discover first")
        # discover's filters are validated
        await link.expect_error(await link.call("discover", {}), INVALID_PARAMS, "filters")
        await link.expect_error(await link.call("discover", {"filters": [{}]}), INVALID_PARAMS, "filters[0]")
        await link.expect_error(await link.call("discover", {"filters": [{"colour": "red"}]}), INVALID_PARAMS, "colour")
        await link.expect_error(await link.call("discover", {"filters": [{"services": ["warp-drive"]}]}),
                                INVALID_PARAMS, "warp-drive", "mikrodojo")
        await link.expect_error(await link.call("discover", {"filters": [{"services": [2 ** 40]}]}), INVALID_PARAMS,
                                "out of range")
        await link.connect_car("car-1")
        write = {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_block"}
        await link.expect_error(await link.call("write", {**write, "message": "%%% not base64 %%%"}), INVALID_PARAMS,
                                "base64")
        await link.expect_error(await link.call("write", {**write, "message": b64("x")[:-1] + "!"}), INVALID_PARAMS,
                                "base64")
        await link.expect_error(await link.call("write", {**write, "message": base64.b64encode(b"move!").decode()}),
                                INVALID_PARAMS, "not JSON")
        await link.expect_error(await link.call("write", {**write, "message": b64({"args": {}})}), INVALID_PARAMS, "block")
        await link.expect_error(await link.call("write", {**write, "message": b64({"block": "turn", "x": 1})}),
                                INVALID_PARAMS, "remove")
        await link.expect_error(await link.call("write", {**write, "message": b64({"block": "turn"}),
                                                          "encoding": "latin1"}), INVALID_PARAMS, "encoding")
        await link.expect_error(await link.call("write", {**write, "serviceId": 0x180F, "message": b64({"block": "stop"})}),
                                APPLICATION_ERROR, "no service")
        await link.expect_error(await link.call("write", {**write, "characteristicId": "mikrodojo_events",
                                                          "message": b64({"block": "stop"})}), APPLICATION_ERROR, "cannot write")
        await link.expect_error(await link.call("read", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_block"}),
                                APPLICATION_ERROR, "cannot read")
        await link.expect_error(await link.call("discover", {"filters": [{"namePrefix": "car"}]}), APPLICATION_ERROR,
                                "already connected")
        assert (await link.call("getVersion"))["result"] == {"protocol": "1.2"}, "the socket is still up"
    env.assert_no_car_touched()


async def test_a_foreign_origin_gets_an_error_and_the_socket_closes(env: Env) -> None:
    async with env.link(headers={"Origin": "http://evil.example"}) as link:
        await link.ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "discover",
                                           "params": {"filters": [{"services": ["mikrodojo"]}]}}))
        reply = await link.receive()
        assert reply["id"] == 0 and reply["error"]["code"] == APPLICATION_ERROR
        assert "http://evil.example" in reply["error"]["data"] and "allowed_origins" in reply["error"]["data"]
        assert await link.receive() is None, "the server closed the socket"
    env.assert_no_car_touched()


async def test_same_origin_and_allowed_origins_are_welcome(env: Env) -> None:
    for origin in (env.srv.url, "https://turbowarp.org"):
        async with env.link(headers={"Origin": origin}) as link:
            await link.connect_car("car-1")


async def test_a_socket_without_a_token_may_only_authenticate(env: Env) -> None:
    async with env.link(token=None) as link:
        await link.expect_error(await link.call("discover", {"filters": [{"services": ["mikrodojo"]}]}),
                                APPLICATION_ERROR, "token", "authenticate")
        await link.expect_error(await link.call("authenticate", {"token": "not-a-token"}), APPLICATION_ERROR, "join")
        assert (await link.result("authenticate", {"token": env.kids["Mia"]["token"]}))["kid"] == "Mia"
        await link.connect_car("car-1")
        await link.expect_error(await link.call("authenticate", {"token": env.kids["Leo"]["token"]}),
                                APPLICATION_ERROR, "authenticate comes first")
    env.assert_no_car_touched()


async def test_a_forged_or_foreign_token_gets_an_error_and_touches_no_car(env: Env) -> None:
    mia = env.kids["Mia"]["token"]
    payload, signature = mia.rsplit(".", 1)
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    for token in (forged, "eyJrIjoiayJ9.c2ln", "x" * 300):
        async with env.link(token=token) as link:
            await link.expect_error(await link.call("discover", {"filters": [{"services": ["mikrodojo"]}]}),
                                    APPLICATION_ERROR, "token")
            await link.expect_error(await link.call("write", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_block",
                                                              "message": b64({"block": "move_forward"})}),
                                    APPLICATION_ERROR)
    env.assert_no_car_touched()


async def test_a_lost_car_is_announced_and_the_socket_closes(env: Env) -> None:
    async with env.link() as link:
        await link.connect_car("car-1")
        await link.result("startNotifications", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_events"})
        await env.srv.cars["car-1"].stop()
        lost = await link.wait_payload("car_lost", timeout=5.0)
        assert "car-1" in lost["detail"]
        while (msg := await link.receive()) is not None:  # telemetry may still be in flight before the close
            assert msg.get("method") == "characteristicDidChange"
        assert link.ws.closed


# --- the extension file and the TurboWarp listener ------------------------------------------


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_turbowarp_listener_serves_the_extension_unsandboxable_from_localhost(tmp_path: Path) -> None:
    port = _free_port()  # 8000 in real use; any free port here
    async with classroom_server(tmp_path, turbowarp_port=port,
                                allowed_origins=["https://turbowarp.org"]) as srv, aiohttp.ClientSession() as http:
        url = f"http://localhost:{port}/scratch/extension.js?class=DEMO&name=Mia"
        async with http.get(url, headers={"Origin": "https://turbowarp.org"}) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert resp.content_type == "application/javascript"
            source = await resp.text()
        assert source.startswith("// MIKRO-DOJO") and source.rstrip().endswith("})(Scratch);")
        served = json.loads(source.split("const SERVED_CONFIG = ", 1)[1].split(";\n", 1)[0])
        assert served == {"server": f"http://localhost:{port}", "classCode": "DEMO", "name": "Mia"}
        # The same app answers there: the kid API (with CORS for TurboWarp) and the Scratch Link socket.
        async with http.post(f"http://localhost:{port}/api/join", json={"class_code": "TEST", "name": "Zoe"},
                             headers={"Origin": "https://turbowarp.org"}) as resp:
            assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "https://turbowarp.org"
            token = (await resp.json())["token"]
        async with http.ws_connect(f"ws://localhost:{port}/scratch/ble?token={token}",
                                   headers={"Origin": "https://turbowarp.org"}) as ws:
            assert (await Link(ws).result("getVersion")) == {"protocol": "1.2"}
        assert srv.url.startswith("http://127.0.0.1:")


async def test_a_car_given_to_a_kid_who_is_scanning_shows_up_in_the_dialog(env: Env) -> None:
    ava = await env.srv.join("Ava")  # no car yet: auto_assign_cars is off in this classroom
    env.kids["Ava"] = ava
    async with env.link("Ava") as link:
        assert await link.result("discover", {"filters": [{"services": ["mikrodojo"]}]}) is None
        with pytest.raises(TimeoutError):
            await link.receive(timeout=QUIET_S)  # no car for Ava: nothing to list
        teacher = await env.srv.teacher()
        status, body = await teacher.post("/api/teacher/cars/car-2/assign",
                                          {"kid_ids": [env.kids["Leo"]["kid_id"], ava["kid_id"]]})
        await teacher.http.close()
        assert status == 200, body
        found = await link.wait_notification("didDiscoverPeripheral")
        assert found["params"]["peripheralId"] == "car-2"
    env.assert_no_car_touched()


async def test_run_writes_start_and_end_the_kids_run_and_a_closed_socket_ends_it(env: Env) -> None:
    runs: list[tuple[str, Any]] = []
    env.srv.classroom.events.subscribe("run_started", lambda run: runs.append(("started", run)))
    env.srv.classroom.events.subscribe("run_ended", lambda run: runs.append(("ended", run)))
    project = {"targets": [{"isStage": False, "name": "Car", "blocks": {}, "variables": {}}], "extensions": ["mikrodojo"]}
    write = {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_block"}
    async with env.link() as link:
        await link.connect_car("car-1")
        await link.result("startNotifications", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_events"})
        await link.result("write", {**write, "message": b64({"run": "start", "program": project, "ref": "g1"})})
        started = await link.wait_payload("run", ref="g1")
        assert started["status"] == "started"
        assert runs[-1][0] == "started" and runs[-1][1].source == "scratch" and runs[-1][1].program == project
        await link.result("write", {**write, "message": b64({"block": "move_forward", "args": {"distance": 3}, "ref": "m"})})
        assert (await link.wait_payload("result", ref="m"))["status"] == "done"
        await link.result("write", {**write, "message": b64({"run": "end", "reason": "finished", "ref": "g2"})})
        assert (await link.wait_payload("run", ref="g2"))["status"] == "ended"
        assert runs[-1][0] == "ended" and runs[-1][1].end_reason == "finished"
        await link.expect_error(await link.call("write", {**write, "message": b64({"run": "pause"})}), INVALID_PARAMS, "run")
        await link.expect_error(await link.call("write", {**write, "message": b64({"block": "turn", "args": {},
                                                                                  "ref": "x" * 5000})}),
                                INVALID_PARAMS, "limit")
        # A run still open when the socket goes is ended by the server.
        await link.result("write", {**write, "message": b64({"run": "start", "program": project, "ref": "g3"})})
        await link.wait_payload("run", ref="g3")
    await asyncio.sleep(0.2)
    assert runs[-1][0] == "ended" and runs[-1][1].end_reason == "Scratch disconnected"


async def test_a_car_change_says_where_to_go_and_a_sharing_change_keeps_the_kid_on_the_car(env: Env) -> None:
    """The teacher shares Mia's car with Leo: Mia stays connected. Then gives Mia car-2 alone: her socket
    on car-1 gets `car_changed` {car_id: car-2} (not `car_lost`) and closes, for the extension to reconnect."""
    teacher = await env.srv.teacher()
    mia, leo = env.kids["Mia"]["kid_id"], env.kids["Leo"]["kid_id"]
    try:
        async with env.link() as link:
            await link.connect_car("car-1")
            await link.result("startNotifications", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_events"})
            status, _ = await teacher.post("/api/teacher/cars/car-1/assign", {"kid_ids": [mia, leo]})
            assert status == 200
            with pytest.raises((AssertionError, TimeoutError)):  # nothing for Mia: quiet
                await link.wait_payload("car_changed", timeout=QUIET_S)
            assert not link.ws.closed and not link.payloads("car_lost"), "sharing does not knock Mia off"
            status, _ = await teacher.post("/api/teacher/cars/car-2/assign", {"kid_ids": [mia]})
            assert status == 200
            moved = await link.wait_payload("car_changed", timeout=5.0)
            assert moved == {"type": "car_changed", "car_id": "car-2", "previous": "car-1",
                             "kid_text": "Your teacher gave you car-2. car-1 is not yours any more."}
            while (msg := await link.receive()) is not None:
                assert msg.get("method") == "characteristicDidChange"
            assert link.ws.closed and not link.payloads("car_lost")
    finally:
        await teacher.http.close()
