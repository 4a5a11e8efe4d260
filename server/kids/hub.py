"""The ``/kid`` socket.io namespace: Scratch, Blockly and the Python SDK drive the kid's car here.

Connect with ``auth={"token": ...}`` (from POST /api/join). Events (each answered through its ack):

- ``block`` {block, args, ref?, run_id?, source?} -> BlockReply (the one final answer)
- ``stop`` {} -> {status: "done"}            never gated, never queued
- ``run_start`` {source, program, lesson_id?} -> {status: "ok", run_id} or {status: "refused", ...}
- ``run_end`` {run_id, reason} -> {status: "ok"}

The server emits ``telemetry`` (the kid's car, coalesced by server.web.fanout), ``safety``,
``car_status``, ``car_changed`` {car_id, previous, kid_text} (the teacher gave the kid another car, or
none: editors switch to it by themselves), ``level``, ``arena``, ``feedback`` (a graded attempt: the
core's "attempt_graded") and ``removed`` {kid_text} (the teacher took the kid out of the class; the socket
closes). ``car_status`` goes only to the kids of the car whose assignment changed. Every block call pays
the kid's rate limit first, malformed ones too (Classroom.refuse_block). A bad message gets an error naming rule/value/fix, changes nothing, and the
connection stays up.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from aiohttp import web
from pydantic import BaseModel, ValidationError

from curriculum.front_ends import level_payload
from curriculum.gate import Refusal
from robot_runtime.protocol import ErrorInfo
from server.core.auth import AuthError
from server.core.classroom import Classroom, car_change_text
from server.core.types import MAX_BLOCK_MESSAGE_BYTES, MAX_PROGRAM_BYTES, BlockReply, Kid
from server.kids.messages import BlockCall, RunEnd, RunStart, StopCall
from server.web.errors import error_info_from_validation, error_reply, info_of, json_size, refusal, too_big, too_deep
from server.web.fanout import FANOUT, Fanout
from server.web.state import CLASSROOM, SIO

log = logging.getLogger(__name__)

KID_NAMESPACE = "/kid"
TRANSPORT = "kid"  # how this hub's sockets show in the classroom's presence
CONNECTED_WAIT_S = 1.0  # how long the welcome waits for socket.io to finish the handshake
KNOWN_EVENTS = ("block", "stop", "run_start", "run_end")
REMOVED_KID_TEXT = "Your teacher took you out of this class. Ask your teacher if that was a mistake."


def kid_room(kid_id: str) -> str:
    return f"kid:{kid_id}"


class KidHub(socketio.AsyncNamespace):
    def __init__(self, classroom: Classroom, fanout: Fanout) -> None:
        super().__init__(KID_NAMESPACE)
        self.classroom, self.fanout = classroom, fanout
        self.kid_of: dict[str, str] = {}  # sid -> kid_id
        self.presence = classroom.presence  # this transport reports its sockets as TRANSPORT
        self.bad_messages = 0
        ev = classroom.events
        ev.subscribe("level_changed", self._on_level_changed)
        ev.subscribe("car_connected", self._on_car_changed)
        ev.subscribe("car_disconnected", self._on_car_changed)
        ev.subscribe("assignment_changed", self._on_assignment_changed)
        ev.subscribe("car_changed", self._on_kids_car_changed)
        ev.subscribe("safety", self._on_safety)
        ev.subscribe("arena_changed", self._on_arena_changed)
        ev.subscribe("attempt_graded", self._on_attempt_graded)
        ev.subscribe("kid_removed", self._on_kid_removed)
        ev.subscribe("skills_changed", self._on_skills_changed)

    # --- connection ---------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            kid = self.classroom.auth_kid(token)
        except AuthError as exc:
            raise refusal(info_of(exc)) from None
        self.kid_of[sid] = kid.kid_id
        self.presence.arrive(kid.kid_id, TRANSPORT, sid)
        await self.enter_room(sid, kid_room(kid.kid_id))
        kid_id = kid.kid_id
        self.fanout.add_socket(sid, KID_NAMESPACE, watches=lambda: self.classroom.car_of(kid_id))
        asyncio.get_running_loop().create_task(self._welcome(sid, kid))

    async def _welcome(self, sid: str, kid: Kid) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECTED_WAIT_S
        while not self.server.manager.is_connected(sid, KID_NAMESPACE):
            if loop.time() > deadline or sid not in self.kid_of:
                return
            await asyncio.sleep(0.001)
        await self.emit("level", level_payload(kid.level), to=sid)
        await self.emit("car_status", self._car_status(kid.kid_id), to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        kid_id = self.kid_of.pop(sid, None)
        if kid_id is None:
            return
        self.fanout.remove((sid, KID_NAMESPACE))
        if self.presence.leave(kid_id, TRANSPORT, sid):  # the kid's last /kid socket
            await self.classroom.kid_left(kid_id)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Route events ourselves so unknown events and wrong argument counts get an error reply."""
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, data = args[0], args[1:]
        kid_id = self.kid_of.get(sid)
        if kid_id is None:
            return error_reply(ErrorInfo(rule="not_connected", message="connect with a kid token first",
                                         fix="join the class again"))
        if event not in KNOWN_EVENTS:
            self.bad_messages += 1
            return error_reply(ErrorInfo(rule="unknown_event", value=str(event)[:40],
                                         message=f"there is no event called {str(event)[:40]!r}",
                                         fix=f"send one of: {', '.join(KNOWN_EVENTS)}"))
        if len(data) > 1:
            self.bad_messages += 1
            return error_reply(ErrorInfo(rule="one_argument", value=len(data),
                                         message=f"{event} takes one object, got {len(data)} arguments",
                                         fix=f"send {event} with a single object"))
        payload = data[0] if data else {}
        try:
            return await getattr(self, f"_{event}")(kid_id, payload)
        except AuthError as exc:
            return error_reply(info_of(exc))
        except Exception:  # never let one message take the connection down; the log has the details
            log.exception("kid event %s failed", event)
            return error_reply(ErrorInfo(rule="server_error", message=f"the server could not do {event}",
                                         fix="try again; tell the teacher if it keeps happening"))

    # --- events -------------------------------------------------------------------------

    def _parse(self, model: type[BaseModel], what: str, payload: Any, limit: int) -> BaseModel | ErrorInfo:
        try:
            size = json_size(payload)
        except RecursionError:
            self.bad_messages += 1
            return too_deep(what)
        if size > limit:
            self.bad_messages += 1
            return too_big(what, size, limit)
        if payload is None:
            payload = {}
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            self.bad_messages += 1
            return error_info_from_validation(exc, what)

    async def _block(self, kid_id: str, payload: Any) -> dict[str, Any]:
        call = self._parse(BlockCall, "block", payload, MAX_BLOCK_MESSAGE_BYTES)
        if isinstance(call, ErrorInfo):
            ref = payload.get("ref") if isinstance(payload, dict) and isinstance(payload.get("ref"), (str, int)) else None
            reply = BlockReply(status="refused", kid_text="Something in that block looks wrong.",
                               detail=f"{call.rule}: {call.message}; fix: {call.fix}", rule=call.rule, error=call,
                               block=str(payload.get("block", ""))[:40] if isinstance(payload, dict) else "",
                               ref=ref if not isinstance(ref, str) or len(ref) <= 64 else None)
            return self.classroom.refuse_block(kid_id, reply).wire()  # pays the rate limit, reported per second
        assert isinstance(call, BlockCall)
        reply = await self.classroom.run_block(kid_id, call.block, dict(call.args), source=call.source, ref=call.ref,
                                               run_id=call.run_id)
        return reply.wire()

    async def _stop(self, kid_id: str, payload: Any) -> dict[str, Any]:
        # stop is honoured even when its payload is malformed: safety first, the error second
        call = self._parse(StopCall, "stop", payload if isinstance(payload, dict) else {}, MAX_BLOCK_MESSAGE_BYTES)
        reason = call.reason if isinstance(call, StopCall) else "stop"
        await self.classroom.stop_kid(kid_id, reason)
        return {"status": "done", "kid_text": "Stopped."}

    async def _run_start(self, kid_id: str, payload: Any) -> dict[str, Any]:
        start = self._parse(RunStart, "run_start", payload, MAX_PROGRAM_BYTES)
        if isinstance(start, ErrorInfo):
            return error_reply(start)
        assert isinstance(start, RunStart)
        try:
            run = await self.classroom.start_run(kid_id, start.source, start.program, start.lesson_id)
        except Refusal as r:
            return {"status": "refused", "kid_text": r.kid_text, "detail": r.detail, "rule": r.rule}
        return {"status": "ok", "run_id": run.run_id}

    async def _run_end(self, kid_id: str, payload: Any) -> dict[str, Any]:
        end = self._parse(RunEnd, "run_end", payload, MAX_BLOCK_MESSAGE_BYTES)
        if isinstance(end, ErrorInfo):
            return error_reply(end)
        assert isinstance(end, RunEnd)
        run = self.classroom.run(end.run_id)
        if run is None or run.kid_id != kid_id:
            return error_reply(ErrorInfo(rule="run_id", value=end.run_id, message=f"no run {end.run_id} of yours",
                                         fix="send the run_id that run_start gave you"))
        await self.classroom.end_run(end.run_id, end.reason)
        return {"status": "ok", "run_id": end.run_id}

    # --- pushes -------------------------------------------------------------------------

    def _car_status(self, kid_id: str) -> dict[str, Any]:
        cars = self.classroom.cars_for_kid(kid_id)
        status, position = self.classroom.dispatcher.kid_status(kid_id, cars[0].car_id if cars else None)
        return {"cars": [c.as_dict() for c in cars], "car_id": cars[0].car_id if cars else None,
                "connected": bool(cars and cars[0].connected), "status": status, "queue_position": position}

    async def _on_skills_changed(self, name: str) -> None:
        """A learned skill was promoted or rolled back: the editors reload their skill menus."""
        for kid_id in self.presence.kids_on(TRANSPORT):
            await self.emit("skills", {"name": name}, room=kid_room(kid_id))

    async def _on_level_changed(self, kid_id: str, level: int) -> None:
        if self.presence.on(kid_id, TRANSPORT):
            await self.emit("level", level_payload(level), room=kid_room(kid_id))

    async def _on_car_changed(self, car_id: str) -> None:
        for kid_id in self.classroom.storage.kids_of_car(car_id):
            if self.presence.on(kid_id, TRANSPORT):
                await self.emit("car_status", self._car_status(kid_id), room=kid_room(kid_id))

    async def _on_assignment_changed(self, car_id: str, kid_ids: list[str]) -> None:
        """Only the car's kids hear it (its kid list and shared flag changed); a kid who left the car hears
        car_changed (below). A join on car-1 is no news to the kids of car-2."""
        for kid_id in kid_ids:
            if self.presence.on(kid_id, TRANSPORT):
                await self.emit("car_status", self._car_status(kid_id), room=kid_room(kid_id))

    async def _on_kids_car_changed(self, kid_id: str, old: str | None, new: str | None) -> None:
        """The teacher gave the kid another car (or none): editors switch to it and say so."""
        if self.presence.on(kid_id, TRANSPORT):
            await self.emit("car_changed", {"car_id": new, "previous": old, "kid_text": car_change_text(old, new)},
                            room=kid_room(kid_id))
            await self.emit("car_status", self._car_status(kid_id), room=kid_room(kid_id))

    async def _on_kid_removed(self, kid: Kid) -> None:
        """The teacher took the kid out of the class: their sockets are told why, then closed."""
        sids = [sid for sid, k in self.kid_of.items() if k == kid.kid_id]
        if sids:
            await self.emit("removed", {"kid_text": REMOVED_KID_TEXT}, room=kid_room(kid.kid_id))
        for sid in sids:
            await self.disconnect(sid)

    async def _on_safety(self, car_id: str, event: Any) -> None:
        data = {"car_id": car_id, **event.model_dump(mode="json")}
        for kid_id in self.classroom.storage.kids_of_car(car_id):
            if self.presence.on(kid_id, TRANSPORT):
                await self.emit("safety", data, room=kid_room(kid_id))

    async def _on_arena_changed(self, car_id: str) -> None:
        for kid_id in self.classroom.storage.kids_of_car(car_id):
            if self.presence.on(kid_id, TRANSPORT):
                await self.emit("arena", {"car_id": car_id}, room=kid_room(kid_id))

    async def _on_attempt_graded(self, kid_id: str, feedback: dict[str, Any]) -> None:
        """A graded attempt (or a teacher's override): the feedback card, on every connection of the kid."""
        await self.emit("feedback", feedback, room=kid_room(kid_id))


KID_HUB: web.AppKey[KidHub] = web.AppKey("kid_hub", KidHub)


def setup(app: web.Application) -> None:
    hub = KidHub(app[CLASSROOM], app[FANOUT])
    app[SIO].register_namespace(hub)
    app[KID_HUB] = hub
