"""`make fuzz`: 100,000 generated bad messages against a real classroom server, and the proof that it held:
0 crashes, 0 unanswered, 0 state changes from refused input.

    python -m stress.fuzz [--messages 100000] [--seed 17] [--out artifacts/fuzz]     (make fuzz)

The server runs as `dojo server` in its own process with two simulated cars (stress/cluster.py); two
kids have joined, one drives car-1, a teacher is logged in. Seeded generators (stress/generators.py)
break valid messages on purpose and send them, spread over the four ways in:

    /kid          block, stop, run_start, run_end, unknown events, extra arguments (socket.io, with ack)
    /scratch/ble  JSON-RPC frames: every method, broken params, not JSON, wrong ids (WebSocket)
    /car          a paired car (car-3) sending broken telemetry, results and unknown events (with ack)
    HTTP API      every route, broken bodies, wrong content types, unknown ids, no or bad credentials
    handshakes    /kid, /car and /scratch/ble connections with broken tokens and hellos

Each message expecting an answer must get one within ANSWER_TIMEOUT_S (a socket.io ack, a JSON-RPC reply,
an HTTP status). A crash is the server process gone, an HTTP 5xx, an answer with the `server_error` rule
or JSON-RPC "Internal error", or a traceback in the server's log. State — the database (every table but
the request log; `last_seen`/`updated_at` times left out) and the live classroom as the teacher sees it
(levels, cars, speeds, assignments, e-stops) — is snapshotted every WINDOW messages; a window whose
messages were all refused must leave it unchanged. A message that was accepted (rare: a random change
that happened to keep it valid) marks its window, which is then not compared, and is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import random
import re
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from stress.cluster import CLASS_CODE, REPO_ROOT, Cluster, free_port, stopping_children
from stress.generators import STRINGS, broken, random_json

ANSWER_TIMEOUT_S = 30.0  # loopback: milliseconds on an idle machine, seconds on a shared one; 30 s means stuck
WINDOW = 250  # messages between state snapshots
IN_FLIGHT = 16  # messages waiting for their answers at once (per channel)
SHARES = {"kid": 0.35, "scratch": 0.25, "car": 0.15, "http": 0.22, "handshake": 0.03}
LIVE_KEYS = {"level", "car_id", "speed_pct", "name", "kid_id"}  # roster fields that are state (not who is online)
AS_IS = {"/api/programs/current", "/api/teacher/pairing-codes"}  # bodies already wrong (any object is a valid one)
CAR_KEYS = {"car_id", "kid_ids", "estopped", "shared"}

BLOCKS = [{"block": "move_forward", "args": {"distance": 20}}, {"block": "turn", "args": {"direction": "left", "degrees": 90}},
          {"block": "drive_for", "args": {"speed": 30, "seconds": 1}}, {"block": "set_speed", "args": {"speed": 20}},
          {"block": "go_to", "args": {"x": 100, "y": 50}}, {"block": "do_skill", "args": {"skill": "slalom"}},
          {"block": "distance", "args": {}}, {"block": "position", "args": {"axis": "x"}}]


@dataclass
class Tally:
    sent: Counter = field(default_factory=Counter)
    answered: Counter = field(default_factory=Counter)
    unanswered: Counter = field(default_factory=Counter)
    accepted: Counter = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)
    examples_unanswered: list[str] = field(default_factory=list)
    examples_accepted: list[str] = field(default_factory=list)
    rules: Counter = field(default_factory=Counter)
    windows_compared: int = 0
    windows_dirty: int = 0
    state_changes: list[str] = field(default_factory=list)


def short(obj: Any) -> str:
    try:
        text = json.dumps(obj, default=str)
    except (ValueError, TypeError):
        text = repr(obj)
    return text[:160]


class Fuzz:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.out: Path = args.out
        self.cluster = Cluster(self.out / "run", cars=2, extra_cars=("car-3",))
        self.tally = Tally()
        self.dirty = False
        self.kids: list[dict] = []
        self.http: aiohttp.ClientSession | None = None
        self.teacher: aiohttp.ClientSession | None = None
        self.csrf = ""
        self.scratch_ids = iter(range(1, 10**9))
        self.drops: list[str] = []  # the fuzzer's own connections that dropped, with the reason

    # --- setup ------------------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.cluster.start)
        self.http = aiohttp.ClientSession()
        for name in ("Mia", "Leo"):
            async with self.http.post(f"{self.cluster.url}/api/join", json={"class_code": CLASS_CODE, "name": name}) as r:
                self.kids.append(await r.json())
        self.teacher = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with self.teacher.post(f"{self.cluster.url}/api/teacher/login", json={"password": self.cluster.password}) as r:
            self.csrf = (await r.json())["csrf_token"]
        # The fuzzer's own connections open once, before the first snapshot (a connecting car is state).
        self.kid_sio = await self.open_sio("/kid", {"token": self.kids[0]["token"]})
        self.car_sio = await self.open_sio("/car", {"car_id": "car-3", "token": self.cluster.tokens["car-3"],
                                                    "kind": "sim", "protocol": 2})
        await self.open_scratch()
        self.log_size = (self.cluster.workdir / "server.out").stat().st_size

    async def open_sio(self, namespace: str, auth: dict) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)

        def dropped(*reason: Any) -> None:
            self.drops.append(f"{namespace}: {reason[0] if reason else 'no reason given'}")
        sio.on("disconnect", dropped, namespace=namespace)
        await sio.connect(self.cluster.url, namespaces=[namespace], auth=auth, transports=["websocket"],
                          wait_timeout=ANSWER_TIMEOUT_S)
        return sio

    async def reconnect(self) -> None:
        """A connection the fuzzer holds dropped (recorded in self.drops with its reason): open it again."""
        if not self.kid_sio.connected:
            self.kid_sio = await self.open_sio("/kid", {"token": self.kids[0]["token"]})
        if not self.car_sio.connected:
            self.car_sio = await self.open_sio("/car", {"car_id": "car-3", "token": self.cluster.tokens["car-3"],
                                                        "kind": "sim", "protocol": 2})
        if self.scratch_ws.closed:
            if not (self.drops and self.drops[-1].startswith("/scratch/ble: no answer")):
                self.drops.append(f"/scratch/ble: closed ({self.scratch_ws.close_code})")
            await self.open_scratch()

    async def open_scratch(self) -> None:
        """The fuzzer's /scratch/ble socket, read all the time as a browser reads it: pings are answered and
        notifications drained between windows, so the server's heartbeat never takes it for a closed laptop
        lid (before, an unread socket was closed under a frame being sent, and counted as unanswered)."""
        assert self.http is not None
        self.scratch_ws = await self.http.ws_connect(f"{self.cluster.url}/scratch/ble?token={self.kids[0]['token']}")
        self.scratch_replies: asyncio.Queue[dict | None] = asyncio.Queue()
        self.scratch_reader = asyncio.create_task(self._read_scratch(self.scratch_ws, self.scratch_replies))

    @staticmethod
    async def _read_scratch(ws: aiohttp.ClientWebSocketResponse, replies: asyncio.Queue) -> None:
        async for msg in ws:  # ends when the socket closes
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                if "method" not in data:  # a notification from the server (discovery, telemetry): not an answer
                    replies.put_nowait(data)
        replies.put_nowait(None)

    def still_up(self, what: str, connected: bool) -> None:
        """Bad input never costs the sender its connection: a server that closed it on purpose is a finding."""
        if not connected and any(d.startswith(what) and "server disconnect" in d for d in self.drops[-3:]):
            self.tally.crashes.append(f"{what}: the server closed the fuzzer's connection on purpose")

    # --- state ------------------------------------------------------------------------------------

    def db_state(self) -> dict[str, frozenset]:
        """Every row of every table but the request log, as text (times that tick on their own left out)."""
        db = self.cluster.data_dir / "classroom.sqlite3"
        state: dict[str, frozenset] = {}
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            for table in tables:
                if table in ("request_log", "migrations", "sqlite_sequence"):  # the log and its row counter
                    continue
                cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in ("last_seen", "updated_at")]
                state[table] = frozenset(repr(row)[:300] for row in conn.execute(f"SELECT {', '.join(cols)} FROM {table}"))
        return state

    @staticmethod
    def db_diff(a: dict[str, frozenset], b: dict[str, frozenset]) -> str:
        out = []
        for table in sorted(set(a) | set(b)):
            gone, new = a.get(table, frozenset()) - b.get(table, frozenset()), b.get(table, frozenset()) - a.get(table, frozenset())
            if gone or new:
                out.append(f"{table}: -{sorted(gone)[:2]} +{sorted(new)[:2]}")
        return "; ".join(out)[:600]

    async def live_state(self) -> str:
        assert self.teacher is not None
        url = self.cluster.url
        async with self.teacher.get(f"{url}/api/teacher/classes/{CLASS_CODE}/roster") as r:
            roster = (await r.json())["kids"]
        async with self.teacher.get(f"{url}/api/teacher/cars") as r:
            cars = (await r.json())["cars"]
        async with self.teacher.get(f"{url}/api/teacher/classes") as r:
            classes = (await r.json())["classes"]
        return json.dumps([[{k: v for k, v in kid.items() if k in LIVE_KEYS} for kid in roster],
                           [{k: v for k, v in car.items() if k in CAR_KEYS} for car in cars], classes], sort_keys=True)

    async def snapshot(self) -> tuple[dict, str]:
        return await asyncio.to_thread(self.db_state), await self.live_state()

    # --- answers ----------------------------------------------------------------------------------

    def record(self, channel: str, msg: Any, answer: Any, *, accepted: bool = False, crash: str | None = None,
               dirty: bool = True) -> None:
        if answer is None:
            self.tally.unanswered[channel] += 1
            if len(self.tally.examples_unanswered) < 10:
                self.tally.examples_unanswered.append(f"{channel}: {short(msg)}")
            return
        self.tally.answered[channel] += 1
        if crash:
            self.tally.crashes.append(f"{channel}: {crash} <- {short(msg)}")
        if accepted:
            self.tally.accepted[channel] += 1
            self.dirty = self.dirty or dirty
            if len(self.tally.examples_accepted) < 10:
                self.tally.examples_accepted.append(f"{channel}: {short(msg)} -> {short(answer)}")

    def reply_rule(self, reply: Any) -> str | None:
        if isinstance(reply, dict):
            err = reply.get("error")
            return reply.get("rule") or (err.get("rule") if isinstance(err, dict) else None)
        return None

    # --- /kid -------------------------------------------------------------------------------------

    async def kid_channel(self, n: int) -> None:
        sio = self.kid_sio
        rng = random.Random(self.rng.random())
        sem = asyncio.Semaphore(IN_FLIGHT)

        def message() -> tuple[str, tuple]:
            roll = rng.random()
            if roll < 0.55:
                tpl = {**rng.choice(BLOCKS), "ref": "r1", "source": "blockly"}
                msg = broken(rng, tpl, [
                    lambda m: {**m, "block": rng.choice(STRINGS)},
                    lambda m: {**m, "args": {k: rng.choice([-1e6, 1e6, -5, 10**9, "far"]) for k in m["args"]} or {"x": 1}},
                    lambda m: {**m, "run_id": rng.choice(STRINGS[1:])}])
                return "block", (msg,)
            if roll < 0.7:
                return "run_start", (broken(rng, {"source": "blockly", "program": {"blocks": {}}, "lesson_id": "l1-wake-up"},
                                            [lambda m: {**m, "source": rng.choice(["", "Scratch", "java", "../x", "A" * 100])}],
                                            keep=("program",)),)
            if roll < 0.8:
                return "run_end", (broken(rng, {"run_id": "r-none", "reason": "finished"}, []),)
            if roll < 0.9:
                return rng.choice(STRINGS[1:] + ("connect", "disconnect", "message", "Block", "block ")), (random_json(rng),)
            return rng.choice(["block", "stop", "run_start", "run_end"]), tuple(random_json(rng) for _ in range(rng.randint(2, 4)))

        async def one() -> None:
            async with sem:
                if not sio.connected:  # dropped (recorded with its reason): the next window reconnects
                    self.tally.sent["kid"] -= 1
                    return
                event, data = message()
                fut = asyncio.get_running_loop().create_future()

                def ack(*reply: Any) -> None:
                    if not fut.done():
                        fut.set_result(reply[0] if reply else {})
                try:
                    await sio.emit(event, data if len(data) != 1 else data[0], namespace="/kid", callback=ack)
                    reply = await asyncio.wait_for(fut, ANSWER_TIMEOUT_S)
                except (asyncio.TimeoutError, socketio.exceptions.SocketIOError, ValueError, TypeError) as exc:
                    if isinstance(exc, (ValueError, TypeError)):  # the client itself could not encode it (NaN is fine)
                        self.tally.sent["kid"] -= 1
                        return
                    reply = None
                rule = self.reply_rule(reply)
                self.tally.rules[f"kid:{rule}"] += 1
                status = reply.get("status") if isinstance(reply, dict) else None
                may_change = event == "run_start" or (event == "block" and status == "done" and
                                                       isinstance(data[0], dict) and data[0].get("block") not in ("distance", "position"))
                self.record("kid", (event, data), reply, accepted=status in ("done", "ok") and may_change,
                            crash="server_error" if rule == "server_error" else None)

        tasks = []
        for _ in range(n):
            self.tally.sent["kid"] += 1
            tasks.append(asyncio.create_task(one()))
            if len(tasks) >= IN_FLIGHT * 4:
                await asyncio.gather(*tasks)
                tasks = []
        await asyncio.gather(*tasks)
        self.still_up("/kid", sio.connected)

    # --- /scratch/ble -----------------------------------------------------------------------------

    async def scratch_channel(self, n: int) -> None:
        assert self.http is not None
        rng = random.Random(self.rng.random())
        ws = self.scratch_ws
        ids = self.scratch_ids
        methods = ["getVersion", "authenticate", "discover", "connect", "write", "read", "startNotifications",
                   "stopNotifications", "pair", "", "DISCOVER"]
        good_params = {"discover": {"filters": [{"services": ["mikrodojo"]}]}, "connect": {"peripheralId": "car-1"},
                       "write": {"serviceId": "mikrodojo", "characteristicId": "0000d0d1-0000-1000-8000-00805f9b34fb",
                                 "message": base64.b64encode(b'{"block":"move_forward","args":{"distance":20}}').decode(),
                                 "encoding": "base64"},
                       "authenticate": {"token": "nope"}}
        for _ in range(n):
            self.tally.sent["scratch"] += 1
            roll = rng.random()
            rid: Any = next(ids)
            if roll < 0.1:
                frame, expect_id = rng.choice(["{", "not json", "[]", "[1,2]", "null", "42", '"x"', "{}" * 3, "\x00"]), None
            else:
                method = rng.choice(methods)
                tpl = {"jsonrpc": "2.0", "id": rid, "method": method, "params": good_params.get(method, {})}
                msg = broken(rng, tpl, [lambda m: {**m, "jsonrpc": rng.choice(["1.0", 2, None])},
                                        lambda m: {**m, "id": rng.choice([True, 1.5, [1], {"a": 1}])},
                                        lambda m: {**m, "params": random_json(rng)}])
                if not isinstance(msg, dict) or "id" not in msg:
                    msg = {"jsonrpc": "2.0", "id": rid, "method": rng.choice(methods), "params": random_json(rng)}
                expect_id = msg["id"] if isinstance(msg.get("id"), (int, str)) and not isinstance(msg.get("id"), bool) else None
                if "jsonrpc" in msg and msg.get("jsonrpc") == "2.0" and isinstance(msg.get("id"), (int, str)) is False:
                    expect_id = None
                frame = json.dumps(msg, allow_nan=True)
            try:
                await ws.send_str(frame)
                reply = await self._rpc_reply(self.scratch_replies, expect_id)
            except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError, RuntimeError):
                reply = None
            error = reply.get("error") if isinstance(reply, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            self.tally.rules[f"scratch:{code}"] += 1
            accepted = isinstance(reply, dict) and "result" in reply and json.loads(frame).get("method") in ("write", "connect")
            self.record("scratch", frame, reply, accepted=accepted, crash="internal error" if code == -32603 else None)
            if reply is None and not ws.closed:  # no answer: this socket is not trusted any more, open a new one
                self.drops.append("/scratch/ble: no answer in time; reopened")
                await ws.close()
            if ws.closed:  # the next window reconnects it (reconnect())
                break

    async def _rpc_reply(self, replies: asyncio.Queue, expect_id: Any) -> dict | None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while True:
            data = await asyncio.wait_for(replies.get(), max(0.0, deadline - time.monotonic()))
            if data is None:  # the socket closed
                replies.put_nowait(None)
                return None
            if data.get("id") == expect_id:
                return data

    # --- /car -------------------------------------------------------------------------------------

    async def car_channel(self, n: int) -> None:
        rng = random.Random(self.rng.random())
        sio = self.car_sio
        tel = {"car_id": "car-3", "seq": 1, "t": 1.0, "pose": {"x_cm": 50, "y_cm": 50, "heading_deg": 0},
               "speed_cm_s": 0, "distance_cm": None, "safety_state": "ok"}
        result = {"request_id": "q-unknown", "status": "done", "kid_text": "", "detail": ""}
        sem = asyncio.Semaphore(IN_FLIGHT)

        async def one() -> None:
            async with sem:
                if not sio.connected:
                    self.tally.sent["car"] -= 1
                    return
                roll = rng.random()
                if roll < 0.45:
                    event, data = "telemetry", broken(rng, tel, [lambda m: {**m, "car_id": rng.choice(["car-1", "car-2", "x"])}])
                elif roll < 0.8:
                    event, data = "result", broken(rng, result, [lambda m: {**m, "status": rng.choice(STRINGS)}])
                else:
                    event, data = rng.choice(STRINGS[1:] + ("hello", "heartbeat", "skill")), random_json(rng)
                fut = asyncio.get_running_loop().create_future()
                try:
                    await sio.emit(event, data, namespace="/car", callback=lambda *r: fut.done() or fut.set_result(r))
                    reply: Any = await asyncio.wait_for(fut, ANSWER_TIMEOUT_S)
                except (asyncio.TimeoutError, socketio.exceptions.SocketIOError):
                    reply = None
                except (ValueError, TypeError):
                    self.tally.sent["car"] -= 1
                    return
                self.record("car", (event, data), reply)

        tasks = []
        for _ in range(n):
            self.tally.sent["car"] += 1
            tasks.append(asyncio.create_task(one()))
            if len(tasks) >= IN_FLIGHT * 4:
                await asyncio.gather(*tasks)
                tasks = []
        await asyncio.gather(*tasks)
        self.still_up("/car", sio.connected)

    # --- HTTP -------------------------------------------------------------------------------------

    def http_case(self, rng: random.Random) -> tuple[str, str, dict, Any, bool]:
        """(method, path, headers, body, as teacher)."""
        kid = rng.choice(self.kids)
        bad = rng.random() < 0.95  # ids that do not exist (404) most of the time, real ones with broken bodies else
        code = rng.choice(["NOPE", "", "../x", "é", "A" * 200]) if bad else CLASS_CODE
        kid_id = rng.choice(["k-none", "%00", "1" * 300]) if bad else kid["kid_id"]
        car = rng.choice(["car-99", "..", "car-1%2F..%2Fx"]) if bad else rng.choice(["car-1", "car-2"])
        lesson = rng.choice(["nope", "../../etc"]) if bad else "l1-wake-up"
        routes = [
            ("POST", "/api/join", {"class_code": CLASS_CODE, "name": "Zed"}, False),
            ("GET", "/api/catalog?level=" + rng.choice(["1", "0", "99", "-1", "x", "1e9", "NaN"]), None, False),
            ("GET", "/api/lessons", None, False), ("GET", "/api/cars", None, False),
            ("GET", f"/api/arena?car={car}", None, False),
            ("PUT", "/api/programs/current", rng.choice(["x", 5, [], None, {"program": math.nan}]), False),
            ("POST", "/api/lessons/select", {"lesson_id": lesson}, False),
            ("GET", f"/api/attempts/{rng.choice(['a-none', '..', 'x' * 100])}", None, False),
            ("POST", "/api/cars/pair", {"code": "ABCDEF", "car_id": "car-9", "kind": "sim", "protocol": 2}, False),
            ("POST", "/api/teacher/login", {"password": "wrong-password"}, False),
            ("POST", "/api/teacher/classes", {"name": "", "code": "x"}, True),
            ("POST", f"/api/teacher/classes/{code}/kids/{kid_id}/level", {"level": 9}, True),
            ("POST", f"/api/teacher/classes/{code}/level", {"level": 0}, True),
            ("POST", f"/api/teacher/cars/{car}/assign", {"kid_ids": ["k-none"]}, True),
            ("POST", f"/api/teacher/attempts/{rng.choice(['a-none', '..'])}/override", {"stars": 9, "comment": 1}, True),
            ("POST", "/api/teacher/pairing-codes", {"car_id": rng.choice(["../x", "A" * 300, "car 1", "%00", 7])}, True),
            ("GET", f"/api/teacher/requests?kid_id={kid_id}&limit={rng.choice(['-1', 'x', '1e9', '10'])}", None, True),
            ("GET", f"/api/teacher/classes/{code}/roster", None, True),
        ]
        if bad:  # routes whose body is not read: only with ids that do not exist
            routes += [("POST", f"/api/teacher/cars/{car}/reset", {"x": 1}, True),
                       ("POST", f"/api/teacher/classes/{code}/lessons/{lesson}/lock", {"y": 1}, True),
                       ("POST", f"/api/teacher/kids/{kid_id}/lessons/{lesson}/unlock", None, True)]
        method, path, body, teacher = rng.choice(routes)
        headers: dict = {}
        if method != "GET" and path not in AS_IS:
            body = broken(rng, body or {}, [lambda m: random_json(rng)], big=70_000,
                          )
        if not teacher and rng.random() < 0.7:
            headers["Authorization"] = rng.choice([f"Bearer {kid['token']}", "Bearer x", "Basic abc", "Bearer " + "A" * 500])
        if teacher and rng.random() < 0.15:
            teacher = False  # no session: 401
        return method, path, headers, body, teacher

    async def http_channel(self, n: int) -> None:
        assert self.http is not None and self.teacher is not None
        rng = random.Random(self.rng.random())
        sem = asyncio.Semaphore(IN_FLIGHT)

        async def one() -> None:
            async with sem:
                method, path, headers, body, teacher = self.http_case(rng)
                session = self.teacher if teacher else self.http
                if teacher and rng.random() < 0.9:
                    headers["X-CSRF-Token"] = self.csrf
                roll = rng.random()
                if body is None:
                    data = None
                elif roll < 0.1:
                    data = rng.choice([b"{", b"\xff\xfe", b"null", b"[]", b"x" * 2000])
                    headers["Content-Type"] = "application/json"
                elif roll < 0.2:
                    data = json.dumps(body, allow_nan=True).encode()
                    headers["Content-Type"] = rng.choice(["text/plain", "application/x-www-form-urlencoded", ""])
                else:
                    data = json.dumps(body, allow_nan=True).encode()
                    headers["Content-Type"] = "application/json"
                try:
                    async with session.request(method, self.cluster.url + path, data=data, headers=headers,
                                               timeout=aiohttp.ClientTimeout(ANSWER_TIMEOUT_S)) as r:
                        await r.read()
                        status = r.status
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    status = None
                self.tally.rules[f"http:{status}"] += 1
                self.record("http", (method, path, body), status,
                            accepted=status is not None and 200 <= status < 300 and method != "GET",
                            crash=f"HTTP {status} {method} {path}" if status is not None and status >= 500 else None)

        tasks = []
        for _ in range(n):
            self.tally.sent["http"] += 1
            tasks.append(asyncio.create_task(one()))
            if len(tasks) >= IN_FLIGHT * 4:
                await asyncio.gather(*tasks)
                tasks = []
        await asyncio.gather(*tasks)

    # --- handshakes -------------------------------------------------------------------------------

    async def handshake_channel(self, n: int) -> None:
        assert self.http is not None
        rng = random.Random(self.rng.random())
        for _ in range(n):
            self.tally.sent["handshake"] += 1
            roll = rng.random()
            answer: Any = None
            if roll < 0.7:
                ns = rng.choice(["/kid", "/car"])
                auth = broken(rng, {"token": self.kids[1]["token"]} if ns == "/kid" else
                              {"car_id": "car-2", "token": "wrong-token-123", "kind": "sim", "protocol": 2}, [])
                sio = socketio.AsyncClient(reconnection=False)
                try:
                    await sio.connect(self.cluster.url, namespaces=[ns], auth=auth, transports=["websocket"],
                                      wait_timeout=ANSWER_TIMEOUT_S)
                    answer = "connected"
                    self.record("handshake", (ns, auth), answer, accepted=True, dirty=False)  # a connection, no state
                    await sio.disconnect()
                    continue
                except socketio.exceptions.ConnectionError as exc:
                    answer = str(exc) or "refused"
                except (ValueError, TypeError):
                    self.tally.sent["handshake"] -= 1
                    continue
                self.record("handshake", (ns, auth), answer)
            else:
                token = rng.choice(["", "x", "A" * 300, self.kids[1]["token"][:-2] + "zz", "%00"])
                try:
                    async with self.http.ws_connect(f"{self.cluster.url}/scratch/ble?token={token}",
                                                    timeout=ANSWER_TIMEOUT_S) as ws:
                        await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "discover",
                                                      "params": {"filters": [{"services": ["mikrodojo"]}]}}))
                        msg = await ws.receive(timeout=ANSWER_TIMEOUT_S)
                        answer = msg.data if msg.type == aiohttp.WSMsgType.TEXT else f"closed {msg.type.name}"
                except aiohttp.WSServerHandshakeError as exc:
                    answer = f"HTTP {exc.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    answer = None
                self.record("handshake", ("scratch", token), answer,
                            crash=f"scratch handshake {answer}" if isinstance(answer, str) and answer.startswith("HTTP 5") else None)

    # --- the run ----------------------------------------------------------------------------------

    async def run(self) -> int:
        self.out.mkdir(parents=True, exist_ok=True)
        t_start = time.monotonic()
        codes: dict = {}
        try:
            await self.start()
            total = self.args.messages
            windows = max(1, total // WINDOW)
            before = await self.snapshot()
            for w in range(windows):
                n = total // windows + (1 if w < total % windows else 0)
                split = {ch: int(n * share) for ch, share in SHARES.items()}
                split["kid"] += n - sum(split.values())
                self.dirty = False
                await self.reconnect()
                await asyncio.gather(self.kid_channel(split["kid"]), self.scratch_channel(split["scratch"]),
                                     self.car_channel(split["car"]), self.http_channel(split["http"]),
                                     self.handshake_channel(split["handshake"]))
                if self.cluster.server is None or self.cluster.server.poll() is not None:
                    self.tally.crashes.append(f"the server process exited (code {self.cluster.server.returncode})")
                    break
                await asyncio.sleep(0.05)  # a refused block's log line, a stop's echo: let the loop settle
                after = await self.snapshot()
                if self.dirty:
                    self.tally.windows_dirty += 1
                else:
                    self.tally.windows_compared += 1
                    if before[0] != after[0]:
                        self.tally.state_changes.append(f"window {w}: the database changed: {self.db_diff(before[0], after[0])}")
                    if before[1] != after[1]:
                        self.tally.state_changes.append(f"window {w}: the live classroom changed: {before[1][:300]} -> {after[1][:300]}")
                before = after
                if (w + 1) % max(1, windows // 10) == 0:
                    done = sum(self.tally.sent.values())
                    print(f"  {done} messages, {time.monotonic() - t_start:.0f} s, unanswered "
                          f"{sum(self.tally.unanswered.values())}, crashes {len(self.tally.crashes)}", flush=True)
        finally:
            for client in (getattr(self, "kid_sio", None), getattr(self, "car_sio", None)):
                if client is not None:
                    await client.disconnect()
            if getattr(self, "scratch_ws", None) is not None:
                await self.scratch_ws.close()
            if self.http:
                await self.http.close()
            if self.teacher:
                await self.teacher.close()
            codes = await asyncio.to_thread(self.cluster.stop)
        return self.report(time.monotonic() - t_start, codes)

    def report(self, elapsed: float, codes: dict) -> int:
        log = (self.cluster.workdir / "server.out").read_text(errors="replace")[self.log_size:]
        tracebacks = len(re.findall(r"^Traceback", log, re.M))
        if tracebacks:
            self.tally.crashes.append(f"{tracebacks} tracebacks in the server's log (first: "
                                      f"{log[log.index('Traceback'):][:600]!r})")
        t = self.tally
        sent = sum(t.sent.values())
        print(f"\n== fuzz: {sent} messages in {elapsed:.0f} s (seed {self.args.seed}); load average now "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"  per channel sent: {dict(t.sent)}")
        print(f"  answered: {sum(t.answered.values())}; UNANSWERED: {sum(t.unanswered.values())} {dict(t.unanswered)}")
        for e in t.examples_unanswered:
            print(f"    unanswered: {e}")
        print(f"  crashes (server gone, HTTP 5xx, server_error answers, tracebacks, a connection closed on purpose): "
              f"{len(t.crashes)}")
        print(f"  the fuzzer's own connections that dropped and were opened again: {len(self.drops)} "
              f"{dict(Counter(self.drops).most_common(4))}")
        for c in t.crashes[:10]:
            print(f"    crash: {c}")
        print(f"  accepted although broken on purpose: {sum(t.accepted.values())} {dict(t.accepted)}")
        for e in t.examples_accepted[:5]:
            print(f"    accepted: {e}")
        print(f"  state snapshots: {t.windows_compared} windows of refused input compared, {len(t.state_changes)} changed; "
              f"{t.windows_dirty} windows held an accepted message and were not compared")
        for c in t.state_changes[:10]:
            print(f"    state change: {c}")
        top = ", ".join(f"{k} {v}" for k, v in t.rules.most_common(14))
        print(f"  answers by rule/status (top): {top}")
        print(f"  exit codes at the end: {codes}")
        failed = bool(t.crashes or sum(t.unanswered.values()) or t.state_changes or codes.get("server") not in (0, None))
        summary = {"sent": dict(t.sent), "answered": dict(t.answered), "unanswered": dict(t.unanswered),
                   "crashes": t.crashes, "accepted": dict(t.accepted), "state_changes": t.state_changes,
                   "windows_compared": t.windows_compared, "drops": self.drops, "windows_dirty": t.windows_dirty, "elapsed_s": elapsed}
        (self.out / "fuzz.json").write_text(json.dumps(summary, indent=1))
        print("RESULT: " + ("0 crashes, 0 unanswered, 0 state changes from refused input" if not failed else "FAILED"))
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stress.fuzz", description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=int(os.environ.get("FUZZ_MESSAGES", 100_000)))
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "fuzz")
    args = p.parse_args(argv)
    with stopping_children():  # Ctrl-C or SIGTERM: the cluster stops too
        return asyncio.run(Fuzz(args).run())


if __name__ == "__main__":
    sys.exit(main())
