"""The soak's kids: each joins the class, picks a lesson, runs its reference program, over and over.

- BlocklyKid: the Blockly app's run path on `/kid` (run_start with the Blockly program, one `block` call
  per block as curriculum.interpreter walks the program — the same walk the app's generated code does —
  then run_end). A refused or failed block ends the program, as in the app.
- ScratchKid: the Scratch extension's wire protocol on `/scratch/ble` (JSON-RPC: discover, connect,
  startNotifications; a run-start write, one write per block, each answered by a `result` notification
  with its ref; a run-end write). Reporters read the telemetry notifications, as the extension does.
- SDK kids are processes of their own (stress/sdk_kid.py): the lesson's Python twin run by the `dojo` SDK.

Every request and its answer goes to the Ledger (stress/ledger.py). A kid whose connection drops (the
server killed, or the kid told to leave) answers its waiting requests `link_lost` at once, waits, and
comes back with the same name (`rejoin`), as a kid on another computer would.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from curriculum.interpreter import BlocklyInterpreter, ProgramStopped
from server.scratch.protocol import BLOCK_CHAR_UUID, EVENTS_CHAR_UUID, SERVICE_UUID
from stress.ledger import ANSWER_TIMEOUT_S, Ledger

log = logging.getLogger("stress.kids")

CONNECT_TIMEOUT_S = 10.0  # socket.io / WebSocket handshake on a loaded loopback
RECONNECT_WAIT_S = 1.0  # a kid whose link dropped tries again this often (a restarting server needs a few s)
HTTP_TIMEOUT_S = 10.0
BETWEEN_RUNS_S = (0.5, 2.0)  # a kid looks at the feedback, then presses run again
KID_NS = "/kid"


@dataclass
class Kid:
    name: str
    url: str
    class_code: str
    lessons: list[Any]  # curriculum.lesson.Lesson
    ledger: Ledger
    http: aiohttp.ClientSession
    rng: random.Random
    token: str = ""
    kid_id: str = ""
    car_id: str | None = None
    runs_started: int = 0  # lesson runs the server confirmed (each should become one attempt)
    runs_refused: int = 0
    programs: int = 0
    reconnects: int = 0
    drop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False
    front_end: str = "kid"  # blockly | scratch (set by the transport) | probe | flood (a second tab)

    def __post_init__(self) -> None:  # the transports set up their own state
        pass

    async def join(self) -> None:
        body = {"class_code": self.class_code, "name": self.name, "rejoin": True}
        async with self.http.post(f"{self.url}/api/join", json=body, timeout=aiohttp.ClientTimeout(HTTP_TIMEOUT_S)) as r:
            data = await r.json()
            if r.status != 200:
                raise RuntimeError(f"join {self.name}: HTTP {r.status} {data}")
        self.token, self.kid_id, self.car_id = data["token"], data["kid_id"], data.get("car_id")

    async def select(self, lesson_id: str) -> None:
        async with self.http.post(f"{self.url}/api/lessons/select", json={"lesson_id": lesson_id},
                                  headers={"Authorization": f"Bearer {self.token}"},
                                  timeout=aiohttp.ClientTimeout(HTTP_TIMEOUT_S)) as r:
            if r.status != 200:
                raise RuntimeError(f"select {lesson_id} for {self.name}: HTTP {r.status} {await r.text()}")

    async def live(self, until: float) -> None:
        """Run lessons until the soak ends, surviving drops, stalls and restarts."""
        loop = asyncio.get_running_loop()
        while loop.time() < until and not self.stopping:
            try:
                if not self.token:
                    await self.join()
                await self.open()
                while loop.time() < until and not self.stopping and not self.drop_requested.is_set():
                    lesson = self.rng.choice(self.lessons)
                    await self.select(lesson.id)
                    await self.run_lesson(lesson)
                    self.programs += 1
                    await asyncio.sleep(self.rng.uniform(*BETWEEN_RUNS_S))
            except (OSError, aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, socketio.exceptions.SocketIOError,
                    LinkLost) as exc:
                log.info("%s: %s", self.name, exc)
            finally:
                await self.close()
            if self.drop_requested.is_set():  # the kid closed the laptop: back after a moment, same name
                self.drop_requested.clear()
                self.token = ""
            self.reconnects += 1
            await asyncio.sleep(RECONNECT_WAIT_S)

    def drop(self) -> None:
        self.drop_requested.set()
        asyncio.ensure_future(self.close())

    # the transport: subclasses
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def run_lesson(self, lesson: Any) -> None: ...

    def interpret(self, program: dict, block, read) -> None:
        """Walk the program on a worker thread; each block waits for its answer on the kid's event loop."""
        loop = asyncio.get_running_loop()
        kid = self

        class Port:
            def run_block(self, block_id: str, args: dict[str, Any]) -> None:
                if kid.drop_requested.is_set() or kid.stopping:
                    raise ProgramStopped("the kid left")
                reply = asyncio.run_coroutine_threadsafe(block(block_id, args), loop).result()
                if reply.get("status") != "done":
                    raise ProgramStopped(reply.get("status", "failed"))

            def read(self, block_id: str, args: dict[str, Any]) -> float:
                return asyncio.run_coroutine_threadsafe(read(block_id, args), loop).result()

        return asyncio.to_thread(BlocklyInterpreter(program, Port()).run)


