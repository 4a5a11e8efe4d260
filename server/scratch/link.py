"""The Scratch-Link-compatible endpoint ``GET /scratch/ble``.

A JSON-RPC 2.0 WebSocket speaking Scratch Link's BLE protocol (server.scratch.protocol): each car the
kid may drive is a peripheral; a block call is a write, its final answer and the car's telemetry come
back as characteristicDidChange notifications.

Who may connect: the kid's token is required, either as ``/scratch/ble?token=<token>`` or as the first
request ``{"method": "authenticate", "params": {"token": ...}}``; a socket that has no valid token
``timeouts.scratch_auth_s`` (10 s) after it opened is closed (code 1008, with the reason). Browsers must come from an allowed
Origin: this server itself or ``allowed_origins`` in the server config (``--turbowarp`` adds
https://turbowarp.org and the http://localhost:8000 listener). Clients without an Origin header
(Node, Python) are not browsers and need only the token. Errors never touch a car.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

from aiohttp import WSCloseCode, WSMsgType, web

from curriculum.gate import Refusal
from server.core.auth import AuthError
from server.core.classroom import Classroom, car_change_text
from server.core.types import Kid
from server.scratch.protocol import (
    APPLICATION_ERROR, METHOD_NOT_FOUND, PROTOCOL_VERSION, LinkSession, Peripheral, Request, RpcError, RunWrite, State,
    error_reply, notification, parse_message, result_reply, encode_payload, MAX_MESSAGE_BYTES,
)
from server.web.fanout import FANOUT, Fanout
from server.web.origin import OriginRule
from server.web.state import CLASSROOM, CONFIG, ON_DRAIN

log = logging.getLogger(__name__)

WS_HEARTBEAT_S = 5.0  # a closed laptop lid is noticed within ~10 s, like the /kid socket.io ping
FRESH_TELEMETRY_S = 0.5  # a car heard from within this shows four bars in the device dialog (> -20 dBm); else one
MAX_IN_FLIGHT = 64  # block calls one socket may have waiting; a Scratch project runs a few scripts at once
SEND_TIMEOUT_S = 2.0  # a browser that cannot take one small frame in 2 s is stalled; we drop that frame

SERVER_MOVING_KID_TEXT = "Your classroom is moving to another server — your car will be back in a moment!"
TRANSPORT = "scratch"  # how these sockets show in the classroom's presence
METHODS = ("getVersion", "authenticate", "discover", "connect", "write", "read", "startNotifications",
           "stopNotifications")


def telemetry_payload(car_id: str, tel: Any) -> dict[str, Any]:
    return {"type": "telemetry", "car": car_id, "seq": tel.seq, "x": round(tel.pose.x_cm, 2),
            "y": round(tel.pose.y_cm, 2), "heading": round(tel.pose.heading_deg, 2),
            "distance": None if tel.distance_cm is None else round(tel.distance_cm, 1),
            "speed": round(tel.speed_cm_s, 1), "safety": tel.safety_state}


class LinkHub:
    """Every open /scratch/ble socket of one app, and the classroom events they need."""

    def __init__(self, classroom: Classroom, fanout: Fanout, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.classroom, self.fanout, self._clock = classroom, fanout, clock
        self.connections: set[LinkConnection] = set()
        self.last_heard: dict[str, float] = {}  # car_id -> monotonic time of its latest telemetry
        ev = classroom.events
        ev.subscribe("telemetry", self._on_telemetry)
        ev.subscribe("car_connected", self._on_car_connected)
        ev.subscribe("car_disconnected", self._on_car_lost)
        ev.subscribe("assignment_changed", self._on_assignment_changed)
        ev.subscribe("car_changed", self._on_car_changed)
        ev.subscribe("level_changed", self._on_level_changed)
        ev.subscribe("skills_changed", self._on_skills_changed)

    async def server_moving(self) -> None:
        """ON_DRAIN: every socket is told to connect again, then closed."""
        await asyncio.gather(*(c.server_moving() for c in list(self.connections)), return_exceptions=True)

    def peripherals_for(self, kid: Kid) -> list[Peripheral]:
        now = self._clock()
        out = []
        for car in self.classroom.cars_for_kid(kid.kid_id):
            if not car.connected:
                continue  # like a switched-off BLE device: not advertising
            fresh = now - self.last_heard.get(car.car_id, -1e9) < FRESH_TELEMETRY_S
            kind = "simulated" if car.kind == "sim" else car.kind
            out.append(Peripheral(car.car_id, f"{car.car_id} ({kind})", -15 if fresh else -70))
        return out

    def _on_telemetry(self, car_id: str, tel: Any) -> None:
        self.last_heard[car_id] = self._clock()

    async def _on_car_connected(self, car_id: str) -> None:
        for conn in list(self.connections):
            if conn.session.state is State.DISCOVERY and conn.kid:
                await conn.announce()

    async def _on_car_lost(self, car_id: str) -> None:
        self.last_heard.pop(car_id, None)
        for conn in list(self.connections):
            if conn.session.peripheral_id == car_id:
                await conn.car_lost(f"{car_id} lost its connection")

    async def _on_assignment_changed(self, car_id: str, kid_ids: list[str]) -> None:
        for conn in list(self.connections):
            if conn.session.state is State.DISCOVERY and conn.kid and conn.kid.kid_id in kid_ids:
                await conn.announce()  # a car given to a kid who is looking: it shows up in the dialog

    async def _on_car_changed(self, kid_id: str, old: str | None, new: str | None) -> None:
        """The kid's car changed: a socket on the old car says where to go and closes; the extension
        connects to the new car by itself (one socket is one peripheral in Scratch Link)."""
        for conn in list(self.connections):
            if old and conn.kid and conn.kid.kid_id == kid_id and conn.session.peripheral_id == old:
                await conn.car_changed(old, new)

    async def _on_skills_changed(self, name: str) -> None:
        """A learned skill was promoted or rolled back: the extension reloads its skill menu."""
        for conn in list(self.connections):
            if conn.kid:
                await conn.send_event({"type": "skills", "name": name})

    async def _on_level_changed(self, kid_id: str, level: int) -> None:
        for conn in list(self.connections):
            if conn.kid and conn.kid.kid_id == kid_id:
                await conn.send_event({"type": "level", "level": level})


class LinkConnection:
    """One socket: authenticates, runs the protocol session and turns writes into block calls."""

    def __init__(self, ws: web.WebSocketResponse, hub: LinkHub, *, origin_ok: bool, origin: str | None,
                 token: str | None) -> None:
        self.ws, self.hub, self.classroom = ws, hub, hub.classroom
        self.origin_ok, self.origin = origin_ok, origin
        self.session = LinkSession()
        self.kid: Kid | None = None
        self.auth_error: str | None = None
        self.blocks: set[asyncio.Task] = set()
        self._after_reply: Any = None  # a push that must follow the current reply (coroutine function)
        self.run_id: str | None = None  # the green-flag run this socket's blocks belong to
        self.moved = False  # the kid's car changed: this socket closes for the extension to reconnect
        if token is not None:
            self._authenticate(token)

    def _authenticate(self, token: Any) -> str | None:
        """Sign this socket in as the token's kid; on a bad token, why (a signed-in socket stays signed in:
        refused input changes nothing)."""
        try:
            kid = self.classroom.auth_kid(token)
        except AuthError as exc:
            why = f"{exc.rule}: {exc.message}"
            if self.kid is None:
                self.auth_error = why
            return why
        self._leave()
        self.kid, self.auth_error = kid, None
        self.classroom.presence.arrive(kid.kid_id, TRANSPORT, self)  # online in the teacher's roster
        return None

    def _leave(self) -> None:
        if self.kid is not None:
            self.classroom.presence.leave(self.kid.kid_id, TRANSPORT, self)

    # --- the socket's life ------------------------------------------------------------------

    async def _close_unless_authenticated(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        if self.kid is None and not self.ws.closed:
            why = self.auth_error or "no kid token"
            log.info("scratch link: closing a socket without a valid kid token after %g s (%s)", after_s, why)
            await self.ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                message=f"no valid kid token within {after_s:g} s: join the class again".encode()[:120])

    async def run(self, auth_timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().create_task(self._close_unless_authenticated(auth_timeout_s))
        # the connected car's telemetry, coalesced (latest wins, at most telemetry_max_hz), as notifications
        self.hub.fanout.add(self, lambda car_id: car_id == self.session.peripheral_id and self.session.notifying,
                            telemetry_payload, self.send_event)
        self.hub.connections.add(self)
        try:
            async for msg in self.ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._handle(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
                if not self.origin_ok:
                    break  # answered once with the reason; nothing else from a foreign page
        finally:
            deadline.cancel()
            self.hub.connections.discard(self)
            self.hub.fanout.remove(self)
            self._leave()
            if self.blocks and self.kid and not self.moved:
                # The kid's editor went away mid-drive: stop the car rather than finish blind.
                await self.classroom.stop_kid(self.kid.kid_id, "Scratch disconnected")
            await self._end_run("Scratch disconnected")
            for task in self.blocks:
                task.cancel()
            await asyncio.gather(*self.blocks, return_exceptions=True)
            if not self.ws.closed:
                await self.ws.close()

    async def _send(self, obj: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        try:
            await asyncio.wait_for(self.ws.send_str(json.dumps(obj, separators=(",", ":"))), SEND_TIMEOUT_S)
        except (ConnectionError, asyncio.TimeoutError, RuntimeError) as exc:
            log.info("scratch link: dropped a frame to a stalled client: %r", exc)

    async def _handle(self, text: str | bytes) -> None:
        request_id: Any = None
        try:
            req = parse_message(text)
            if req is None:
                return
            request_id = req.id
            result = await self._dispatch(req)
            if not req.is_notification:
                await self._send(result_reply(req.id, result))
            if self._after_reply is not None:
                after, self._after_reply = self._after_reply, None
                await after()
        except RpcError as exc:
            if exc.request_id is None:
                exc.request_id = request_id
            await self._send(exc.reply())
        except Exception:  # never let one message take the connection down; the log has the details, not the kid
            log.exception("scratch link request failed")
            await self._send(error_reply(request_id, APPLICATION_ERROR,
                                         "the server could not do that: try again; tell the teacher if it keeps "
                                         "happening"))

    async def _dispatch(self, req: Request) -> Any:
        if not self.origin_ok:
            raise RpcError(APPLICATION_ERROR, f"origin {self.origin!r} may not drive cars: open the editor from "
                                              "this classroom server, or ask the teacher to add the origin to "
                                              "allowed_origins", req.id)
        if req.method == "getVersion":
            return {"protocol": PROTOCOL_VERSION}
        if req.method == "authenticate":
            if self.session.state is not State.INITIAL:
                raise RpcError(APPLICATION_ERROR, f"authenticate comes first (state: {self.session.state.value}): "
                                                  "open a new socket to drive as another kid", req.id)
            why = self._authenticate(req.params.get("token"))
            if why is not None:
                still = f" (this socket is still {self.kid.name}'s)" if self.kid else ""
                raise RpcError(APPLICATION_ERROR, f"{why} (POST /api/join){still}", req.id)  # why says what to do
            return {"kid": self.kid.name, "level": self.kid.level}
        if req.method not in METHODS:
            raise RpcError(METHOD_NOT_FOUND, f"there is no method {req.method!r}: use one of {', '.join(METHODS)}",
                           req.id)
        if self.kid is None:
            why = self.auth_error or "this socket has no kid token"
            raise RpcError(APPLICATION_ERROR, f"{why}: open /scratch/ble?token=<token from POST /api/join> or send "
                                              '{"method": "authenticate", "params": {"token": ...}} first', req.id)
        if req.method == "discover":
            self.session.discover(req)
            self._after_reply = self.announce  # didDiscoverPeripheral must follow discover's own reply
            return None
        if req.method == "connect":
            self._check_still_mine(req)
            self.session.connect(req)
            return None
        if req.method == "write":
            return await self._write(req)
        if req.method == "read":
            self.session.read(req)
            tel = self.classroom.latest_telemetry(self.session.peripheral_id or "")
            payload = telemetry_payload(self.session.peripheral_id or "", tel) if tel else {"type": "telemetry"}
            return {"message": encode_payload(payload), "encoding": "base64"}
        if req.method == "startNotifications":
            self.session.start_notifications(req)
            self._after_reply = self._send_level  # the kid's level first: the extension's skill menu needs it
            return None
        self.session.stop_notifications(req)
        return None

    def _check_still_mine(self, req: Request) -> None:
        wanted = req.params.get("peripheralId")
        mine = {p.peripheral_id for p in self.hub.peripherals_for(self.kid)} if self.kid else set()
        if isinstance(wanted, str) and wanted in self.session.discovered and wanted not in mine:
            raise RpcError(APPLICATION_ERROR, f"{wanted} is not connected or no longer yours: scan again", req.id)

    async def _write(self, req: Request) -> int:
        call = self.session.write(req)
        if isinstance(call, RunWrite):
            await self._run_control(call)  # inline: the blocks written next belong to this run
            return call.size
        if call.block == "stop":
            # Inline, not a task: the stop reaches the car before anything written after it on this
            # socket (the green flag's stop-all is followed at once by the new program's first block).
            await self._run_block(call.block, call.args, call.ref)
            return call.size
        if len(self.blocks) >= MAX_IN_FLIGHT:
            asyncio.ensure_future(self.send_event({
                "type": "result", "ref": call.ref, "block": call.block, "status": "refused", "rule": "in_flight",
                "kid_text": "Too many blocks at once — wait for the car to finish.",
                "detail": f"in_flight: {len(self.blocks)} block calls already wait on this socket (limit {MAX_IN_FLIGHT})"}))
            return call.size
        task = asyncio.create_task(self._run_block(call.block, call.args, call.ref))
        self.blocks.add(task)
        task.add_done_callback(self.blocks.discard)
        return call.size

    async def _run_control(self, call: RunWrite) -> None:
        """The green flag starts a run (a lesson attempt when the kid picked a lesson); its end ends it."""
        assert self.kid is not None
        if call.action == "end":
            await self._end_run(call.reason)
            await self.send_event({"type": "run", "ref": call.ref, "status": "ended", "reason": call.reason})
            return
        await self._end_run("a newer program started")
        try:
            run = await self.classroom.start_run(self.kid.kid_id, "scratch", call.program, call.lesson_id)
        except Refusal as r:
            await self.send_event({"type": "run", "ref": call.ref, "status": "refused", "kid_text": r.kid_text,
                                   "detail": r.detail, "rule": r.rule})
            return
        self.run_id = run.run_id
        await self.send_event({"type": "run", "ref": call.ref, "status": "started", "run_id": run.run_id})

    async def _end_run(self, reason: str) -> None:
        run_id, self.run_id = self.run_id, None
        if run_id:
            await self.classroom.end_run(run_id, reason)

    async def _run_block(self, block: str, args: dict[str, Any], ref: Any) -> None:
        assert self.kid is not None
        try:
            run_id = None if block == "stop" else self.run_id
            reply = await self.classroom.run_block(self.kid.kid_id, block, args, source="scratch", ref=ref,
                                                   run_id=run_id)
            payload = {"type": "result", "ref": ref, "block": block, "status": reply.status, "kid_text": reply.kid_text,
                       "detail": reply.detail, "rule": reply.rule, "request_id": reply.request_id}
        except AuthError as exc:
            payload = {"type": "result", "ref": ref, "block": block, "status": "refused", "rule": exc.rule,
                       "kid_text": "Please join the class again.", "detail": exc.message}
        await self.send_event(payload)

    # --- pushes from the hub ----------------------------------------------------------------

    async def announce(self) -> None:
        if self.kid is None or self.session.state is not State.DISCOVERY:
            return
        for peripheral in self.hub.peripherals_for(self.kid):
            if peripheral.peripheral_id not in self.session.discovered and self.session.found(peripheral):
                await self._send(notification("didDiscoverPeripheral", peripheral.announcement()))

    async def _send_level(self) -> None:
        if self.kid is not None:
            await self.send_event({"type": "level", "level": self.classroom.kid(self.kid.kid_id).level})

    async def send_event(self, payload: dict[str, Any]) -> None:
        if self.session.state is State.CONNECTED:
            await self._send(self.session.event(payload))

    async def car_changed(self, old: str | None, new: str | None) -> None:
        self.moved = True  # the classroom already stopped what ran on the old car; the new one is not ours to stop
        await self.send_event({"type": "car_changed", "car_id": new, "previous": old,
                               "kid_text": car_change_text(old, new)})
        await self.ws.close()

    async def server_moving(self) -> None:
        """The process drains: the extension reconnects to the same car (through the balancer: elsewhere)."""
        self.moved = True  # nothing runs any more (the drain waited); the car is not ours to stop
        await self.send_event({"type": "server_moving", "car_id": self.session.peripheral_id,
                               "kid_text": SERVER_MOVING_KID_TEXT})
        await self.ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"server moving: connect again")

    async def car_lost(self, why: str) -> None:
        """Tell the extension, then close: scratch-vm's BLE class shows 'lost connection' on close."""
        await self.send_event({"type": "car_lost", "detail": why, "kid_text": "I lost my car."})
        await self.ws.close()


HUB: web.AppKey[LinkHub] = web.AppKey("scratch_link_hub", LinkHub)


async def ble_socket(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    ws = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S, max_msg_size=MAX_MESSAGE_BYTES + 1)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="/scratch/ble is a WebSocket (Scratch Link protocol): connect with "
                                      "ws://<server>/scratch/ble?token=<token>")
    await ws.prepare(request)
    origin = request.headers.get("Origin")
    conn = LinkConnection(ws, request.app[HUB], origin_ok=OriginRule(config.allowed_origins).allows(
                          origin, request.scheme, request.host), origin=origin, token=request.query.get("token"))
    await conn.run(config.timeouts.scratch_auth_s)
    return ws


def setup(app: web.Application) -> None:
    app[HUB] = LinkHub(app[CLASSROOM], app[FANOUT])
    app[ON_DRAIN].append(app[HUB].server_moving)
    app.router.add_get("/scratch/ble", ble_socket)
