"""The Scratch Link protocol state machine on its own: any input gives a Request or a JSON-RPC error.

Properties (hypothesis) over arbitrary frames and params: nothing but RpcError ever escapes, every
error carries a code Scratch knows and a `data` text, and no bad message moves the session's state.
"""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from server.scratch.protocol import (
    ERROR_MESSAGES, SERVICE_UUID, LinkSession, Peripheral, Request, RpcError, State, canonical_uuid, parse_message,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
METHOD_CALLS = ("discover", "connect", "write", "read", "start_notifications", "stop_notifications")


def connected_session() -> LinkSession:
    session = LinkSession()
    session.discover(Request("discover", {"filters": [{"services": ["mikrodojo"]}]}, 0))
    assert session.found(Peripheral("car-1", "car-1 (simulated)", -15))
    session.connect(Request("connect", {"peripheralId": "car-1"}, 1))
    return session


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_any_frame_parses_to_a_request_or_a_jsonrpc_error(text: str) -> None:
    try:
        parse_message(text)
    except RpcError as exc:
        assert exc.code in ERROR_MESSAGES and exc.data


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(METHOD_CALLS), st.dictionaries(st.sampled_from(
    ["filters", "optionalServices", "peripheralId", "serviceId", "characteristicId", "message", "encoding"]),
    json_values, max_size=6), st.booleans())
def test_any_params_give_a_result_or_a_jsonrpc_error_and_bad_ones_leave_the_state_alone(
        method: str, params: dict, connected: bool) -> None:
    session = connected_session() if connected else LinkSession()
    before = (session.state, session.peripheral_id, dict(session.discovered), session.notifying)
    try:
        getattr(session, method)(Request(method, params, 7))
    except RpcError as exc:
        assert exc.code in ERROR_MESSAGES and exc.data and exc.request_id == 7
        assert (session.state, session.peripheral_id, dict(session.discovered), session.notifying) == before


@given(st.integers(0, 0xFFFFFFFF))
def test_numeric_ids_become_bluetooth_base_uuids(number: int) -> None:
    uuid = canonical_uuid(number)
    assert uuid == f"{number:08x}-0000-1000-8000-00805f9b34fb"
    assert canonical_uuid(uuid.upper()) == uuid


def test_a_write_decodes_one_block_call_and_reports_its_size() -> None:
    session = connected_session()
    raw = json.dumps({"block": "turn", "args": {"direction": "left", "degrees": 90}, "ref": 3}).encode()
    call = session.write(Request("write", {"serviceId": 0xD0D0, "characteristicId": "mikrodojo_block",
                                           "message": base64.b64encode(raw).decode()}, 2))
    assert (call.block, call.args, call.ref, call.size) == ("turn", {"direction": "left", "degrees": 90}, 3, len(raw))
    assert session.state is State.CONNECTED


def test_events_are_characteristic_did_change_on_the_events_characteristic() -> None:
    note = connected_session().event({"type": "result", "ref": 1, "status": "done"})
    assert note["method"] == "characteristicDidChange" and "id" not in note
    assert note["params"]["serviceId"] == SERVICE_UUID
    assert json.loads(base64.b64decode(note["params"]["message"])) == {"type": "result", "ref": 1, "status": "done"}
