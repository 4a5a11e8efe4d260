"""A 1 s server stall does not fail the running block (issue 17, finding 6).

A real `dojo demo` (server process + simulated car process), a real kid socket.io client. While the car
drives the kid's block, the server process is frozen with SIGSTOP for 1 s (a stalled event loop: no
heartbeats, nothing answered), then SIGCONT. The car stops by itself within the watchdog window (its
safety promise), waits, and goes on when the server is back: the block ends `done`, the car covers the
whole distance and never jumps back. Before the fix the block came back `failed` (link_lost): the car
gave up at the watchdog, and after 1 s of silence it also dropped and re-dialled the link, whereupon the
server sent it back to its start pose.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from demo_harness import BLOCK_TIMEOUT_S, connect_kid_socket, join_kid_http, start_demo, wait_until

STALL_S = 1.0
DISTANCE_CM = 120
JUMP_CM = 15.0  # more than one telemetry period of motion at level-1 speed

pytestmark = pytest.mark.timeout(180)


def test_a_one_second_server_stall_does_not_fail_the_running_block(tmp_path):
    with start_demo(tmp_path / "demo", cars=1) as demo:
        kid = join_kid_http(demo, "Mia")
        poses: list[tuple[float, float]] = []
        sio = connect_kid_socket(demo, kid["token"], {"telemetry": lambda t: poses.append(
            (time.monotonic(), t["pose"]["x_cm"]))})
        try:
            wait_until(lambda: poses, 10, "telemetry from the car")
            start_x = poses[-1][1]
            reply: list[dict] = []
            worker = threading.Thread(target=lambda: reply.append(sio.call(
                "block", {"block": "move_forward", "args": {"distance": DISTANCE_CM}}, namespace="/kid",
                timeout=BLOCK_TIMEOUT_S)))
            worker.start()
            wait_until(lambda: poses[-1][1] - start_x > 15, 10, "the car driving the block")
            os.kill(demo.process.pid, signal.SIGSTOP)
            try:
                time.sleep(STALL_S)
            finally:
                os.kill(demo.process.pid, signal.SIGCONT)
            worker.join(BLOCK_TIMEOUT_S)
            assert reply and reply[0]["status"] == "done", reply
            time.sleep(0.3)  # the last telemetry
            xs = [x for _, x in poses]
            assert all(b >= a - JUMP_CM for a, b in zip(xs, xs[1:])), "the car never jumped back"
            assert abs((xs[-1] - start_x) - DISTANCE_CM) < 8, (start_x, xs[-1])
        finally:
            sio.disconnect()
