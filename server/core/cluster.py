"""Cars connected to other server processes: the classroom's side of running several (docs/cluster.md).

Promises (the same as one process gives, DESIGN.md "Skill requests"):
- the process a car is connected to (its *owner*) holds that car's one Dispatcher queue, whoever asks:
  a kid on another process gets one running request per car, the same fair turns and the same checks;
- a request forwarded to the owner gets exactly one final answer: the owner's Outcome, or — when the
  owner stops answering (its liveness key expired: killed, frozen, cut off) — ``failed`` /
  ``car_disconnected``, or ``timed_out`` at the request's own deadline (car ack + skill timeout + result
  margin + REMOTE_SLACK_S); never nothing;
- ``stop``, a teacher's stop and the e-stop are sent at once, never queued behind anything: the owner
  handles them as they arrive, the e-stop goes to every process in one broadcast.

The gate runs where the kid is (their level, rate limit, run); the owner only runs the queue. Messages are
plain JSON dicts (pydantic models dumped and validated again), never pickles. The transport is a
:class:`Peers` (server/cluster implements it on Redis); this module imports no network library.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from robot_runtime.arena import Arena
from robot_runtime.protocol import Pose, SkillRequest
from server.core.dispatch import Outcome, Request

log = logging.getLogger(__name__)

REMOTE_SLACK_S = 2.0  # on top of the owner's own waits: two Redis hops and a busy process, never a lost answer
REMOTE_CONTROL_S = 3.0  # stop_car, reset, set_arena asked of another process: answered in milliseconds or gone
ARENA_REMOTE_S = 4.0  # set_arena waits up to ARENA_IDLE_WAIT_S (1 s) and a car ack (2 s) on the owner


class PeerGone(ConnectionError):
    """The process that holds the car stopped answering (its liveness key expired)."""


class ClusterUnavailable(ConnectionError):
    """Several processes were asked for (redis_url) but cannot work: the message says what to do."""


class Peers(Protocol):
    """The other server processes, as the classroom needs them (server/cluster/peers.py: Redis)."""

    node_id: str

    def owner_of(self, car_id: str) -> str | None:
        """The live process this car is connected to, if it is connected anywhere (this one included)."""

    def cars(self) -> dict[str, str]:
        """car id -> process, for every car connected to a live process."""

    async def ask(self, node: str, op: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """One answer from that process: raises PeerGone when it dies first, TimeoutError at timeout_s."""

    def tell(self, node: str, op: str, body: dict[str, Any]) -> None:
        """Fire and forget, in order with every other message to that process."""

    def tell_all(self, op: str, body: dict[str, Any]) -> None:
        """Every other process, in order with our other messages."""

    async def shout(self, op: str, body: dict[str, Any]) -> None:
        """Every other process, ahead of anything queued: returns once Redis has it (the e-stop)."""

    async def latch(self, car_ids: list[str]) -> None:
        """These cars are e-stopped until the teacher resets them, whichever process they connect to."""

    async def unlatch(self, car_id: str) -> None: ...

    async def latched(self, car_id: str) -> bool: ...


def car_gone(car_id: str, detail: str) -> Outcome:
    """The same answer a car's disconnect gives on its own process (server/core/dispatch.py)."""
    return Outcome("failed", "car_disconnected",
                   f"Your car {car_id} lost its connection — ask your teacher to check it.", detail)


def outcome_wire(outcome: Outcome) -> dict[str, Any]:
    return {"status": outcome.status, "reason": outcome.reason, "kid_text": outcome.kid_text, "detail": outcome.detail,
            "final_pose": outcome.final_pose.model_dump(mode="json") if outcome.final_pose else None,
            "duration_s": outcome.duration_s}


def outcome_from_wire(data: dict[str, Any]) -> Outcome:
    pose = data.get("final_pose")
    return Outcome(str(data["status"]), str(data.get("reason", "")), str(data.get("kid_text", "")),
                   str(data.get("detail", "")), Pose.model_validate(pose) if pose else None,
                   float(data.get("duration_s", 0.0)))


