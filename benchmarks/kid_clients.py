"""Kids for the server benchmark: socket.io clients on ``/kid``, several per process (kids sit at their
own computers; one process for 30 kids reading 600 telemetry messages a second would be the bottleneck).

Each kid connects with its auth, reads its car's telemetry all the time (as the SDK and the editors
do), and in the phases it drives sends the `block` event the SDK sends, with a ``ref`` the hop probes
key on, one every CALL_PERIOD_S at most (the next one after the answer).

    python -m benchmarks.kid_clients --url URL --kids FILE
        FILE: JSON [[kid_index, auth], ...]; prints "KIDS READY" once connected, then reads one JSON line
        on stdin, the schedule [[phase, start, end], ...] (time.monotonic(); kid i drives in a phase
        when i < phase), and when it is over prints one JSON line:
        {"calls": [[phase, ref, t_sent, t_reply, request_id], ...], "statuses": {status: n}, "telemetry": n}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import socketio

CALL_PERIOD_S = 0.25  # a kid's program sends at most 4 blocks a second (short moves back and forth)
CONNECT_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 15.0


async def run(url: str, kids: list[tuple[int, dict[str, Any]]]) -> None:
    telemetry = [0]
    clients: dict[int, socketio.AsyncClient] = {}
    for index, auth in kids:
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("telemetry", lambda data: telemetry.__setitem__(0, telemetry[0] + 1), namespace="/kid")
        await sio.connect(url, namespaces=["/kid"], auth=auth, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S)
        clients[index] = sio
    print("KIDS READY", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    schedule = json.loads(line)
    calls: list[list[Any]] = []
    statuses: dict[str, int] = {}
    refs = iter(range(1, 10**9))

    async def kid_loop(i: int, phase: int, start: float, end: float) -> None:
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        forward = True
        while time.monotonic() < end:
            block = "move_forward" if forward else "move_backward"  # back and forth: the car stays in its lane
            forward = not forward
            ref = f"k{i}.{next(refs)}"
            t0 = time.monotonic()
            try:
                reply = await clients[i].call("block", {"block": block, "args": {"distance": 2}, "source": "python",
                                                        "ref": ref}, namespace="/kid", timeout=CALL_TIMEOUT_S)
            except socketio.exceptions.TimeoutError:
                reply = {"status": "no answer"}
            t1 = time.monotonic()
            status = f"{reply.get('status', '?')}" + (f" ({reply['rule']})" if reply.get("rule") else "")
            statuses[status] = statuses.get(status, 0) + 1
            calls.append([phase, ref, t0, t1, reply.get("request_id")])
            await asyncio.sleep(max(0.0, t0 + CALL_PERIOD_S - time.monotonic()))

    await asyncio.gather(*(kid_loop(i, phase, start, end) for phase, start, end in schedule for i in clients if i < phase))
    for sio in clients.values():
        await sio.disconnect()
    print(json.dumps({"calls": calls, "statuses": statuses, "telemetry": telemetry[0]}), flush=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.kid_clients")
    p.add_argument("--url", required=True)
    p.add_argument("--kids", type=Path, required=True, help="JSON [[kid_index, auth], ...] (tokens stay out of argv)")
    args = p.parse_args(argv)
    asyncio.run(run(args.url, [(int(i), auth) for i, auth in json.loads(args.kids.read_text())]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
