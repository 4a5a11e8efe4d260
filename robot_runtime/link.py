"""The car's link to the classroom server: python-socketio AsyncClient on the `/car` namespace.

- connects with ``auth=CarHello`` (car id + pairing token); a refusal is fatal and explained
  (:class:`AuthRefused`) — except ``car_in_use`` (the server still hears this car's own old connection,
  or another program with its token), which is retried with backoff like an unreachable server; an unreachable server is retried with exponential backoff; a server that refuses
  this car's protocol version (an older server) is asked again in protocol 1, and the telemetry then
  leaves out what protocol 1 does not have;
- server events (skill, cancel, stop, estop, reset_estop, limits, heartbeat, arena, neighbours, steer,
  install_skill) go to the CarRuntime handlers, whose return value is the ack;
- telemetry goes out at TELEMETRY_HZ (the newest sample; stale ones are dropped, never queued);
- results go out through an outbox with an acknowledged ``call``: a result produced while the link is
  down is sent after reconnecting (the server ignores results of requests it already failed), so
  every accepted request gets its one answer whenever the server can still use it;
- a link that stays connected but goes silent (no heartbeat for LINK_SILENT_S) is dropped and
  re-established; the car itself was already stopped by the watchdog after WATCHDOG_S.

The link runs on the asyncio thread; the control loop ticks on its own thread (loop.py), so results and
telemetry arrive from there and are handed to the event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from typing import Any

import socketio

from robot_runtime.clock import Clock
from robot_runtime.protocol import CAR_NAMESPACE, V2_TELEMETRY_FIELDS, WATCHDOG_S, CarHello, SkillResult, Telemetry
from robot_runtime.runtime import CarRuntime

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0  # loopback/LAN handshake takes milliseconds; 5 s means nobody is there
REQUEST_TIMEOUT_S = 5.0  # engine.io HTTP requests (the websocket upgrade) on a LAN
RECONNECT_FIRST_S = 0.2  # first retry quickly: a server restart takes about a second
RECONNECT_MAX_S = 5.0  # never wait longer than this: a class should not wait for its cars
RECONNECT_FACTOR = 2.0  # double the wait after each failed attempt
RECONNECT_JITTER = 0.2  # +-20 %: 30 cars do not all knock at the same instant after a server restart
STABLE_LINK_S = 5.0  # a connection that lasted this long was healthy: the next drop starts the backoff over
RESULT_ACK_TIMEOUT_S = 2.0  # the server acks a result at once; 2 s means the link is broken
RESULT_RETRY_S = 0.5  # wait between result delivery attempts while connected
RESULT_KEEP = 200  # results kept for delivery; older ones are dropped (the server failed them long ago)
TELEMETRY_SEND_TIMEOUT_S = 1.0  # one telemetry emit; a stuck send is abandoned, the next sample follows
# connected but no heartbeat this long: reconnect. Longer than a server stall of a second or two (GC, a
# busy laptop), which the watchdog rides out with the car stopped (executor.LINK_PAUSE_MAX_S); far
# shorter than socket.io's ping timeout (8 s) for a half-open connection.
LINK_SILENT_S = 3.0
DISCONNECT_TIMEOUT_S = 2.0  # closing the socket on shutdown
MAX_MERGED_EVENTS = 50  # safety events carried over from unsent telemetry (the flight recorder keeps all)


CAR_IN_USE = "car_in_use"  # the server's rule for "this car is connected and alive already" (server/cars/hub.py)


class AuthRefused(ConnectionRefusedError):
    """The server answered and refused this car (wrong token, wrong protocol, bad hello).

    `info` is the server's ErrorInfo as a dict (rule, message, value, fix) when it sent one."""

    def __init__(self, message: str, info: dict | None = None) -> None:
        super().__init__(message)
        self.info = info or {}