class LinkLost(ConnectionError):
    pass


class BlocklyKid(Kid):
    def __post_init__(self) -> None:
        self.front_end = "blockly"
        self.sio: socketio.AsyncClient | None = None
        self.pending: dict[str, asyncio.Future] = {}

    async def open(self) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("disconnect", self._lost, namespace=KID_NS)
        await sio.connect(self.url, namespaces=[KID_NS], auth={"token": self.token}, transports=["websocket"],
                          wait_timeout=CONNECT_TIMEOUT_S)
        self.sio = sio

    def _lost(self, *args: Any) -> None:
        pending, self.pending = self.pending, {}
        self.ledger.link_lost(list(pending))
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(LinkLost("the /kid socket dropped"))
                fut.add_done_callback(lambda f: f.exception())

    async def close(self) -> None:
        sio, self.sio = self.sio, None
        if sio is not None:
            try:
                await sio.disconnect()
            except Exception:  # already gone
                pass
        self._lost()

    async def call(self, event: str, payload: dict, front_end: str | None = None, kind: str = "block") -> dict:
        sio = self.sio
        if sio is None or not sio.connected:
            raise LinkLost("not connected")
        key = self.ledger.sent(front_end or self.front_end, kind)
        fut = asyncio.get_running_loop().create_future()
        self.pending[key] = fut

        def on_ack(*data: Any) -> None:
            reply = data[0] if data and isinstance(data[0], dict) else {"status": "done"}
            self.ledger.answered(key, "server", str(reply.get("status")))
            self.pending.pop(key, None)
            if not fut.done():
                fut.set_result(reply)

        try:
            await sio.emit(event, payload, namespace=KID_NS, callback=on_ack)
        except Exception as exc:  # the namespace or the socket went away under the emit
            self._give_up(key, fut)
            raise LinkLost(f"emit failed: {exc!r}") from exc
        try:
            return await asyncio.wait_for(fut, ANSWER_TIMEOUT_S)
        finally:
            self.pending.pop(key, None)

    def _give_up(self, key: str, fut: asyncio.Future) -> None:
        """The client's own final answer to a request the link took down with it (unless one came)."""
        if self.pending.pop(key, None) is not None and not fut.done():
            self.ledger.link_lost([key])
            fut.cancel()

    async def run_lesson(self, lesson: Any) -> None:
        started = await self.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                                "lesson_id": lesson.id}, kind="run_start")
        run_id = started.get("run_id")
        if not run_id:
            self.runs_refused += 1
            return
        self.runs_started += 1
        refs = itertools.count(1)

        async def block(block_id: str, args: dict) -> dict:
            return await self.call("block", {"block": block_id, "args": args, "ref": f"b{next(refs)}", "run_id": run_id,
                                             "source": "blockly"})

        async def read(block_id: str, args: dict) -> float:
            reply = await self.call("block", {"block": block_id, "args": args, "source": "blockly"}, kind="reporter")
            value = reply.get("value")
            return float(value) if isinstance(value, (int, float)) else 0.0

        reason = "finished"
        try:
            await self.interpret(lesson.solution.blockly, block, read)
        except ProgramStopped as exc:
            reason = str(exc) or "failed"
        if self.sio is not None and self.sio.connected:
            await self.call("run_end", {"run_id": run_id, "reason": reason}, kind="run_end")


def _b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


