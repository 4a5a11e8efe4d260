"""SIGTERM drains a real `dojo server` process (server/ops/drain.py), seen by real socket.io clients.

A `dojo server` process, a simulated car process, a kid on /kid. The kid's long move is running when
the server gets SIGTERM. Promises: /api/health says 503 draining at once; a new socket.io session, a
new block and a new run (green flag) are refused (`server_draining`) while the move goes on; the move's final answer reaches the
kid (`done`: the drain let it finish); the kid's and the car's connections are then closed at the
transport (the kid's client, with reconnection on, tries to come back: it would land on another process
behind the balancer); the process exits 0 within the drain bound. A second test: a move longer than the
bound is stopped at the bound and still answered (`cancelled`), and the process still exits 0.
"""

from __future__ import annotations

import base64
import json
import signal
import threading
import time

import pytest
import requests
import socketio
import websocket

from demo_harness import wait_until
from ops_processes import ServerFleet, base_config

pytestmark = pytest.mark.timeout(120)

HTTP_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
EXIT_MARGIN_S = 6.0  # after the bound: stopping cars (stop grace 1 s), closing sockets (2 s), the runner's cleanup


def join(base: str, name: str) -> dict:
    resp = requests.post(f"{base}/api/join", json={"class_code": "DEMO", "name": name}, timeout=HTTP_TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    return resp.json()


def kid_client(base: str, token: str, **kwargs) -> socketio.Client:
    sio = socketio.Client(**kwargs)
    sio.connect(base, namespaces=["/kid"], auth={"token": token}, transports=["websocket"],
                wait_timeout=CONNECT_TIMEOUT_S)
    return sio


def start_class(fleet: ServerFleet, tmp_path, drain_timeout_s: float):
    server = fleet.server(base_config(tmp_path / "data", ops={"drain_timeout_s": drain_timeout_s}))
    fleet.car(server.base_url, "car-1")
    wait_until(lambda: requests.get(f"{server.base_url}/api/health", timeout=HTTP_TIMEOUT_S).json()["cars_connected"],
               30, "car-1 connected")
    kid = join(server.base_url, "Mia")
    assert kid["car_id"] == "car-1"
    return server, kid


def call_in_thread(sio: socketio.Client, block: dict) -> tuple[threading.Thread, list]:
    answer: list = []
    worker = threading.Thread(target=lambda: answer.append(sio.call("block", block, namespace="/kid", timeout=60)))
    worker.start()
    return worker, answer


def test_sigterm_mid_block_the_kid_gets_its_answer_health_says_draining_and_the_process_exits_0(tmp_path):
    bound_s = 20.0
    with ServerFleet(tmp_path) as fleet:
        server, kid = start_class(fleet, tmp_path, bound_s)
        base = server.base_url
        telemetry: list[float] = []
        transport_closed, reasons = threading.Event(), []
        sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5)
        sio.on("telemetry", lambda t: telemetry.append(t["pose"]["x_cm"]), namespace="/kid")
        sio.on("disconnect", lambda *reason: (reasons.append(reason), transport_closed.set()), namespace="/kid")
        sio.connect(base, namespaces=["/kid"], auth={"token": kid["token"]}, transports=["websocket"],
                    wait_timeout=CONNECT_TIMEOUT_S)
        try:
            wait_until(lambda: telemetry, 10, "telemetry from car-1")
            start_x = telemetry[-1]
            worker, answer = call_in_thread(sio, {"block": "move_forward", "args": {"distance": 100}})
            wait_until(lambda: telemetry[-1] - start_x > 10, 15, "the car driving the block")

            t_term = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            health = wait_until(lambda: _health_if_draining(base), 5, "/api/health answering 503 draining")
            assert health == {**health, "ok": False, "status": "draining", "kids_online": 1, "cars_connected": 1}

            # no new work: a new socket.io session is refused with 503, a new block with server_draining
            with pytest.raises(socketio.exceptions.ConnectionError):
                kid_client(base, kid["token"], reconnection=False)
            other = requests.get(f"{base}/socket.io/?EIO=4&transport=polling", timeout=HTTP_TIMEOUT_S)
            assert other.status_code == 503 and other.json()["error"]["rule"] == "server_draining"
            refused = sio.call("block", {"block": "turn", "args": {"direction": "left", "degrees": 90}},
                               namespace="/kid", timeout=10)
            assert (refused["status"], refused["rule"]) == ("refused", "server_draining"), refused
            assert refused["kid_text"]
            run = sio.call("run_start", {"source": "other", "program": None}, namespace="/kid", timeout=10)
            assert (run["status"], run["rule"]) == ("refused", "server_draining"), run
            assert not answer, "the running move was not cut short by the drain"

            worker.join(40)
            assert answer and answer[0]["status"] == "done", answer
            assert telemetry[-1] - start_x == pytest.approx(100, abs=8)
            assert transport_closed.wait(10), "the kid's connection was closed after the drain"
            # closed at the transport, not with a server "disconnect": the client dials again by itself
            assert reasons and reasons[0] and reasons[0][0] != socketio.Client.reason.SERVER_DISCONNECT, reasons
            wait_until(lambda: sio._reconnect_task is not None, 5, "the kid's client dialling again")
            server.process.wait(bound_s + EXIT_MARGIN_S)
            took = time.monotonic() - t_term
            assert server.process.returncode == 0, server.output[-3000:]
            assert took < bound_s + EXIT_MARGIN_S
            assert "drained in" in server.output and "1 block(s) finished, 0 stopped" in server.output, server.output
        finally:
            sio.reconnection = False
            sio.disconnect()


