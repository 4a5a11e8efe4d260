"""The kid-facing Python SDK: one ``Car`` per program, every move waits until the car has finished.

    import dojo
    car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Mia")
    car.forward(30)
    car.turn_left(90)
    print(car.x, car.y, car.heading, car.distance())

Each command is a *block call* on the classroom's ``/kid`` socket.io namespace (``block`` event,
acknowledged with a BlockReply once the car is done), the same path Scratch and Blockly take, so the
server's catalog and curriculum gate decide for all three. Argument ranges come from the server's
``/api/catalog`` (fetched once at connect, never copied here), so a bad value raises ``ValueError``
at the kid's own line, before anything moves; the server checks again and stays the authority. A block
the catalog has and this file does not (a new row) is still a method: ``car.<its SDK name>(...)``.
"""

from __future__ import annotations

import atexit
import itertools
import math
import re
import sys
import threading
import time
from typing import Any, Callable

import socketio

from dojo.errors import ArgumentError, CarError, ConnectionError, DojoError, Refused, Stopped
from dojo.events import HandlerThread, ObstacleWatcher
from dojo.http import get_json, join, unreachable

CONNECT_TIMEOUT_S = 5.0  # socket.io handshake; a classroom LAN answers in milliseconds
BLOCK_REPLY_TIMEOUT_S = 180.0  # the server answers every block (its longest skill limit is 120 s + queue);
#                               this only catches a server that went silent while the socket stayed up
STOP_ACK_TIMEOUT_S = 2.0  # stop skips every queue; if it is not acknowledged in 2 s the link is gone
FIRST_TELEMETRY_WAIT_S = 2.0  # cars send telemetry at 20 Hz; 2 s without any means the car is not there
FRESH_TELEMETRY_WAIT_S = 0.25  # after a move, wait for one telemetry newer than its reply (20 Hz = 50 ms)
WAIT_SLICE_S = 0.1  # waits wake this often so Ctrl-C is handled promptly everywhere
RUN_CALL_TIMEOUT_S = 5.0  # run_start/run_end are answered at once; 5 s means the server is not there
MAX_PROGRAM_CHARS = 256 * 1024  # a kid's script is a few KB; a bigger file is not sent as the program

KID_NAMESPACE = "/kid"


def connect(server: str = "http://127.0.0.1:8080", class_code: str | None = None, name: str | None = None,
            *, token: str | None = None, block_timeout: float = BLOCK_REPLY_TIMEOUT_S, narrate: bool = True) -> "Car":
    """Join the class (class code + first name) and connect to your car. Returns a :class:`Car`.

    narrate: print one line for each thing the car did ("car-1: move forward 100 cm - done"), so a
    program run in a terminal shows what happens; ``narrate=False`` keeps it quiet."""
    server = server.rstrip("/")
    if token is None:
        joined = join(server, class_code, name, "dojo.connect", 'dojo.connect(URL, class_code="DEMO", name="Mia")')
        token = joined["token"]
    else:
        joined = {}
    car = Car(server, token, joined, block_timeout=block_timeout, narrate=narrate)
    car._open()
    return car


class _Param:
    """One argument's rule as the server's catalog states it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = spec["name"]
        self.kind = spec.get("kind", "number")
        self.minimum, self.maximum = spec.get("min"), spec.get("max")
        self.unit = spec.get("unit", "")
        self.options = tuple(spec.get("options") or ())
        self.default = spec.get("default")

    def check(self, block_id: str, value: Any) -> Any:
        if self.kind == "menu":
            if self.options and value not in self.options:
                raise ArgumentError(f"{self.name}_choice", value,
                                    f"{self.name} must be one of {', '.join(self.options)} (got {value!r})",
                                    f"pick one of: {', '.join(self.options)}")
            return value
        value = _number(self.name, value, self.default)
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            unit = f" {self.unit}" if self.unit else ""
            raise ArgumentError(f"{self.name}_range", value,
                                f"{self.name} must be between {low:g} and {high:g}{unit} (got {value:g})",
                                f"try a {self.name} from {low:g} to {high:g}")
        return value


def _not_negative(name: str, value: Any, other_way: str) -> None:
    """A negative move is a mix-up of direction, not of size: say which call goes the other way."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ArgumentError(f"{name}_not_negative", value, f"{name} must be 0 or more (got {value:g})",
                            f"to go the other way, write {other_way}({-value:g})")