class ScratchKid(Kid):
    def __post_init__(self) -> None:
        self.front_end = "scratch"
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task | None = None
        self.rpc: dict[int, asyncio.Future] = {}
        self.waiting: dict[str, asyncio.Future] = {}  # ref -> its result / run notification
        self.telemetry: dict[str, Any] = {}
        self.ids = itertools.count()

    async def open(self) -> None:
        self.ws = await self.http.ws_connect(f"{self.url}/scratch/ble?token={self.token}", timeout=CONNECT_TIMEOUT_S)
        self.reader = asyncio.create_task(self._read(self.ws))
        await self._rpc("discover", {"filters": [{"services": [SERVICE_UUID]}]})
        for _ in range(100):  # didDiscoverPeripheral follows discover's reply
            if self.car_id and self.car_id in self._discovered:
                break
            await asyncio.sleep(0.05)
        car = self.car_id if self.car_id in self._discovered else next(iter(self._discovered), None)
        if car is None:
            raise RuntimeError(f"{self.name}: no car discovered on /scratch/ble")
        await self._rpc("connect", {"peripheralId": car})
        await self._rpc("startNotifications", {"serviceId": SERVICE_UUID, "characteristicId": EVENTS_CHAR_UUID})

    @property
    def _discovered(self) -> list[str]:
        return getattr(self, "_found", [])

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._found = []
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if "id" in data and "method" not in data:
                    fut = self.rpc.pop(data["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(data)
                elif data.get("method") == "didDiscoverPeripheral":
                    self._found.append(data["params"]["peripheralId"])
                elif data.get("method") == "characteristicDidChange":
                    payload = json.loads(base64.b64decode(data["params"]["message"]))
                    kind = payload.get("type")
                    if kind == "telemetry":
                        self.telemetry = payload
                    elif kind in ("result", "run") and payload.get("ref") is not None:
                        ref = str(payload["ref"])
                        if kind == "result":
                            self.ledger.answered(ref, "server", str(payload.get("status")))
                        fut = self.waiting.pop(ref, None)
                        if fut is not None and not fut.done():
                            fut.set_result(payload)
                        elif kind == "run" and fut is None and payload.get("status") != "ended":
                            pass
        finally:
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        waiting, self.waiting = self.waiting, {}
        self.ledger.link_lost([ref for ref in waiting if ref in self.ledger.entries])
        for fut in [*waiting.values(), *self.rpc.values()]:
            if not fut.done():
                fut.set_exception(LinkLost("/scratch/ble closed"))
                fut.add_done_callback(lambda f: f.exception())  # nobody may be waiting on it any more
        self.rpc = {}

    async def _rpc(self, method: str, params: dict) -> Any:
        ws = self.ws
        if ws is None or ws.closed or self.reader is None or self.reader.done():
            # a socket the server closed (its CLOSE frame read, ours not sent yet) is not `closed` yet, but
            # its reader has ended: nothing would ever read the reply
            raise LinkLost("not connected")
        rid = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.rpc[rid] = fut
        await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        reply = await asyncio.wait_for(fut, ANSWER_TIMEOUT_S)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result")

    async def write(self, call: dict, kind: str) -> dict:
        """One write on the block characteristic, and its answer notification (by ref)."""
        key = self.ledger.sent(self.front_end, kind)
        fut = asyncio.get_running_loop().create_future()
        self.waiting[key] = fut
        try:
            await self._rpc("write", {"serviceId": SERVICE_UUID, "characteristicId": BLOCK_CHAR_UUID,
                                      "message": _b64({**call, "ref": key}), "encoding": "base64"})
            payload = await asyncio.wait_for(fut, ANSWER_TIMEOUT_S)
        except (LinkLost, ConnectionError, aiohttp.ClientError) as exc:  # a send on a socket closing under it too
            self.ledger.link_lost([key])
            raise exc if isinstance(exc, LinkLost) else LinkLost(f"/scratch/ble write: {exc!r}") from exc
        except RuntimeError as exc:  # the write's own JSON-RPC error reply: the server's final answer to it
            self.ledger.answered(key, "server", "rpc_error")
            raise
        finally:
            self.waiting.pop(key, None)
        if kind != "block":
            self.ledger.answered(key, "server", str(payload.get("status")))
        return payload

    async def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
            self.reader = None
        self._fail_waiting()

    async def run_lesson(self, lesson: Any) -> None:
        started = await self.write({"run": "start", "program": lesson.solution.blockly, "lesson_id": lesson.id}, "run_start")
        if started.get("status") != "started":
            self.runs_refused += 1
            return
        self.runs_started += 1

        async def block(block_id: str, args: dict) -> dict:
            return await self.write({"block": block_id, "args": args}, "block")

        async def read(block_id: str, args: dict) -> float:
            t = self.telemetry
            if block_id == "distance":
                return float(t.get("distance") or 1000.0)
            return float(t.get({"x": "x", "y": "y", "heading": "heading"}.get(str(args.get("axis", "x")), "x")) or 0.0)

        reason = "finished"
        try:
            await self.interpret(lesson.solution.blockly, block, read)
        except ProgramStopped as exc:
            reason = str(exc) or "failed"
        if self.ws is not None and not self.ws.closed:
            await self.write({"run": "end", "reason": reason}, "run_end")