def test_a_block_longer_than_the_bound_is_stopped_and_still_answered(tmp_path):
    bound_s = 1.0
    with ServerFleet(tmp_path) as fleet:
        server, kid = start_class(fleet, tmp_path, bound_s)
        sio = kid_client(server.base_url, kid["token"], reconnection=False)
        try:
            worker, answer = call_in_thread(sio, {"block": "move_forward", "args": {"distance": 200}})
            wait_until(lambda: requests.get(f"{server.base_url}/metrics", timeout=HTTP_TIMEOUT_S).text.count(
                "dojo_requests_pending 1"), 10, "the move running on car-1")
            t_term = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            worker.join(30)
            assert answer and answer[0]["status"] == "cancelled", answer
            assert time.monotonic() - t_term < bound_s + EXIT_MARGIN_S
            server.process.wait(bound_s + EXIT_MARGIN_S)
            assert server.process.returncode == 0, server.output[-3000:]
            assert "0 block(s) finished, 1 stopped" in server.output, server.output
        finally:
            sio.disconnect()


def _health_if_draining(base: str) -> dict | None:
    resp = requests.get(f"{base}/api/health", timeout=HTTP_TIMEOUT_S)
    return resp.json() if resp.status_code == 503 else None


def test_a_scratch_link_socket_is_told_server_moving_and_closed_with_1012(tmp_path):
    """Scratch's socket is not socket.io: its own drain step tells the extension to connect to the same car
    again (scratch_extension/mikrodojo.js `server_moving`), then closes with 1012 "service restart"."""
    with ServerFleet(tmp_path) as fleet:
        server, kid = start_class(fleet, tmp_path, 5.0)
        ble = websocket.create_connection(f"ws://127.0.0.1:{server.port}/scratch/ble?token={kid['token']}",
                                          origin=server.base_url, timeout=10)
        try:
            rpc(ble, 1, "discover", {"filters": [{"services": ["mikrodojo"]}]})
            rpc(ble, 2, "connect", {"peripheralId": "car-1"})
            rpc(ble, 3, "startNotifications", {"serviceId": "mikrodojo", "characteristicId": "mikrodojo_events"})
            t_term = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            events, close_code = [], None
            while close_code is None:
                opcode, data = ble.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    close_code = int.from_bytes(data[:2], "big")
                elif opcode == websocket.ABNF.OPCODE_TEXT:
                    msg = json.loads(data)
                    if msg.get("method") == "characteristicDidChange":
                        events.append(json.loads(base64.b64decode(msg["params"]["message"])))
            moving = [e for e in events if e["type"] == "server_moving"]
            assert moving and moving[0]["car_id"] == "car-1" and moving[0]["kid_text"], events
            assert close_code == 1012
            server.process.wait(10)
            assert server.process.returncode == 0, server.output[-3000:]
            assert time.monotonic() - t_term < 4.0, "nothing ran: the drain and the exit take a moment, not seconds"
        finally:
            ble.close()


def rpc(ws: websocket.WebSocket, id_: int, method: str, params: dict) -> None:
    ws.send(json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}))
    while True:
        msg = json.loads(ws.recv())
        if msg.get("id") == id_:
            assert "error" not in msg, msg
            return