def _number(name: str, value: Any, example: Any = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ArgumentError(f"{name}_number", value, f"{name} must be a number (got {value!r})",
                            f"write a number like {example if example is not None else 20}")
    return float(value)


class Car:
    """Your car in the classroom. Moves wait until the car has finished; reporters read live telemetry."""

    def __init__(self, server: str, token: str, joined: dict[str, Any], *, block_timeout: float,
                 narrate: bool = False) -> None:
        self.server = server
        self.token = token
        self.name: str = joined.get("name", "")
        self.kid_id: str = joined.get("kid_id", "")
        self.car_id: str | None = joined.get("car_id")
        self.level: int | None = joined.get("level")
        self.block_timeout = block_timeout
        self.narrate = narrate
        self._texts: dict[str, str] = {}  # block id -> its kid text ("move forward [distance] cm"), for narration
        self._speed: float | None = None
        self._params: dict[str, dict[str, _Param]] = {}
        self._blocks: dict[str, dict[str, Any]] = {}  # SDK method name -> {block, form, doc} from the catalog
        self._refs = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # telemetry, replies and the link state
        self._telemetry: dict[str, Any] | None = None
        self._telemetry_count = 0
        self._last_reply_at_count = 0
        self._lost: DojoError | None = None
        self._closed = False
        self._obstacle_watchers: list[ObstacleWatcher] = []
        self._handlers = HandlerThread()
        self.sio = socketio.Client(reconnection=False, handle_sigint=False)
        self.sio.on("telemetry", self._on_telemetry, namespace=KID_NAMESPACE)
        self.sio.on("level", self._on_level, namespace=KID_NAMESPACE)
        self.sio.on("car_status", self._on_car_status, namespace=KID_NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=KID_NAMESPACE)
        self.sio.on("connect_error", self._on_connect_error, namespace=KID_NAMESPACE)
        self._connect_error: Any = None
        self._run_id: str | None = None

    # --- connection ---------------------------------------------------------------------------

    def _open(self) -> None:
        self._load_catalog()
        try:
            self.sio.connect(self.server, namespaces=[KID_NAMESPACE], auth={"token": self.token},
                             transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S)
        except socketio.exceptions.ConnectionError as exc:
            reason = self._connect_error
            if reason:  # the server refused us (bad or old token): its reason is the kid text
                text = reason.get("message", str(reason)) if isinstance(reason, dict) else str(reason)
                raise Refused(text, detail=str(reason), status="refused") from None
            raise unreachable(self.server, exc) from None
        atexit.register(self._at_exit)
        self._start_run()
        self._say(f"{self.name or 'You'} drive{'s' if self.name else ''} {self.car_id or 'no car yet'}. "
                  "Press Ctrl+C to stop the car.")

    def _start_run(self) -> None:
        """This program is one run (on a picked lesson: a graded attempt, like a Blockly or Scratch run)."""
        reply = self._send("run_start", {"source": "python", "program": _program_source()}, RUN_CALL_TIMEOUT_S,
                           what="run_start")
        if reply.get("status") == "refused":
            self.close()
            raise Refused(reply.get("kid_text") or "This program can't run here yet.", reply.get("detail", ""),
                          status="refused", reply=reply)
        self._run_id = reply.get("run_id")
        with self._lock:  # a lesson puts the car at its start now: the first reading must come after that
            self._last_reply_at_count = self._telemetry_count

    def _end_run(self, reason: str) -> None:
        run_id, self._run_id = self._run_id, None
        if run_id and self.sio.connected:
            try:
                self.sio.call("run_end", {"run_id": run_id, "reason": reason}, namespace=KID_NAMESPACE,
                              timeout=RUN_CALL_TIMEOUT_S)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
                pass  # the server ends a kid's runs when the kid goes away anyway

    def _load_catalog(self) -> None:
        """Argument rules from the catalog at the top level, where every range is the block's own.

        What a lower level does not allow yet (a locked block, a speed over the level's cap) is the
        server's gate's call and comes back as ``Refused`` with a kid sentence; here we only catch
        what is wrong at every level (a negative distance, a skill that does not exist, a string).
        """
        data = get_json(self.server, "/api/catalog")
        top = max((lv.get("level", 0) for lv in data.get("levels", [])), default=data.get("level", 1))
        if top != data.get("level"):
            data = get_json(self.server, f"/api/catalog?level={top}")
        self._use_catalog(data)

    def _use_catalog(self, data: dict[str, Any]) -> None:
        """Argument rules and the catalog's SDK spellings (GET /api/catalog's answer)."""
        self._params = {spec["id"]: {p["name"]: _Param(p) for p in spec.get("params", [])}
                        for spec in data.get("blocks", [])}
        self._blocks = {form["name"]: {"block": spec["id"], "form": form, "doc": spec.get("doc", "")}
                        for spec in data.get("blocks", []) for form in spec.get("sdk", []) if form.get("style") == "call"}
        self._texts = {spec["id"]: spec.get("text", spec["id"]) for spec in data.get("blocks", [])
                       if spec.get("kind") in ("command", "setting")}  # reporters ask, they do not drive

    def close(self, reason: str = "finished") -> None:
        """Disconnect (the server stops your car when you leave)."""
        if not self._closed:
            self._end_run(reason)
        with self._lock:
            self._closed = True
        atexit.unregister(self._at_exit)
        self._handlers.close()
        if self.sio.connected:
            self.sio.disconnect()

    def __enter__(self) -> "Car":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is not None and self.sio.connected:
                self.stop()
        finally:
            self.close("finished" if exc[0] is None else "error")

    def _at_exit(self) -> None:
        # The program ended (or Ctrl-C escaped): never leave a car driving for a program that is gone.
        if not self._closed and self.sio.connected:
            try:
                self.stop()
            except DojoError:
                pass
        self.close()

    def _on_disconnect(self, *args: Any) -> None:
        with self._changed:
            if self._lost is None and not self._closed:
                self._lost = ConnectionError(
                    "I lost the connection to the classroom — run your program again.",
                    detail=f"/kid socket disconnected ({args[0] if args else 'no reason given'})")
            self._changed.notify_all()

    def _on_connect_error(self, data: Any = None) -> None:
        self._connect_error = data

    # --- telemetry and reporters ---------------------------------------------------------------

    def _on_telemetry(self, data: dict[str, Any]) -> None:
        with self._changed:
            self._telemetry = data
            self._telemetry_count += 1
            self._changed.notify_all()
        distance = data.get("distance_cm")
        for watcher in self._obstacle_watchers:
            if watcher.update(distance):
                self._handlers.submit(watcher.handler)

    def _on_level(self, data: Any) -> None:
        level = data.get("level") if isinstance(data, dict) else data
        if isinstance(level, int):
            self.level = level

    def _on_car_status(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("car_id"):
            self.car_id = data["car_id"]

    def _fresh_telemetry(self) -> dict[str, Any]:
        """The latest telemetry, and after a move one that arrived after its reply (never a stale pose)."""
        with self._changed:
            deadline = time.monotonic() + FIRST_TELEMETRY_WAIT_S
            while self._telemetry is None:
                self._raise_if_lost()
                if not self._changed.wait(min(WAIT_SLICE_S, max(0.0, deadline - time.monotonic()))) \
                        and time.monotonic() >= deadline:
                    raise CarError("I can't see where your car is yet — is it switched on?",
                                   detail=f"no telemetry for {FIRST_TELEMETRY_WAIT_S} s on /kid (car {self.car_id})")
            deadline = time.monotonic() + FRESH_TELEMETRY_WAIT_S
            while self._telemetry_count <= self._last_reply_at_count and time.monotonic() < deadline:
                self._changed.wait(min(WAIT_SLICE_S, max(0.0, deadline - time.monotonic())))
            return self._telemetry

    @property
    def x(self) -> float:
        """Where the car is: centimetres from the arena's left edge."""
        return round(float(self._fresh_telemetry()["pose"]["x_cm"]), 1)

    @property
    def y(self) -> float:
        """Where the car is: centimetres from the arena's bottom edge."""
        return round(float(self._fresh_telemetry()["pose"]["y_cm"]), 1)

    @property
    def heading(self) -> float:
        """Which way the car points, in degrees: 0 is along x, 90 along y (turning left adds)."""
        return round(float(self._fresh_telemetry()["pose"]["heading_deg"]), 1)

    def distance(self) -> float:
        """How far the sensor sees ahead, in cm (``math.inf`` when nothing is in range)."""
        value = self._fresh_telemetry().get("distance_cm")
        return math.inf if value is None else round(float(value), 1)

    @property
    def telemetry(self) -> dict[str, Any] | None:
        """The newest raw telemetry message (pose, speed, safety state...), or None before the first."""
        return self._telemetry

    # --- moves ---------------------------------------------------------------------------------

    def forward(self, distance: float) -> None:
        """Drive straight ahead ``distance`` centimetres."""
        _not_negative("distance", distance, "car.backward")
        self._block("move_forward", distance=distance)

    def backward(self, distance: float) -> None:
        """Drive straight back ``distance`` centimetres."""
        _not_negative("distance", distance, "car.forward")
        self._block("move_backward", distance=distance)

    def turn_left(self, degrees: float = 90) -> None:
        """Turn left (counter-clockwise) by ``degrees``."""
        _not_negative("degrees", degrees, "car.turn_right")
        self._block("turn", direction="left", degrees=degrees)

    def turn_right(self, degrees: float = 90) -> None:
        """Turn right (clockwise) by ``degrees``."""
        _not_negative("degrees", degrees, "car.turn_left")
        self._block("turn", direction="right", degrees=degrees)

    def drive(self, speed: float, seconds: float) -> None:
        """Drive straight at ``speed`` percent for ``seconds`` seconds."""
        self._block("drive_for", speed=speed, seconds=seconds)

    def go_to(self, x: float, y: float) -> None:
        """Drive to the point (x, y) in the arena, in centimetres."""
        self._block("go_to", x=x, y=y)

    def do(self, skill: str) -> None:
        """Do a trick the car knows: "slalom", "figure_eight", "parallel_park", "donut", "drift", or one the
        class taught it (a learned skill such as "mia_park", once the teacher's Skills page shows it promoted)."""
        if not isinstance(skill, str):
            raise ArgumentError("skill_name", skill, f"skill must be a name in quotes (got {skill!r})",
                                'write car.do("slalom")')
        self._block("do_skill", skill=skill)

    @property
    def speed(self) -> float | None:
        """The speed (percent) later moves use; None until you set one (the level's normal speed)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        self._block("set_speed", speed=value)
        self._speed = float(value)

    def stop(self) -> None:
        """Stop the car at once. Never waits in a queue, never refused; a running move ends as Stopped."""
        self._raise_if_lost()
        self._send("stop", {}, STOP_ACK_TIMEOUT_S, what="stop")

    def on_obstacle(self, distance: float = 20) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
        """Decorator: run the function once each time something comes closer than ``distance`` cm.

        It fires again only after the obstacle has gone back beyond ``distance`` + 5 cm. Handlers run
        one at a time on their own thread, so they may call moves while the main program waits.
        """
        threshold = _number("distance", distance, 20)
        rule = self._params.get("when_obstacle", {}).get("distance")
        if rule is not None:
            threshold = rule.check("when_obstacle", threshold)

        def register(handler: Callable[[], Any]) -> Callable[[], Any]:
            self._obstacle_watchers.append(ObstacleWatcher(threshold, handler))
            return handler

        return register

    # --- the block call ------------------------------------------------------------------------

    def _block(self, block_id: str, **args: Any) -> dict[str, Any]:
        rules = self._params.get(block_id)
        if rules:
            args = {name: (rules[name].check(block_id, value) if name in rules else value) for name, value in args.items()}
        else:  # catalog without this block (old server): check types only, the server checks ranges
            args = {k: (v if isinstance(v, str) else _number(k, v)) for k, v in args.items()}
        args = {k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in args.items()}
        call = {"block": block_id, "args": args, "ref": f"py-{next(self._refs)}", "source": "python"}
        if self._run_id:
            call["run_id"] = self._run_id
        reply = self._send("block", call, self.block_timeout, what=block_id)
        with self._lock:
            self._last_reply_at_count = self._telemetry_count
        status = reply.get("status")
        if status == "done":
            self._narrate(block_id, args, reply)
            return reply
        kid = reply.get("kid_text") or f"The car could not do {block_id} ({status})."
        detail = reply.get("detail", "")
        if status == "refused":
            raise Refused(kid, detail, status=status, reply=reply)
        if status == "cancelled":
            raise Stopped(kid, detail, status=status, reply=reply)
        raise CarError(kid, detail, status=status or "failed", reply=reply)

    def _say(self, text: str) -> None:
        if self.narrate:
            print(text, flush=True)

    def _narrate(self, block_id: str, args: dict[str, Any], reply: dict[str, Any]) -> None:
        """One line per finished block, in the words of the block ("car-1: turn left 90 degrees - done")."""
        if not self.narrate or block_id not in self._texts:
            return
        words = re.sub(r"\[(\w+)\]", lambda m: f"{args.get(m.group(1), '')}", self._texts[block_id])
        note = f" ({reply['kid_text']})" if reply.get("rule") and reply.get("kid_text") else ""
        self._say(f"{self.car_id or 'car'}: {words} - done{note}")

    def _raise_if_lost(self) -> None:
        if self._lost is not None:
            raise self._lost
        if self._closed:
            raise ConnectionError("This car is disconnected — call dojo.connect again.", detail="Car.close() was called")

    def _send(self, event: str, payload: dict[str, Any], timeout_s: float, *, what: str) -> dict[str, Any]:
        """Emit with an ack and wait for it, waking on a lost link and on Ctrl-C (which stops the car).

        python-socketio's own call() would sit out its whole timeout after a disconnect; this wait
        ends as soon as the link drops.
        """
        self._raise_if_lost()
        box: dict[str, Any] = {}

        def on_ack(*data: Any) -> None:
            with self._changed:
                box["reply"] = data[0] if data else {}
                self._changed.notify_all()

        try:
            self.sio.emit(event, payload, namespace=KID_NAMESPACE, callback=on_ack)
        except socketio.exceptions.SocketIOError as exc:
            raise ConnectionError("I lost the connection to the classroom — run your program again.",
                                  detail=f"emit {event}: {exc}") from None
        deadline = time.monotonic() + timeout_s
        try:
            with self._changed:
                while "reply" not in box:
                    self._raise_if_lost()
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise CarError("The classroom did not answer in time — try again.",
                                       detail=f"no reply to {what} within {timeout_s:g} s", status="timed_out")
                    self._changed.wait(min(WAIT_SLICE_S, left))
        except KeyboardInterrupt:
            if event != "stop" and self._lost is None and self.sio.connected:
                try:
                    self.sio.emit("stop", {}, namespace=KID_NAMESPACE)
                except socketio.exceptions.SocketIOError:
                    pass  # link already gone: the server stops the car of a kid who disconnects
            raise
        reply = box["reply"]
        return reply if isinstance(reply, dict) else {"status": "done", "value": reply}

    def plan(self, sentence: str) -> str:
        """Tell the car: your sentence as a program in your level's blocks, as Python text to read (dojo.plan)."""
        from dojo.tell import plan_with_token  # the sentence API lives with dojo.plan

        return plan_with_token(self.server, self.token, sentence)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """A block of the classroom's catalog that this file has no method of its own for (a block added
        after this SDK was written): ``car.spin(2)`` sends that block call, like the methods above."""
        known = self.__dict__.get("_blocks", {})
        if name.startswith("_") or name not in known:
            raise AttributeError(f"a dojo Car has no {name!r}" + (f" — it knows: {', '.join(sorted(known))}" if known else ""))
        block_id, form = known[name]["block"], known[name]["form"]

        def send(*args: Any) -> Any:
            if len(args) != len(form["args"]):
                raise ArgumentError(f"{name}_arguments", args, f"car.{name} takes {len(form['args'])} value(s): "
                                    f"{', '.join(form['args']) or 'none'} (got {len(args)})",
                                    f"write car.{name}({', '.join(form['args'])})")
            return self._block(block_id, **form.get("fixed", {}), **dict(zip(form["args"], args))).get("value")

        send.__name__, send.__doc__ = name, known[name]["doc"]
        return send

    def __repr__(self) -> str:
        return f"<dojo.Car {self.car_id or '?'} of {self.name or '?'} at {self.server}>"


def _program_source() -> str | None:
    """The kid's script as text (the judge reads Python programs), or None in a Python prompt."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path or not str(path).endswith(".py"):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_PROGRAM_CHARS + 1)
    except OSError:
        return None
    return text if len(text) <= MAX_PROGRAM_CHARS else None
