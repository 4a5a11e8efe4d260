"""The benchmark's BASELINE: a bare python-socketio relay, kid -> server -> car, with no logic.

The same library, transport and namespaces as the classroom server, and the same traffic, minus
everything the classroom adds (validation, gate, queue, storage, events):

- ``/kid`` ``block`` (ack): a request id, ``call("skill")`` to the kid's car, then wait for the car's
  ``result`` and ack the kid with it (as the classroom answers a block with its final outcome);
- ``/car`` ``telemetry``: forwarded to the car's kid and to every ``/teacher`` socket as it comes;
- a heartbeat to every car at HEARTBEAT_HZ; ``POST /estop``: ``call("estop")`` to every car at once.

Kids connect with ``auth={"car": "car-7"}``; cars with the CarHello auth (only ``car_id`` is read).

    python -m benchmarks.sio_relay --port 0 --probe-file OUT.json
        prints "RELAY ON URL"; on stdin EOF writes the hop times and the event-loop probe, then exits
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

from benchmarks.loop_probe import LoopProbe

HEARTBEAT_HZ = 10  # as 1 / robot_runtime.protocol.HEARTBEAT_PERIOD_S
CALL_TIMEOUT_S = 10.0
ESTOP_ACK_S = 2.0  # as the classroom, which re-sends after 100 ms: the relay just waits for the acks


def relay_app(hops: dict[str, dict[str, float]]) -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
    app = web.Application()
    sio.attach(app)
    car_sid: dict[str, str] = {}  # car_id -> sid
    car_of_sid: dict[str, str] = {}
    kid_car: dict[str, str] = {}  # kid sid -> car_id
    kid_of_car: dict[str, str] = {}  # car_id -> kid sid
    results: dict[str, asyncio.Future] = {}
    ids = itertools.count(1)

    @sio.on("connect", namespace="/car")
    async def car_connect(sid: str, environ: dict, auth: Any = None) -> None:
        car_id = auth["car_id"]
        car_sid[car_id], car_of_sid[sid] = sid, car_id

    @sio.on("telemetry", namespace="/car")
    async def telemetry(sid: str, data: Any) -> None:
        kid = kid_of_car.get(car_of_sid.get(sid, ""))
        if kid:
            await sio.emit("telemetry", data, to=kid, namespace="/kid")
        await sio.emit("telemetry", data, room="teachers", namespace="/teacher")

    @sio.on("result", namespace="/car")
    async def result(sid: str, data: Any) -> None:
        fut = results.pop(str(data.get("request_id")), None)
        if fut is not None and not fut.done():
            fut.set_result(data)

    @sio.on("connect", namespace="/kid")
    async def kid_connect(sid: str, environ: dict, auth: Any = None) -> None:
        kid_car[sid] = auth["car"]
        kid_of_car[auth["car"]] = sid

    @sio.on("block", namespace="/kid")
    async def block(sid: str, data: Any) -> Any:
        t_recv = time.monotonic()
        car_id = kid_car[sid]
        request_id = f"{car_id}.{next(ids)}"
        results[request_id] = asyncio.get_running_loop().create_future()
        hops[str(data.get("ref"))] = {"recv": t_recv, "emit": time.monotonic(), "request_id": request_id}  # type: ignore[dict-item]
        ack = await sio.call("skill", {"request_id": request_id, "action": data}, to=car_sid[car_id], namespace="/car",
                             timeout=CALL_TIMEOUT_S)
        if not ack.get("ok"):
            return {"status": "failed", "request_id": request_id, "ref": data.get("ref")}
        res = await asyncio.wait_for(results[request_id], CALL_TIMEOUT_S)
        return {"status": res["status"], "request_id": request_id, "ref": data.get("ref")}

    @sio.on("connect", namespace="/teacher")
    async def teacher_connect(sid: str, environ: dict, auth: Any = None) -> None:
        await sio.enter_room(sid, "teachers", namespace="/teacher")

    async def estop(request: web.Request) -> web.Response:
        await asyncio.gather(*(sio.call("estop", {"reason": "benchmark"}, to=s, namespace="/car", timeout=ESTOP_ACK_S)
                               for s in list(car_sid.values())), return_exceptions=True)
        return web.json_response({"cars": len(car_sid)})

    async def reset(request: web.Request) -> web.Response:
        for s in list(car_sid.values()):
            await sio.emit("reset_estop", {"reason": "reset"}, to=s, namespace="/car")
        return web.json_response({})

    async def heartbeats(app: web.Application):
        async def beat() -> None:
            seq = 0
            while True:
                await asyncio.sleep(1 / HEARTBEAT_HZ)
                seq += 1
                await sio.emit("heartbeat", {"seq": seq}, namespace="/car")

        task = asyncio.create_task(beat())
        yield
        task.cancel()

    app.router.add_post("/estop", estop)
    app.router.add_post("/reset", reset)
    app.cleanup_ctx.append(heartbeats)
    return app


async def _serve(port: int, probe_file: Path) -> None:
    hops: dict[str, dict[str, float]] = {}
    runner = web.AppRunner(relay_app(hops))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    probe = LoopProbe()
    probe.start()
    print(f"RELAY ON http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # run until stdin closes
    probe.stop()
    probe_file.write_text(json.dumps({**probe.as_dict(), "hops": hops}))
    await runner.cleanup()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sio_relay")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--probe-file", type=Path, required=True)
    args = p.parse_args(argv)
    asyncio.run(_serve(args.port, args.probe_file))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