class CarLink:
    def __init__(
        self,
        runtime: CarRuntime,
        server_url: str,
        token: str,
        clock: Clock,
        *,
        kind: str = "sim",
        skills: list[str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.runtime = runtime
        # "URL" or "URL,URL,...": the processes of one classroom service (docs/cluster.md); when the one
        # the car is on goes away, the car dials the next
        self.server_urls = [u.strip() for u in server_url.split(",") if u.strip()] or [server_url]
        self._url = 0
        self.hello = CarHello(car_id=runtime.config.car_id, token=token, kind=kind, skills=skills or [])
        self.clock = clock
        self.rng = rng or random.Random()
        self.sio: socketio.AsyncClient | None = None
        self.connected = asyncio.Event()
        self._closing = False
        self._outbox: deque[SkillResult] = deque(maxlen=RESULT_KEEP)
        self._outbox_ready = asyncio.Event()
        self._telemetry: Telemetry | None = None
        self._telemetry_ready = asyncio.Event()
        self._last_heartbeat = 0.0
        self.connects = 0
        self.results_delivered = 0
        self.refusal: dict | None = None
        self._up = False
        self._aloop: asyncio.AbstractEventLoop | None = _running_loop()
        runtime.result_sinks.append(lambda result: self._on_link_thread(self._queue_result, result))
        runtime.telemetry_sinks.append(lambda telem: self._on_link_thread(self._queue_telemetry, telem))

    # --- outgoing ------------------------------------------------------------------------------------

    def _on_link_thread(self, fn, arg) -> None:
        """Run fn(arg) on the link's event loop (the control loop calls the sinks from its own thread)."""
        aloop = self._aloop
        if aloop is None or _running_loop() is aloop:
            fn(arg)
            return
        try:
            aloop.call_soon_threadsafe(fn, arg)
        except RuntimeError:  # the event loop is closed: the car is shutting down
            pass

    def _queue_result(self, result: SkillResult) -> None:
        self._outbox.append(result)
        self._outbox_ready.set()

    def _queue_telemetry(self, telem: Telemetry) -> None:
        if self._telemetry is not None and self._telemetry.safety_events:
            # An unsent sample's events ride along with the newer one instead of being lost.
            merged = [*self._telemetry.safety_events, *telem.safety_events][-MAX_MERGED_EVENTS:]
            telem = telem.model_copy(update={"safety_events": merged})
        self._telemetry = telem
        self._telemetry_ready.set()

    @property
    def server_url(self) -> str:
        return self.server_urls[self._url]

    def _next_server(self) -> bool:
        """Dial the next server URL; True when a whole round of them has been tried (time to back off)."""
        self._url = (self._url + 1) % len(self.server_urls)
        return self._url == 0

    @property
    def pending_results(self) -> int:
        return len(self._outbox)

    # --- the connection --------------------------------------------------------------------------------

    def _new_client(self) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False, request_timeout=REQUEST_TIMEOUT_S)
        rt = self.runtime
        ns = CAR_NAMESPACE
        handlers = {
            "skill": rt.handle_skill, "cancel": rt.handle_cancel, "stop": rt.handle_stop, "estop": rt.handle_estop,
            "reset_estop": rt.handle_reset_estop, "limits": rt.handle_limits, "arena": rt.handle_arena,
            "neighbours": rt.handle_neighbours,
            "steer": rt.handle_steer, "install_skill": rt.handle_install_skill,
        }
        for event, fn in handlers.items():
            sio.on(event, self._safe(event, fn), namespace=ns)

        async def on_heartbeat(data: Any = None) -> None:
            self._last_heartbeat = self.clock.now()
            rt.handle_heartbeat(data)

        async def on_connect() -> None:
            self.connects += 1
            self._up = True
            self._last_heartbeat = self.clock.now()
            rt.handle_heartbeat(None)  # the server just answered: the link is alive now
            self.connected.set()
            self._outbox_ready.set()
            rt.link_up()

        async def on_disconnect(reason: Any = None) -> None:
            if self.sio is not None and self.sio is not sio:
                return  # a late goodbye from an old socket must not take down the new one
            self._link_down(str(reason))

        async def on_connect_error(data: Any = None, *more: Any) -> None:
            self.refusal = refusal_info(data)

        sio.on("heartbeat", on_heartbeat, namespace=ns)
        sio.on("connect", on_connect, namespace=ns)
        sio.on("disconnect", on_disconnect, namespace=ns)
        sio.on("connect_error", on_connect_error, namespace=ns)
        return sio

    def _link_down(self, reason: str) -> None:
        self.connected.clear()
        if self._up:
            self._up = False
            self.runtime.link_down(reason)

    async def _connect_once(self) -> None:
        self.refusal = None
        sio = self._new_client()
        self.sio = sio  # set first: on_connect may wake the senders before connect() returns
        try:
            await asyncio.wait_for(
                sio.connect(self.server_url, auth=self.hello.model_dump(mode="json"), namespaces=[CAR_NAMESPACE],
                            transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S),
                CONNECT_TIMEOUT_S + 1.0,
            )
        except (socketio.exceptions.ConnectionError, asyncio.TimeoutError, OSError) as exc:
            refused = CAR_NAMESPACE in sio.failed_namespaces  # the server answered with a refusal
            self.sio = None
            await _quiet_disconnect(sio)
            if refused:
                info = self.refusal or {"message": "no reason given"}
                raise AuthRefused(
                    f"the server at {self.server_url} refused {self.hello.car_id}: {info.get('message', 'no reason given')}"
                    + (f" — {info['fix']}" if info.get("fix") else " — check the car id and its token (DOJO_CAR_TOKEN or --token-file)"),
                    info,
                ) from None
            raise ConnectionError(f"cannot reach {self.server_url}: {exc}") from None

    async def run(self) -> None:
        """Stay connected until close(): reconnect with backoff; raise AuthRefused if refused."""
        self._aloop = asyncio.get_running_loop()
        delay = RECONNECT_FIRST_S
        senders = [asyncio.create_task(self._send_telemetry()), asyncio.create_task(self._send_results())]
        try:
            while not self._closing:
                try:
                    await self._connect_once()
                except ConnectionError as exc:
                    if isinstance(exc, AuthRefused) and exc.info.get("rule") == "protocol_version" \
                            and self.hello.protocol > 1:  # an older server: speak protocol 1 with it
                        log.info("%s: asking again in protocol 1", exc)
                        self.runtime.note("protocol_fallback", refused=self.hello.protocol, to=1)
                        self.hello = self.hello.model_copy(update={"protocol": 1})
                        continue
                    if isinstance(exc, AuthRefused) and exc.info.get("rule") != CAR_IN_USE:
                        raise
                    # car_in_use: the server still hears our own old connection (we restarted or lost the link
                    # before it noticed); it gives way once that one is silent, so we try again with backoff
                    # several server URLs: the next one at once; once every one was tried, back off
                    back_off = isinstance(exc, AuthRefused) or self._next_server()
                    wait = delay * (1.0 + self.rng.uniform(-RECONNECT_JITTER, RECONNECT_JITTER)) if back_off else 0.0
                    log.info("%s; retrying %s in %.2f s", exc, self.server_url, wait)
                    self.runtime.note("connect_failed", error=str(exc), retry_s=round(wait, 3))
                    if back_off:
                        await self.clock.sleep(wait)
                        delay = min(RECONNECT_MAX_S, delay * RECONNECT_FACTOR)
                    continue
                connected_at = self.clock.now()
                await self._watch_connection()
                if self._closing:
                    break
                # Dropped: wait before dialling again. A link that held for STABLE_LINK_S starts the
                # backoff over; one that keeps dropping at once (a server kicking us) backs off further.
                if self.clock.now() - connected_at >= STABLE_LINK_S:
                    delay = RECONNECT_FIRST_S
                wait = delay * (1.0 + self.rng.uniform(-RECONNECT_JITTER, RECONNECT_JITTER))
                self.runtime.note("reconnecting", retry_s=round(wait, 3))
                await self.clock.sleep(wait)
                delay = min(RECONNECT_MAX_S, delay * RECONNECT_FACTOR)
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)

    async def _watch_connection(self) -> None:
        """Return when the connection is gone (dropped, or silent for LINK_SILENT_S)."""
        sio = self.sio
        while not self._closing and sio is not None and sio.connected:
            if self.clock.now() - self._last_heartbeat > LINK_SILENT_S:
                log.warning("no heartbeat for %.1f s: reconnecting", self.clock.now() - self._last_heartbeat)
                self.runtime.note("link_silent", silent_s=round(self.clock.now() - self._last_heartbeat, 3))
                break
            await self.clock.sleep(WATCHDOG_S / 3)
        if sio is not None:
            self.connected.clear()
            await _quiet_disconnect(sio)
            if self.sio is sio:
                self.sio = None
            self._link_down("connection lost")

    async def close(self, flush_timeout_s: float = DISCONNECT_TIMEOUT_S) -> None:
        """Deliver pending results (bounded wait), then disconnect."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + flush_timeout_s
        while self._outbox and self.connected.is_set() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self._closing = True
        if self.sio is not None:
            await _quiet_disconnect(self.sio)

    def _safe(self, event: str, fn):
        async def handler(data: Any = None) -> Any:
            # Any message from the server proves the link is alive, like a heartbeat does.
            self._last_heartbeat = self.clock.now()
            self.runtime.handle_heartbeat(None)
            try:
                return fn(data)
            except Exception as exc:  # a handler bug answers with an error; the car keeps running
                log.exception("handling %s failed", event)
                return {"ok": False, "error": {"rule": "car_error", "message": f"{event}: {exc!r}", "value": None,
                                               "fix": "report this bug with the car's flight-recorder log"}}

        return handler

    # --- senders -------------------------------------------------------------------------------------

    async def _send_telemetry(self) -> None:
        while True:
            await self._telemetry_ready.wait()
            self._telemetry_ready.clear()
            telem, self._telemetry = self._telemetry, None
            sio = self.sio
            if telem is None or sio is None or not self.connected.is_set():
                continue
            wire = telem.model_dump(mode="json", by_alias=True,
                                    exclude=V2_TELEMETRY_FIELDS if self.hello.protocol < 2 else None)
            try:
                await asyncio.wait_for(sio.emit("telemetry", wire, namespace=CAR_NAMESPACE), TELEMETRY_SEND_TIMEOUT_S)
            except (socketio.exceptions.SocketIOError, asyncio.TimeoutError, OSError) as exc:
                log.debug("telemetry not sent: %r", exc)

    async def _send_results(self) -> None:
        while True:
            await self._outbox_ready.wait()
            while self._outbox:
                await self.connected.wait()
                sio = self.sio
                if sio is None:
                    await asyncio.sleep(RESULT_RETRY_S)
                    continue
                result = self._outbox[0]
                try:
                    await sio.call("result", result.model_dump(mode="json"), namespace=CAR_NAMESPACE,
                                   timeout=RESULT_ACK_TIMEOUT_S)
                except (socketio.exceptions.SocketIOError, asyncio.TimeoutError, OSError) as exc:
                    log.info("result %s not delivered yet: %r", result.request_id, exc)
                    await asyncio.sleep(RESULT_RETRY_S)
                    continue
                if self._outbox and self._outbox[0] is result:
                    self._outbox.popleft()
                self.results_delivered += 1
            self._outbox_ready.clear()




def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def refusal_info(data: Any) -> dict:
    """The server's reason from a socket.io CONNECT_ERROR payload.

    python-socketio turns ``ConnectionRefusedError(text, info)`` into ``{"message": text, "data": info}``
    (the exception's first argument becomes the message as a string, the second arrives intact), so the
    server raises it with the ErrorInfo dict second. A refusal without one keeps its message.
    """
    if not isinstance(data, dict):
        return {"message": "no reason given" if data is None else str(data)}
    info = data.get("data")
    if isinstance(info, dict):
        return {**info, "message": info.get("message") or data.get("message") or "no reason given"}
    msg = data.get("message")
    return {"message": str(msg) if msg is not None else "no reason given"}


async def _quiet_disconnect(sio: socketio.AsyncClient) -> None:
    try:
        await asyncio.wait_for(sio.disconnect(), DISCONNECT_TIMEOUT_S)
    except Exception:  # already gone: nothing to close
        pass
