"""The ``/car`` socket.io namespace: cars connect, get their limits and arena, run skills, report back.

The one adapter to the cars: it implements the core's CarPort (what the classroom sends) on top of
python-socketio and hands what cars send (hello, results, telemetry) to the classroom.
Every message from a car is validated with robot_runtime.protocol; a bad one is logged, counted and
dropped, and the connection stays up. Heartbeats go to every car every HEARTBEAT_PERIOD_S from a
background task bound to the app's lifetime.

One connection per car (threat model "car hijack"): a second hello with a car's token while that car is
connected and has been heard from within ``timeouts.car_silent_s`` is refused (rule ``car_in_use``) and
published as "car_refused" (the teacher's console lists it on the car); the live car keeps its
connection. A car that is gone (disconnected, or silent for longer than that) may be replaced: a
restarted car whose old socket has not timed out yet gets in.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from typing import Any, Callable, TypeVar

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from pydantic import BaseModel, ValidationError
from socketio import packet as sio_packet

from robot_runtime.protocol import (
    CAR_NAMESPACE, HEARTBEAT_PERIOD_S, PROTOCOL_VERSION, SUPPORTED_PROTOCOLS, Ack, ArenaSetup, Cancel, CarHello, ErrorInfo, Heartbeat,
    SessionLimits, SkillPackage, SkillRequest, SkillResult, Steer, Stop, Telemetry,
)
from server.cars.car_texts import bounded_ack, bounded_result, bounded_telemetry
from server.cars.estop_delivery import EstopDelivery
from server.cars.pairing_api import PAIRING
from server.core.auth import car_token_ok
from server.core.classroom import Classroom
from server.core.config import ServerConfig
from server.web.errors import error_info_from_validation, refusal
from server.web.state import CLASSROOM, CONFIG, SIO
from server.web.tasks import periodic

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

CONNECTED_WAIT_S = 1.0  # how long a post-connect task waits for socket.io to finish the handshake
# A car is always connected to the process that talks to it: with several processes (docs/cluster.md)
# its messages skip the Redis manager (a round trip through Redis per skill and heartbeat would be waste).
LOCAL = True


class CarHub(socketio.AsyncNamespace):
    """Built before the classroom (which is built with it as its CarPort); reaches it through the app."""

    def __init__(self, app: web.Application, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(CAR_NAMESPACE)
        self.app = app
        self._clock = clock
        self.sid_of: dict[str, str] = {}  # car_id -> sid
        self.car_of: dict[str, str] = {}  # sid -> car_id
        self.last_heard: dict[str, float] = {}  # car_id -> clock() of its connection's latest message
        self.bad_messages: Counter[str] = Counter()  # rule -> count, for /api/health and tests
        self.refused_second = 0  # second connections refused for live cars (car_in_use)
        self.heartbeat_seq = 0
        self.estops = EstopDelivery(self._emit_estop)  # acked, re-sent until the car has it

    @property
    def classroom(self) -> Classroom:
        return self.app[CLASSROOM]

    @property
    def config(self) -> ServerConfig:
        return self.app[CONFIG]

    # --- connection ---------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            hello = CarHello.model_validate(auth if isinstance(auth, dict) else {})
        except ValidationError as exc:
            info = error_info_from_validation(exc, "car_hello")
            raise refusal(info) from None
        if hello.protocol not in SUPPORTED_PROTOCOLS:
            raise refusal(ErrorInfo(
                rule="protocol_version", value=hello.protocol,
                message=f"car speaks protocol {hello.protocol}, the server speaks {PROTOCOL_VERSION}",
                fix="update the car runtime and the server to the same version"))
        if not (car_token_ok(hello.car_id, hello.token, self.config.car_tokens, self.config.car_pairing_secret)
                or self.app[PAIRING].token_ok(hello.car_id, hello.token)):  # configured, or paired (pairing.py)
            log.warning("car %s refused: wrong pairing token", hello.car_id)
            raise refusal(ErrorInfo(
                rule="car_token", value=hello.car_id, message=f"wrong pairing token for {hello.car_id}",
                fix="pair the car again (\"Add a car\" in the teacher console, then `dojo car pair URL CODE` on the "
                    "car), or start it with the token the server printed (in DOJO_CAR_TOKEN or --token-file)"))
        old = self.sid_of.get(hello.car_id)
        if old is not None:
            silent_s = self._clock() - self.last_heard.get(hello.car_id, -math.inf)
            if silent_s <= self.config.timeouts.car_silent_s:  # the car is alive: this is a second car, refused
                raise refusal(self._refuse_second(hello.car_id, silent_s, environ))
            # the car restarted (or lost its link) before its old socket timed out: the new one replaces it
            log.info("car %s reconnected after %.1f s of silence; its old connection is closed", hello.car_id, silent_s)
            self.car_of.pop(old, None)
            self.classroom.car_disconnected(hello.car_id)
            await self.disconnect(old)
        remote = self.classroom.remote
        if old is None and remote is not None:  # several processes: one connection per car across all of them
            heard = await remote.heard_elsewhere(hello.car_id)
            if heard is not None and heard[1] <= self.config.timeouts.car_silent_s:
                raise refusal(self._refuse_second(hello.car_id, heard[1], environ, elsewhere=heard[0]))
        self.sid_of[hello.car_id] = sid
        self.car_of[sid] = hello.car_id
        self.last_heard[hello.car_id] = self._clock()
        await self.save_session(sid, {"car_id": hello.car_id, "kind": hello.kind})
        asyncio.get_running_loop().create_task(self._after_connect(sid, hello))
        log.info("car %s connected (%s)", hello.car_id, hello.kind)

    def _refuse_second(self, car_id: str, silent_s: float, environ: dict[str, Any],
                       elsewhere: str | None = None) -> ErrorInfo:
        """A second connection for a live car: refused, logged and shown to the teacher."""
        request = environ.get("aiohttp.request")  # engine.io's REMOTE_ADDR is always 127.0.0.1 under aiohttp
        address = str(getattr(request, "remote", None) or environ.get("REMOTE_ADDR") or "?")
        limit = self.config.timeouts.car_silent_s
        info = ErrorInfo(
            rule="car_in_use", value=car_id,
            message=f"{car_id} is already connected{f' (to server process {elsewhere})' if elsewhere else ''} and was "
                    f"heard from {silent_s:.1f} s ago; a second connection "
                    f"with its token is refused (one connection per car)",
            fix=f"if this is the real {car_id}, stop the other program using its token, or wait until the server "
                f"has not heard from it for {limit:g} s, then connect again; if you did not start a second "
                f"{car_id}, someone else has its token: pair the car again from the teacher console")
        self.refused_second += 1
        log.warning("car %s: second connection from %s refused (the connected car was heard from %.1f s ago)",
                    car_id, address, silent_s)
        self.classroom.car_refused(car_id, {
            "rule": info.rule, "address": address, "message": info.message,
            "kid_text": f"Another device tried to connect as {car_id} with its pairing token and was refused; "
                        f"{car_id} keeps driving. If you did not start it, pair {car_id} again."})
        return info

    async def _after_connect(self, sid: str, hello: CarHello) -> None:
        """Arena and limits are sent once socket.io has told the car it is connected."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECTED_WAIT_S
        while not self.server.manager.is_connected(sid, CAR_NAMESPACE):
            if loop.time() > deadline or self.car_of.get(sid) != hello.car_id:
                return
            await asyncio.sleep(0.001)
        # a heartbeat first: the car's watchdog holds it still until it has heard from us once
        await self.emit("heartbeat", Heartbeat(seq=self.heartbeat_seq).model_dump(mode="json"), to=sid,
                        ignore_queue=LOCAL)
        if self.sid_of.get(hello.car_id) != sid:  # it left while we waited: its disconnect is already told
            return
        await self.classroom.car_connected(hello.car_id, hello.kind)

    async def taken_elsewhere(self, car_id: str) -> None:
        """Another server process says this car connected there (replayed "car_connected"): the car
        reconnected before we noticed its old link was gone. Ours is stale: closed, its requests answered."""
        sid = self.sid_of.get(car_id)
        if sid is None:
            return
        log.info("car %s is connected to another server process now; its old connection here is closed", car_id)
        self.car_of.pop(sid, None)
        del self.sid_of[car_id]
        self.last_heard.pop(car_id, None)
        self.estops.cancel(car_id)
        self.classroom.car_disconnected(car_id)
        await self.disconnect(sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        car_id = self.car_of.pop(sid, None)
        if car_id is None:
            return
        if self.sid_of.get(car_id) == sid:
            del self.sid_of[car_id]
            self.last_heard.pop(car_id, None)
            self.estops.cancel(car_id)
            self.classroom.car_disconnected(car_id)
        log.info("car %s disconnected (%s)", car_id, reason)

    # --- from cars ----------------------------------------------------------------------

    async def on_result(self, sid: str, data: Any) -> None:
        car_id, result = self._from_car(sid, SkillResult, "result", data)
        if result is None:
            return
        result = bounded_result(result)  # texts cut before any kid or teacher reads them (car_texts.py)
        if not self.classroom.dispatcher.on_result(car_id, result):
            log.info("late or unknown result from %s: %s %s", car_id, result.request_id, result.status)

    async def on_telemetry(self, sid: str, data: Any) -> None:
        car_id, telemetry = self._from_car(sid, Telemetry, "telemetry", data)
        if telemetry is None:
            return
        if not _finite(telemetry):  # NaN/inf would break the browsers' JSON.parse
            self.bad_messages["telemetry.not_finite"] += 1
            log.warning("car %s sent telemetry with NaN/inf numbers; dropped", car_id)
            return
        if telemetry.car_id != car_id:
            self.bad_messages["telemetry.car_id"] += 1
            log.warning("car %s sent telemetry for %s; dropped", car_id, telemetry.car_id)
            return
        telemetry, cut_off = bounded_telemetry(telemetry)  # texts cut, events capped (car_texts.py)
        if cut_off:
            self.bad_messages["telemetry.events_cut"] += cut_off
        self.estops.on_telemetry(car_id, telemetry.safety_state)
        self.classroom.on_telemetry(car_id, telemetry)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Known events go to their handlers; anything else is counted and dropped."""
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        if event in ("result", "telemetry"):
            if len(args) != 2:  # sid + one message: none (emit(event) or null) or several are a bad message
                self.bad_messages[f"{event}.arguments"] += 1
                log.warning("car sent %s with %d arguments instead of one; dropped", event, len(args) - 1)
                return None
            return await super().trigger_event(event, *args)
        self.bad_messages["unknown_event"] += 1
        log.warning("car sent unknown event %r; dropped", event)
        return None

    def _from_car(self, sid: str, model: type[M], what: str, data: Any) -> tuple[str, M | None]:
        """Which car sent this and the validated message; None (counted and logged) if it is not valid."""
        car_id = self.car_of.get(sid)
        if car_id is None:
            return "", None
        self.last_heard[car_id] = self._clock()  # even a bad message shows the car is there
        try:
            return car_id, model.model_validate(data)
        except ValidationError as exc:
            self._bad(car_id, what, exc)
            return car_id, None

    def _bad(self, car_id: str, what: str, exc: ValidationError) -> None:
        info = error_info_from_validation(exc, what)
        self.bad_messages[what] += 1
        log.warning("bad %s from %s dropped: %s", what, car_id, info.message)

    # --- to cars (the CarPort) -----------------------------------------------------------

    def _sid(self, car_id: str) -> str:
        sid = self.sid_of.get(car_id)
        if sid is None:
            raise ConnectionError(f"{car_id} is not connected — start it with `dojo car --sim --name {car_id}`")
        return sid

    async def send_skill(self, car_id: str, request: SkillRequest, timeout_s: float) -> Ack:
        return await self._call_for_ack(car_id, "skill", request.model_dump(mode="json"), timeout_s)

    async def _call_for_ack(self, car_id: str, event: str, payload: dict, timeout_s: float) -> Ack:
        try:
            reply = await self.call(event, payload, to=self._sid(car_id), timeout=timeout_s, ignore_queue=LOCAL)
        except socketio.exceptions.TimeoutError:
            raise TimeoutError(f"{car_id} did not ack {event} within {timeout_s} s") from None
        except socketio.exceptions.SocketIOError as exc:
            raise ConnectionError(f"{car_id}: {exc}") from None
        try:
            return bounded_ack(Ack.model_validate(reply))
        except ValidationError as exc:
            self._bad(car_id, "ack", exc)
            return Ack(ok=False, error=ErrorInfo(rule="bad_ack", message="the car's ack was not understood",
                                                 value=str(reply)[:80]))

    async def send_cancel(self, car_id: str, cancel: Cancel) -> None:
        await self.emit("cancel", cancel.model_dump(mode="json"), to=self._sid(car_id), ignore_queue=LOCAL)

    async def send_stop(self, car_id: str, reason: str) -> None:
        await self.emit("stop", Stop(reason=reason[:200]).model_dump(mode="json"), to=self._sid(car_id),
                        ignore_queue=LOCAL)

    async def send_estop(self, car_id: str, reason: str) -> None:
        """Queued on the car's link before this returns, without waiting for anything (see _emit_estop)."""
        self.estops.send(car_id, reason)  # not connected: ConnectionError, as for every other message

    def _emit_estop(self, car_id: str, payload: dict) -> "asyncio.Future[Any]":
        """The e-stop frame straight onto the car's engine.io queue, with an ack id: no task and no await
        (``call`` spawns a task per recipient), so a STOP ALL queues every car's e-stop in one turn of the
        loop. The future gets the car's ack."""
        sid = self._sid(car_id)
        socket = self._engine_socket(car_id)
        if socket is None:
            raise ConnectionError(f"{car_id} is not connected")
        acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_ack(*data: Any) -> None:
            if not acked.done():
                acked.set_result(data[0] if data else None)

        ack_id = self.server.manager._generate_ack_id(sid, on_ack)
        frame = self.server.packet_class(sio_packet.EVENT, namespace=CAR_NAMESPACE, data=["estop", payload], id=ack_id)
        socket.queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, frame.encode()))
        return acked

    async def send_reset_estop(self, car_id: str, reason: str) -> None:
        self.estops.cancel(car_id)
        await self.emit("reset_estop", Stop(reason=reason[:200]).model_dump(mode="json"), to=self._sid(car_id),
                        ignore_queue=LOCAL)

    async def send_limits(self, car_id: str, limits: SessionLimits, timeout_s: float) -> Ack:
        return await self._call_for_ack(car_id, "limits", limits.model_dump(mode="json"), timeout_s)

    async def send_arena(self, car_id: str, setup: ArenaSetup) -> Ack:
        """Acked: the car loads an arena only while idle, and the server must know whether it did."""
        return await self._call_for_ack(car_id, "arena", setup.model_dump(mode="json"), self.config.timeouts.car_ack_s)

    async def send_neighbours(self, car_id: str, payload: dict) -> None:
        """The cars near this one (neighbours.py builds the list)."""
        await self.emit("neighbours", payload, to=self._sid(car_id), ignore_queue=LOCAL)

    async def send_steer(self, car_id: str, steer: Steer) -> None:
        await self.emit("steer", steer.model_dump(mode="json"), to=self._sid(car_id), ignore_queue=LOCAL)

    async def send_skill_package(self, car_id: str, package: SkillPackage, timeout_s: float) -> Ack:
        """A learned skill's files; the car answers once it has checked and loaded them (or says why not)."""
        return await self._call_for_ack(car_id, "install_skill", package.model_dump(mode="json"), timeout_s)

    def silent_s(self, car_id: str) -> float | None:
        if car_id not in self.sid_of:
            return None
        return self._clock() - self.last_heard.get(car_id, -math.inf)

    async def heartbeat(self) -> None:
        """One frame, encoded once, put on every car's engine.io queue (a broadcast ``emit`` spawns a task
        per car: 300 a second at 30 cars)."""
        self.heartbeat_seq += 1
        if not self.sid_of:
            return
        frame = self.server.packet_class(sio_packet.EVENT, namespace=CAR_NAMESPACE,
                                         data=["heartbeat", Heartbeat(seq=self.heartbeat_seq).model_dump(mode="json")])
        pkt = eio_packet.Packet(eio_packet.MESSAGE, frame.encode())
        for car_id in list(self.sid_of):
            socket = self._engine_socket(car_id)
            if socket is not None:
                socket.queue.put_nowait(pkt)

    def _engine_socket(self, car_id: str) -> Any:
        """The car's engine.io socket (its send queue), or None when it is not connected."""
        sid = self.sid_of.get(car_id)
        eio_sid = self.server.manager.eio_sid_from_sid(sid, CAR_NAMESPACE) if sid is not None else None
        socket = self.server.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return None if socket is None or socket.closed else socket


def _finite(t: Telemetry) -> bool:
    isfinite = math.isfinite  # every sample of every car: no generator
    return (isfinite(t.t) and isfinite(t.speed_cm_s) and isfinite(t.yaw_rate_dps) and isfinite(t.slip_deg)
            and isfinite(t.throttle) and isfinite(t.steering))


CAR_HUB: web.AppKey[CarHub] = web.AppKey("car_hub", CarHub)


async def _heartbeat(app: web.Application) -> None:
    await app[CAR_HUB].heartbeat()


def port(app: web.Application) -> CarHub:
    """The CarPort the app builds the Classroom with."""
    hub = app[CAR_HUB] = CarHub(app)
    return hub


def setup(app: web.Application) -> None:
    app[SIO].register_namespace(app[CAR_HUB])
    app[SIO].handle_inline(CAR_NAMESPACE, "telemetry")  # on_telemetry never waits: no task per sample
    app[CLASSROOM].events.subscribe("car_connected", app[CAR_HUB].taken_elsewhere, scope="replayed")
    app.cleanup_ctx.append(periodic("car heartbeats", HEARTBEAT_PERIOD_S, _heartbeat, wait_first=False))
