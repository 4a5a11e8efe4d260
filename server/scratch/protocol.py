"""The Scratch Link BLE protocol as a small state machine, with no I/O.

Scratch Link speaks JSON-RPC 2.0 over a WebSocket; one socket is one peripheral session that moves
``initial -> discovery -> connected``. This module parses and validates every message, keeps the
state, canonicalises service/characteristic ids, and builds replies and notifications. The aiohttp
glue (`server.scratch.link`) does the rest: who the kid is, which cars they may drive, and the calls
into the classroom.

Our peripheral (a car the kid may drive) has one GATT-like service with two characteristics:

    service  mikrodojo        0000d0d0-0000-1000-8000-00805f9b34fb   (integer 53456)
      block  mikrodojo_block  0000d0d1-...  write: one block call as JSON, e.g.
                                            {"block": "move_forward", "args": {"distance": 30}, "ref": "7"},
                                            or a run: {"run": "start", "program": <project>} / {"run": "end"}
      events mikrodojo_events 0000d0d2-...  notify/read: JSON payloads, multiplexed by "type":
                                            result (the block's one final answer, refusals included),
                                            run (started with its run_id, refused, ended),
                                            telemetry (pose, distance, speed), level, car_lost,
                                            car_changed, server_moving

Refusals travel INSIDE successful notification payloads: scratch-vm's BLE class drops the connection
on any JSON-RPC error reply to write/read/startNotifications, and a refusal is not a broken link.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from server.core.types import MAX_BLOCK_MESSAGE_BYTES, MAX_PROGRAM_BYTES

PROTOCOL_VERSION = "1.2"  # what Scratch Link 2 reports; scratch-vm does not check it

# JSON-RPC 2.0 error codes (the ones Scratch Link uses).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
APPLICATION_ERROR = -32500
ERROR_MESSAGES = {
    PARSE_ERROR: "Parse Error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method Not Found",
    INVALID_PARAMS: "Invalid Params",
    APPLICATION_ERROR: "Application Error",
}

MAX_BLOCK_CALL_BYTES = MAX_BLOCK_MESSAGE_BYTES  # one block call as JSON is ~100 bytes (as on the /kid socket)
MAX_PAYLOAD_BYTES = MAX_PROGRAM_BYTES  # a run start carries the project's blocks (as on the /kid socket)
MAX_MESSAGE_BYTES = MAX_PAYLOAD_BYTES * 4 // 3 + 4096  # that payload in base64, plus the JSON-RPC envelope

BLUETOOTH_BASE_UUID = "-0000-1000-8000-00805f9b34fb"


def short_uuid(number: int) -> str:
    """A 16/32-bit Bluetooth id -> its 128-bit form on the Bluetooth base UUID."""
    return f"{number:08x}{BLUETOOTH_BASE_UUID}"


SERVICE_UUID = short_uuid(0xD0D0)
BLOCK_CHAR_UUID = short_uuid(0xD0D1)
EVENTS_CHAR_UUID = short_uuid(0xD0D2)

# Names a client may use instead of numbers: ours, and a few standard GATT names so that a filter
# written for another device fails with "this car has no such service" rather than "unknown name".
UUID_NAMES = {
    "mikrodojo": SERVICE_UUID,
    "mikrodojo_block": BLOCK_CHAR_UUID,
    "mikrodojo_events": EVENTS_CHAR_UUID,
    "generic_access": short_uuid(0x1800),
    "generic_attribute": short_uuid(0x1801),
    "device_information": short_uuid(0x180A),
    "battery_service": short_uuid(0x180F),
    "heart_rate": short_uuid(0x180D),
}
CHARACTERISTICS = {BLOCK_CHAR_UUID: "write", EVENTS_CHAR_UUID: "notify"}
_UUID_RE = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")

FILTER_KEYS = {"name", "namePrefix", "services", "manufacturerData"}


class State(Enum):
    INITIAL = "initial"
    DISCOVERY = "discovery"
    CONNECTED = "connected"


class RpcError(Exception):
    """A JSON-RPC error reply; ``data`` names the rule, the value and the fix."""

    def __init__(self, code: int, data: str, request_id: Any = None) -> None:
        super().__init__(f"{ERROR_MESSAGES[code]}: {data}")
        self.code, self.data, self.request_id = code, data, request_id

    def reply(self) -> dict[str, Any]:
        return error_reply(self.request_id, self.code, self.data)


def error_reply(request_id: Any, code: int, data: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id,
            "error": {"code": code, "message": ERROR_MESSAGES[code], "data": data}}


def result_reply(request_id: Any, result: Any) -> dict[str, Any]:
    # A void success still carries the "result" key (null): clients check for it.
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any]
    id: Any = None  # None: a notification (no reply)
    is_notification: bool = False


def parse_message(text: str | bytes) -> Request | None:
    """One WebSocket frame -> a Request, or None for a client's reply to us (nothing to answer).

    Raises RpcError (Parse Error / Invalid Request) with the request id when it could be read.
    """
    if len(text) > MAX_MESSAGE_BYTES:
        raise RpcError(INVALID_REQUEST, f"message is {len(text)} bytes; the limit is {MAX_MESSAGE_BYTES}: "
                                        "send one JSON-RPC request per message")
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RpcError(PARSE_ERROR, f"message is not JSON ({exc}): send a JSON-RPC 2.0 object") from None
    except RecursionError:  # thousands of nested [ or {
        raise RpcError(PARSE_ERROR, "message is nested too deeply to read: send a JSON-RPC 2.0 object whose "
                                    "params are a few levels deep") from None
    if isinstance(obj, list):
        raise RpcError(INVALID_REQUEST, "batch requests are not supported (got a JSON array): "
                                        "send one request object per message")
    if not isinstance(obj, dict):
        raise RpcError(INVALID_REQUEST, f"a request must be a JSON object (got {type(obj).__name__})")
    request_id = obj.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (int, str))):
        raise RpcError(INVALID_REQUEST, f"id must be a number or a string (got {request_id!r})")
    if obj.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, f'jsonrpc must be "2.0" (got {obj.get("jsonrpc")!r}): add "jsonrpc": "2.0"',
                       request_id)
    if "method" not in obj:
        if "result" in obj or "error" in obj:
            return None  # the client answering one of our calls; we make none that need an answer
        raise RpcError(INVALID_REQUEST, 'a request needs a "method" (e.g. "discover")', request_id)
    method = obj["method"]
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, f"method must be a non-empty string (got {method!r})", request_id)
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, f"params must be an object (got {type(params).__name__}): "
                                       'send named params like {"peripheralId": "car-1"}', request_id)
    return Request(method, params, request_id, is_notification="id" not in obj)


def canonical_uuid(value: Any, what: str = "serviceId") -> str:
    """Integer, name or UUID -> lower-case 128-bit UUID. Raises ValueError naming the value and the fix."""
    if isinstance(value, bool):
        pass  # a bool is an int in Python, never an id
    elif isinstance(value, int):
        if 0 <= value <= 0xFFFFFFFF:
            return short_uuid(value)
        raise ValueError(f"{what} {value} is out of range: a numeric id is a 16- or 32-bit number "
                         f"(0..4294967295), e.g. {int(SERVICE_UUID[:8], 16)}")
    elif isinstance(value, str):
        text = value.strip()
        m = _UUID_RE.match(text)
        if m:
            return m.group(1).lower()
        if text.lower() in UUID_NAMES:
            return UUID_NAMES[text.lower()]
        raise ValueError(f"{what} {value!r} is not a UUID, a number or a known name: "
                         f"use {SERVICE_UUID!r}, {int(SERVICE_UUID[:8], 16)} or 'mikrodojo'")
    raise ValueError(f"{what} must be a number, a name or a UUID string (got {type(value).__name__} {value!r})")


def decode_message(params: dict[str, Any]) -> bytes:
    """The ``message`` of a write, by its ``encoding`` (base64 unless told utf8)."""
    message = params.get("message")
    encoding = params.get("encoding", "base64")
    if not isinstance(message, str):
        raise ValueError(f"message must be a string (got {type(message).__name__}): send the bytes base64-encoded")
    if encoding in (None, "base64"):
        try:
            data = base64.b64decode(message, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"message is not valid base64 (got {message[:40]!r}): encode the block call "
                             "JSON with base64 (btoa in JavaScript)") from None
    elif encoding == "utf8":
        data = message.encode()
    else:
        raise ValueError(f'encoding must be "base64" or "utf8" (got {encoding!r})')
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"message is {len(data)} bytes; the limit is {MAX_PAYLOAD_BYTES}: send a smaller program")
    return data


def encode_payload(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


@dataclass(frozen=True)
class Peripheral:
    """A car as Scratch sees it: id, display name and a signal strength (dBm) for the bars."""

    peripheral_id: str
    name: str
    rssi: int

    def matches(self, filters: list[dict[str, Any]]) -> bool:
        """Web Bluetooth rule: any one filter matches when all its parts match."""
        return any(self._matches_one(f) for f in filters)

    def _matches_one(self, f: dict[str, Any]) -> bool:
        if "name" in f and f["name"] != self.name and f["name"] != self.peripheral_id:
            return False
        if "namePrefix" in f and not (self.name.startswith(f["namePrefix"])
                                      or self.peripheral_id.startswith(f["namePrefix"])):
            return False
        if "services" in f and not set(f["services"]) <= {SERVICE_UUID}:
            return False
        return not f.get("manufacturerData")  # our cars advertise no manufacturer data

    def announcement(self) -> dict[str, Any]:
        return {"peripheralId": self.peripheral_id, "name": self.name, "rssi": self.rssi}


@dataclass(frozen=True)
class RunWrite:
    """A write that starts or ends the kid's run (the green flag, the program's end, the stop sign)."""

    action: str  # "start" | "end"
    program: Any
    lesson_id: str | None
    reason: str
    ref: str | int | None
    size: int


@dataclass(frozen=True)
class BlockWrite:
    """A write on the block characteristic, decoded: one block call."""

    block: str
    args: dict[str, Any]
    ref: str | int | None
    size: int  # bytes written, the write's result


@dataclass
class LinkSession:
    """One socket's protocol state. Methods validate params and move the state; they raise RpcError."""

    state: State = State.INITIAL
    filters: list[dict[str, Any]] = field(default_factory=list)
    discovered: dict[str, Peripheral] = field(default_factory=dict)
    peripheral_id: str | None = None
    notifying: bool = False

    # --- discovery ----------------------------------------------------------------------------

    def discover(self, req: Request) -> list[dict[str, Any]]:
        """Validate and keep the filters; returns them canonicalised. Clears earlier discoveries."""
        if self.state is State.CONNECTED:
            raise RpcError(APPLICATION_ERROR, f"already connected to {self.peripheral_id}: discover works before "
                                              "connect; open a new socket to look for other cars", req.id)
        filters = req.params.get("filters")
        if not isinstance(filters, list) or not filters:
            raise RpcError(INVALID_PARAMS, f"discover needs filters, a non-empty list (got {filters!r}): "
                                           'send {"filters": [{"services": ["mikrodojo"]}]}', req.id)
        clean = [self._check_filter(f, i, req.id) for i, f in enumerate(filters)]
        optional = req.params.get("optionalServices", [])
        if not isinstance(optional, list):
            raise RpcError(INVALID_PARAMS, f"optionalServices must be a list (got {optional!r})", req.id)
        for item in optional:
            self._uuid(item, "optionalServices item", req.id)
        self.filters, self.discovered, self.state = clean, {}, State.DISCOVERY
        return clean

    def _check_filter(self, f: Any, index: int, request_id: Any) -> dict[str, Any]:
        where = f"filters[{index}]"
        if not isinstance(f, dict) or not f:
            raise RpcError(INVALID_PARAMS, f"{where} must be a non-empty object (got {f!r}): "
                                           'use {"services": ["mikrodojo"]} or {"namePrefix": "car"}', request_id)
        unknown = set(f) - FILTER_KEYS
        if unknown:
            raise RpcError(INVALID_PARAMS, f"{where} has unknown keys {sorted(unknown)}: a filter may have "
                                           f"{', '.join(sorted(FILTER_KEYS))}", request_id)
        clean: dict[str, Any] = {}
        for key in ("name", "namePrefix"):
            if key in f:
                if not isinstance(f[key], str) or not f[key]:
                    raise RpcError(INVALID_PARAMS, f"{where}.{key} must be a non-empty string (got {f[key]!r})",
                                   request_id)
                clean[key] = f[key]
        if "services" in f:
            if not isinstance(f["services"], list) or not f["services"]:
                raise RpcError(INVALID_PARAMS, f"{where}.services must be a non-empty list (got {f['services']!r})",
                               request_id)
            clean["services"] = [self._uuid(s, f"{where}.services item", request_id) for s in f["services"]]
        if "manufacturerData" in f:
            if not isinstance(f["manufacturerData"], dict):
                raise RpcError(INVALID_PARAMS, f"{where}.manufacturerData must be an object", request_id)
            clean["manufacturerData"] = f["manufacturerData"]
        return clean

    def found(self, peripheral: Peripheral) -> bool:
        """Record a car seen during discovery; True if it matches the filters (announce it)."""
        if self.state is not State.DISCOVERY or not peripheral.matches(self.filters):
            return False
        self.discovered[peripheral.peripheral_id] = peripheral
        return True

    def connect(self, req: Request) -> str:
        peripheral_id = req.params.get("peripheralId")
        if self.state is State.CONNECTED:
            raise RpcError(APPLICATION_ERROR, f"already connected to {self.peripheral_id}: "
                                              "one socket drives one car", req.id)
        if self.state is not State.DISCOVERY:
            raise RpcError(APPLICATION_ERROR, "connect comes after discover: call discover first", req.id)
        if not isinstance(peripheral_id, str) or not peripheral_id:
            raise RpcError(INVALID_PARAMS, f"connect needs peripheralId, a string (got {peripheral_id!r})", req.id)
        if peripheral_id not in self.discovered:
            known = ", ".join(self.discovered) or "none yet"
            raise RpcError(INVALID_PARAMS, f"peripheralId {peripheral_id!r} was not discovered on this socket: "
                                           f"use one of: {known}", req.id)
        self.state, self.peripheral_id = State.CONNECTED, peripheral_id
        return peripheral_id

    # --- connected ----------------------------------------------------------------------------

    def _require_connected(self, req: Request) -> None:
        if self.state is not State.CONNECTED:
            raise RpcError(APPLICATION_ERROR, f"{req.method} needs a connected car (state: {self.state.value}): "
                                              "call discover, then connect {peripheralId}", req.id)

    def _uuid(self, value: Any, what: str, request_id: Any) -> str:
        try:
            return canonical_uuid(value, what)
        except ValueError as exc:
            raise RpcError(INVALID_PARAMS, str(exc), request_id) from None

    def _characteristic(self, req: Request, mode: str) -> tuple[str, str]:
        service = self._uuid(req.params.get("serviceId"), "serviceId", req.id)
        char = self._uuid(req.params.get("characteristicId"), "characteristicId", req.id)
        if service != SERVICE_UUID:
            raise RpcError(APPLICATION_ERROR, f"{self.peripheral_id} has no service {service}: "
                                              f"use {SERVICE_UUID} ('mikrodojo')", req.id)
        if char not in CHARACTERISTICS:
            raise RpcError(APPLICATION_ERROR, f"service mikrodojo has no characteristic {char}: use "
                                              f"{BLOCK_CHAR_UUID} (block, write) or {EVENTS_CHAR_UUID} (events, notify)",
                           req.id)
        if CHARACTERISTICS[char] != mode:
            right = BLOCK_CHAR_UUID if mode == "write" else EVENTS_CHAR_UUID
            raise RpcError(APPLICATION_ERROR, f"characteristic {char} cannot {req.method}: "
                                              f"{req.method} works on {right}", req.id)
        return service, char

    def write(self, req: Request) -> BlockWrite | RunWrite:
        self._require_connected(req)
        self._characteristic(req, "write")
        try:
            data = decode_message(req.params)
        except ValueError as exc:
            raise RpcError(INVALID_PARAMS, str(exc), req.id) from None
        try:
            call = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise RpcError(INVALID_PARAMS, f"the written bytes are not JSON (got {data[:40]!r}): write one block "
                                           'call like {"block": "move_forward", "args": {"distance": 20}}', req.id) from None
        except RecursionError:
            raise RpcError(INVALID_PARAMS, "the written block call is nested too deeply to read: write one block "
                                           'call like {"block": "move_forward", "args": {"distance": 20}}', req.id) from None
        if isinstance(call, dict) and "run" in call:
            return self._run_write(call, len(data), req.id)
        if len(data) > MAX_BLOCK_CALL_BYTES:
            raise RpcError(INVALID_PARAMS, f"a block call is {len(data)} bytes; the limit is {MAX_BLOCK_CALL_BYTES}: "
                                           "send one block call per write", req.id)
        if not isinstance(call, dict) or not isinstance(call.get("block"), str):
            raise RpcError(INVALID_PARAMS, f'a block call needs "block", a string (got {str(call)[:60]!r}): '
                                           'write {"block": "move_forward", "args": {"distance": 20}}', req.id)
        args = call.get("args", {})
        if not isinstance(args, dict):
            raise RpcError(INVALID_PARAMS, f'"args" must be an object (got {args!r}): e.g. {{"distance": 20}}', req.id)
        ref = call.get("ref")
        if ref is not None and (isinstance(ref, bool) or not isinstance(ref, (str, int)) or len(str(ref)) > 64):
            raise RpcError(INVALID_PARAMS, f'"ref" must be a short string or number (got {ref!r})', req.id)
        unknown = set(call) - {"block", "args", "ref"}
        if unknown:
            raise RpcError(INVALID_PARAMS, f"a block call has block, args and ref; remove {sorted(unknown)}", req.id)
        return BlockWrite(call["block"], args, ref, len(data))

    @staticmethod
    def _run_write(call: dict[str, Any], size: int, request_id: Any) -> RunWrite:
        action, ref = call.get("run"), call.get("ref")
        if action not in ("start", "end"):
            raise RpcError(INVALID_PARAMS, f'"run" must be "start" or "end" (got {action!r})', request_id)
        unknown = set(call) - {"run", "program", "lesson_id", "reason", "ref"}
        if unknown:
            raise RpcError(INVALID_PARAMS, f"a run write has run, program, lesson_id, reason and ref; remove "
                                           f"{sorted(unknown)}", request_id)
        lesson_id, reason = call.get("lesson_id"), call.get("reason", "finished")
        if lesson_id is not None and (not isinstance(lesson_id, str) or len(lesson_id) > 64):
            raise RpcError(INVALID_PARAMS, f"lesson_id must be a short string (got {str(lesson_id)[:40]!r})", request_id)
        if not isinstance(reason, str) or len(reason) > 200:
            raise RpcError(INVALID_PARAMS, f"reason must be a short text (got {str(reason)[:40]!r})", request_id)
        if ref is not None and (isinstance(ref, bool) or not isinstance(ref, (str, int)) or len(str(ref)) > 64):
            raise RpcError(INVALID_PARAMS, f'"ref" must be a short string or number (got {ref!r})', request_id)
        return RunWrite(action, call.get("program"), lesson_id, reason, ref, size)

    def read(self, req: Request) -> None:
        self._require_connected(req)
        self._characteristic(req, "notify")
        if req.params.get("startNotifications"):
            self.notifying = True

    def start_notifications(self, req: Request) -> None:
        self._require_connected(req)
        self._characteristic(req, "notify")
        self.notifying = True

    def stop_notifications(self, req: Request) -> None:
        self._require_connected(req)
        self._characteristic(req, "notify")
        self.notifying = False

    def event(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A characteristicDidChange notification carrying one JSON payload on the events characteristic."""
        return notification("characteristicDidChange", {
            "serviceId": SERVICE_UUID, "characteristicId": EVENTS_CHAR_UUID,
            "message": encode_payload(payload), "encoding": "base64"})
