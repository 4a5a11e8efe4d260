"""Fuzzing the kid's socket with hypothesis: whatever arrives gets one clear answer, the connection
stays up, and nothing that was refused changes anything (no request reaches the car, level and
speed stay). The server runs in a background thread; the client is a real socket.io client."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import requests
import socketio
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core_harness import RawCar, classroom_server
from curriculum.catalog import BLOCKS
from server.core.config import RateLimits

FINAL = {"done", "refused", "failed", "cancelled", "timed_out", "error"}
CALL_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A real server + a recording car on 127.0.0.1, in a thread with its own event loop."""
    holder: dict = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def main() -> None:
        async with classroom_server(tmp_path_factory.mktemp("fuzz"), extra_cars=["car-1"],
                                    rate_limits=RateLimits(blocks_per_s=1000, burst=10_000)) as srv:
            car = RawCar(srv.url, "car-1", answer=True)
            await car.connect()
            holder.update(srv=srv, car=car, stop=asyncio.Event())
            ready.set()
            await holder["stop"].wait()
            await car.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30), "fuzz server did not start"
    srv = holder["srv"]
    kid = requests.post(f"{srv.url}/api/join", json={"class_code": "TEST", "name": "Fuzzy"}, timeout=5).json()
    sio = socketio.Client(reconnection=False)
    sio.connect(srv.url, namespaces=["/kid"], auth={"token": kid["token"]}, transports=["websocket"], wait_timeout=5)
    yield srv, holder["car"], kid, sio
    sio.disconnect()
    loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(30)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
BLOCK_IDS = [b.id for b in BLOCKS]
PARAM_NAMES = sorted({p.name for b in BLOCKS for p in b.params}) + ["car_id", "kid_id", "speed_pct"]


@st.composite
def block_messages(draw):
    """Mostly almost-right block calls (the interesting edge), some plain garbage."""
    if draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    msg = {"block": draw(st.sampled_from(BLOCK_IDS) | st.text(max_size=45)),
           "args": draw(st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=40),
                                        JSON | st.floats(-1e9, 1e9) | st.sampled_from(["left", "slalom", "donut"]),
                                        max_size=4))}
    if draw(st.booleans()):
        msg[draw(st.sampled_from(["ref", "run_id", "source", "car_id", "level", "token"]))] = draw(JSON)
    return msg


def _state(srv, kid):
    classroom = srv.classroom
    k = classroom.kid(kid["kid_id"])
    return k.level, classroom.speed_of(k), classroom.car_of(k.kid_id)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(message=block_messages())
def test_any_block_message_gets_one_clear_answer_and_refusals_change_nothing(live, message):
    srv, car, kid, sio = live
    before_state, before_skills = _state(srv, kid), len(car.events("skill"))
    reply = sio.call("block", message, namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert isinstance(reply, dict) and reply["status"] in FINAL, reply
    if reply["status"] in ("refused", "error"):
        assert reply["kid_text"] and (reply.get("rule") or reply.get("error", {}).get("rule"))
        assert len(car.events("skill")) == before_skills  # nothing reached the car
        assert _state(srv, kid) == before_state  # level, speed and car unchanged
    assert sio.connected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.text(min_size=1, max_size=30).filter(lambda e: e not in ("block", "stop", "run_start", "run_end")),
       payload=JSON)
def test_unknown_events_get_an_error_naming_the_known_ones(live, event, payload):
    srv, car, kid, sio = live
    before = len(car.events("skill"))
    reply = sio.call(event, payload, namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert reply["status"] == "error" and reply["error"]["rule"] == "unknown_event"
    assert "block" in reply["error"]["fix"] and sio.connected and len(car.events("skill")) == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON)
def test_bad_run_messages_get_errors(live, payload):
    srv, car, kid, sio = live
    runs_before = len(srv.classroom.runs)
    reply = sio.call("run_end", payload, namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert reply["status"] == "error" and reply["error"]["fix"]
    assert len(srv.classroom.runs) == runs_before and sio.connected


def test_oversized_messages_are_refused_unread_and_the_socket_stays_up(live):
    srv, car, kid, sio = live
    before = len(car.events("skill"))
    reply = sio.call("block", {"block": "move_forward", "args": {}, "ref": "x" * 60_000}, namespace="/kid",
                     timeout=CALL_TIMEOUT_S)
    assert reply["error"]["rule"] == "block.size" and "4096" in reply["error"]["message"]
    reply = sio.call("run_start", {"source": "scratch", "program": ["x" * 1000] * 600}, namespace="/kid",
                     timeout=CALL_TIMEOUT_S)
    assert reply["error"]["rule"] == "run_start.size"
    assert sio.connected and len(car.events("skill")) == before
    assert sio.call("block", {"block": "stop"}, namespace="/kid", timeout=CALL_TIMEOUT_S)["status"] == "done"


@pytest.mark.parametrize("frame", [
    '42/kid,7["block",{bad json}]', '42/kid,8{}', '42/kid,9["block",', '42/kid,10[]', '4zzz',
])
def test_malformed_socket_io_frames_get_an_error_and_the_connection_stays_up(live, frame):
    srv, car, kid, sio = live
    ws = websocket.create_connection(srv.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=5)
    try:
        assert ws.recv().startswith("0")
        ws.send('40/kid,{"token":"%s"}' % kid["token"])
        assert ws.recv().startswith("40/kid")
        ws.send(frame)
        ws.send('42/kid,99["block",{"block":"stop"}]')
        answers = []
        while not any(a.startswith("43/kid,99") for a in answers):
            answers.append(ws.recv())
        errors = [a for a in answers if "malformed_packet" in a or "unknown_event" in a]
        assert errors, answers
        payload = json.loads(errors[0][errors[0].index("["):])
        body = payload[-1] if isinstance(payload[-1], dict) else payload[0]
        assert body["status"] == "error" and body["error"]["fix"]
        assert json.loads(answers[-1][len("43/kid,99"):])[0]["status"] == "done"  # still connected, still served
    finally:
        ws.close()