class RemoteCars:
    """Forwards what the classroom asks of a car held elsewhere, and serves what others ask of ours."""

    def __init__(self, classroom: Any, peers: Peers) -> None:  # the Classroom that builds it (no import cycle)
        self.classroom, self.peers = classroom, peers
        self.forwarded = 0  # requests sent to another process (for /api/health and the benchmark)
        self.served = 0  # requests other processes sent here
        self._asked: dict[str, Request] = {}  # request id -> a request another process asked for, until it ends
        self._asker: dict[str, str] = {}  # request id -> that process

    def owner(self, car_id: str) -> str | None:
        """The other process holding this car; None when it is here or nowhere (the local path answers)."""
        if self.classroom.dispatcher.is_connected(car_id):
            return None
        node = self.peers.owner_of(car_id)
        return node if node and node != self.peers.node_id else None

    # --- asking another process -------------------------------------------------------------

    async def submit(self, node: str, request: Request) -> Outcome:
        """The owner queues it like its own kids' requests; its Outcome comes back (or ours, if it dies)."""
        t = self.classroom.config.timeouts
        deadline_s = t.car_ack_s + request.timeout_s + t.result_margin_s + REMOTE_SLACK_S
        body = {"node": self.peers.node_id, "request_id": request.request_id, "kid_id": request.kid_id,
                "car_id": request.car_id,
                "action": request.action.model_dump(mode="json"), "block": request.block, "run_id": request.run_id,
                "timeout_s": request.timeout_s}
        self.forwarded += 1
        try:
            outcome = outcome_from_wire(await self.peers.ask(node, "submit", body, deadline_s))
        except PeerGone as exc:
            outcome = car_gone(request.car_id, f"{request.car_id} was connected to server process {node}, which "
                                               f"stopped answering ({exc}); the car reconnects to another process")
        except TimeoutError:
            outcome = Outcome("timed_out", "timeout", "That took too long, so I stopped waiting.",
                              f"no answer from server process {node} for {request.car_id} within {deadline_s:g} s")
        except Exception as exc:  # the owner could not take it (it says why): still one final answer
            log.warning("request %s forwarded to %s failed: %r", request.request_id, node, exc)
            outcome = Outcome("failed", "cluster_error", "Something went wrong on the way to your car. Try again!",
                              f"server process {node} could not run {request.request_id}: {exc}")
        request.finish(outcome)  # the owner's request log has the row (one row per request, where it ran)
        return outcome

    def stop_kid(self, node: str, kid_id: str, car_id: str, reason: str, kid_text: str, stop_car: str) -> None:
        """stop_car: "yes" (stop the car whoever drives), "if_running" (only if this kid's request runs), "no"."""
        self.peers.tell(node, "stop_kid", {"kid_id": kid_id, "car_id": car_id, "reason": reason, "kid_text": kid_text,
                                           "stop_car": stop_car})

    def cancel_run(self, node: str, kid_id: str, run_id: str, reason: str) -> None:
        self.peers.tell(node, "cancel_run", {"kid_id": kid_id, "run_id": run_id, "reason": reason})

    def stop_car(self, node: str, car_id: str, reason: str) -> None:
        self.peers.tell(node, "stop_car", {"car_id": car_id, "reason": reason})

    async def reset_car(self, node: str, car_id: str) -> None:
        """Answered once the owner has reset it: the teacher's next click finds the car driving again."""
        try:
            await self.peers.ask(node, "reset_car", {"car_id": car_id}, REMOTE_CONTROL_S)
        except (PeerGone, TimeoutError) as exc:  # the car reconnects elsewhere, where nothing is latched any more
            log.warning("reset of %s on process %s not confirmed: %r", car_id, node, exc)

    async def estop_others(self, reason: str, car_ids: list[str] | None = None) -> list[str]:
        """Every other process e-stops its cars now (None: all of them; else these, one teacher's classes);
        returns those cars (the cluster's view of them) once Redis has the message: a block any process
        sends after the teacher's e-stop was answered reaches its car's process after the e-stop."""
        await self.peers.shout("estop", {"reason": reason, "car_ids": car_ids})
        wanted = None if car_ids is None else set(car_ids)
        return sorted(c for c, node in self.peers.cars().items()
                      if node != self.peers.node_id and (wanted is None or c in wanted))

    def presence_changed(self, kid_ids: list[str], online: bool, node: str | None = None) -> None:
        """Kids came online here or left (to one process, or to all); the roster everywhere shows it."""
        body = {"node": self.peers.node_id, "kid_ids": kid_ids, "online": online}
        if node is None:
            self.peers.tell_all("presence", body)
        else:
            self.peers.tell(node, "presence", body)

    def hello(self) -> None:
        """Just started: every other process says who is online on it."""
        self.peers.tell_all("presence_hello", {"node": self.peers.node_id})

    async def heard_elsewhere(self, car_id: str) -> tuple[str, float] | None:
        """(process, seconds since it last heard the car) when another live process holds this car."""
        node = self.owner(car_id)
        if node is None:
            return None
        try:
            reply = await self.peers.ask(node, "car_silent", {"car_id": car_id}, REMOTE_CONTROL_S)
        except (PeerGone, TimeoutError):
            return None  # that process is gone or stuck: the car may connect here
        silent = reply.get("silent_s")
        return (node, float(silent)) if silent is not None else None

    async def set_arena(self, node: str, car_id: str, arena: Arena | None, pose: Pose | None) -> bool:
        body = {"car_id": car_id, "arena": arena.model_dump(mode="json") if arena is not None else None,
                "pose": pose.model_dump(mode="json") if pose is not None else None}
        try:
            reply = await self.peers.ask(node, "set_arena", body, ARENA_REMOTE_S)
        except (PeerGone, TimeoutError) as exc:
            log.warning("arena for %s not set on process %s: %r", car_id, node, exc)
            return False
        return bool(reply.get("ok"))

    def process_gone(self, node: str) -> None:
        """Another process died: its kids' sockets died with it. What they had queued or running on our cars
        stops, as when a kid disconnects here (Classroom.kid_left); their presence goes."""
        self.classroom.presence.process_gone(node)
        orphans = {(r.kid_id, r.car_id) for rid, r in self._asked.items() if self._asker.get(rid) == node}
        for kid_id, car_id in orphans:
            running = self.classroom.dispatcher.kid_status(kid_id, car_id)[0] == "running"
            log.info("server process %s is gone: %s's requests on %s stop", node, kid_id, car_id)
            self.classroom.dispatcher.spawn(self.classroom.dispatcher.stop_kid(
                kid_id, car_id if running else None, f"the kid's server process {node} stopped"))

    # --- serving another process ------------------------------------------------------------

    async def serve(self, op: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """One message from another process. Its queue work happens before the first await, so messages are
        applied in the order they were sent (a stop sent after a block finds the block queued)."""
        c = self.classroom
        if op == "submit":
            wire = SkillRequest.model_validate({"request_id": body["request_id"], "action": body["action"],
                                                "timeout_s": body["timeout_s"]})
            request = Request(wire.request_id, str(body["kid_id"]), str(body["car_id"]), wire.action,
                              str(body.get("block", "")), body.get("run_id"), wire.timeout_s)
            self.served += 1
            self._asked[request.request_id], self._asker[request.request_id] = request, str(body.get("node", ""))
            try:
                return outcome_wire(await c.dispatcher.submit(request))
            finally:
                self._asked.pop(request.request_id, None)
                self._asker.pop(request.request_id, None)
        if op == "stop_kid":
            car_id, kid_id = str(body["car_id"]), str(body["kid_id"])
            mode = body.get("stop_car", "yes")
            running = c.dispatcher.kid_status(kid_id, car_id)[0] == "running"
            stop_it = mode == "yes" or (mode == "if_running" and running)
            await c.dispatcher.stop_kid(kid_id, car_id if stop_it else None, str(body.get("reason", "stop")),
                                        kid_text=str(body.get("kid_text") or "Stopped."))
            return None
        if op == "cancel_run":
            c.dispatcher.cancel_run(str(body["kid_id"]), str(body["run_id"]), str(body.get("reason", "")))
            return None
        if op == "stop_car":
            await c.dispatcher.stop_car(str(body["car_id"]), str(body.get("reason", "teacher stop")))
            return None
        if op == "reset_car":
            await c.reset_car(str(body["car_id"]))
            return None
        if op == "estop":
            car_ids = body.get("car_ids")
            await c.dispatcher.estop([str(x) for x in car_ids] if car_ids is not None else None,
                                     str(body.get("reason", "emergency stop")))
            return None
        if op == "presence":
            c.presence.seen_elsewhere(str(body["node"]), [str(k) for k in body["kid_ids"]], bool(body["online"]))
            return None
        if op == "presence_hello":
            here = c.presence.here()
            if here:
                self.presence_changed(here, True, node=str(body["node"]))
            return None
        if op == "car_silent":
            return {"silent_s": c.cars.silent_s(str(body["car_id"]))}
        if op == "set_arena":
            arena = Arena.model_validate(body["arena"]) if body.get("arena") is not None else None
            pose = Pose.model_validate(body["pose"]) if body.get("pose") is not None else None
            return {"ok": await c.set_arena(str(body["car_id"]), arena, pose)}
        raise ValueError(f"unknown cluster operation {op!r}")
