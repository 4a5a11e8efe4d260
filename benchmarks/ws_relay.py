"""The benchmark's BASELINE: a bare aiohttp WebSocket relay making the same two hops as a block call.

    kid socket --JSON--> relay --JSON--> car-side socket     (and the ack back the same way)

No socket.io, no validation, no gate, no queue: the cheapest correct relay aiohttp can do, so the
classroom server's latency can be read as "N times a bare relay". It carries the same background
traffic as a classroom: each car sends telemetry-sized JSON at TELEMETRY_HZ, forwarded to its kid,
and the relay sends every car a heartbeat at HEARTBEAT_HZ. Run as processes:

    python -m benchmarks.ws_relay relay --port 0            prints "RELAY PORT <n>"
    python -m benchmarks.ws_relay cars --url ws://... --cars 1 --first 7      (car-7; one process per car,
        like the classroom's car processes) prints "CARS READY", then on stdin EOF one JSON line
        {car_id: [[msg_id, t_received], ...]}
Times are time.monotonic() (CLOCK_MONOTONIC: one clock for every process on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from aiohttp import WSMsgType, web, ClientSession

CONNECT_TIMEOUT_S = 5.0  # loopback websocket handshake
TELEMETRY_HZ = 20  # as robot_runtime.protocol.TELEMETRY_HZ
HEARTBEAT_HZ = 10  # as 1 / robot_runtime.protocol.HEARTBEAT_PERIOD_S
# A car's telemetry message as the classroom sends it (pose, speed, commands, safety state, timing).
TELEMETRY = {"type": "telemetry", "car_id": "car-1", "seq": 0, "t": 0.0,
             "pose": {"x_cm": 123.4567, "y_cm": 45.6789, "heading_deg": 12.3456}, "speed_cm_s": 87.65,
             "yaw_rate_dps": 1.23, "slip_deg": 0.12, "distance_cm": 150.5, "throttle": 0.3, "steering": 0.05,
             "safety_state": "ok", "safety_events": [], "collisions": [], "skill": None,
             "timing": {stage: {"p50_ms": 0.05, "p99_ms": 0.2} for stage in ("skill", "supervisor", "hardware", "telemetry")}}


def relay_app() -> web.Application:
    cars: dict[str, web.WebSocketResponse] = {}
    kids: dict[str, web.WebSocketResponse] = {}  # car_id -> the kid socket waiting for its acks

    async def car_socket(request: web.Request) -> web.WebSocketResponse:
        car_id = request.query["id"]
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        cars[car_id] = ws
        async for msg in ws:  # acks from the car go back to the kid that drives it
            if msg.type == WSMsgType.TEXT and car_id in kids:
                await kids[car_id].send_str(msg.data)
        cars.pop(car_id, None)
        return ws

    async def kid_socket(request: web.Request) -> web.WebSocketResponse:
        car_id = request.query["car"]
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        kids[car_id] = ws
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                json.loads(msg.data)  # the relay reads the message, like any server would
                await cars[car_id].send_str(msg.data)
        kids.pop(car_id, None)
        return ws

    async def heartbeats(app: web.Application):
        async def beat() -> None:
            seq = 0
            while True:
                await asyncio.sleep(1 / HEARTBEAT_HZ)
                seq += 1
                for ws in list(cars.values()):
                    await ws.send_str(json.dumps({"type": "heartbeat", "seq": seq}))

        task = asyncio.create_task(beat())
        yield
        task.cancel()

    app = web.Application()
    app.router.add_get("/car", car_socket)
    app.router.add_get("/kid", kid_socket)
    app.cleanup_ctx.append(heartbeats)
    return app


async def _relay(port: int) -> None:
    runner = web.AppRunner(relay_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"RELAY PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # run until stdin closes
    await runner.cleanup()


async def _cars(url: str, n: int, first: int) -> None:
    received: dict[str, list[tuple[int, float]]] = {}
    async with ClientSession() as session:
        sockets = []
        for i in range(first, first + n):
            car_id = f"car-{i}"
            ws = await session.ws_connect(f"{url}/car?id={car_id}", timeout=CONNECT_TIMEOUT_S)
            sockets.append((car_id, ws))
            received[car_id] = []

        async def serve(car_id: str, ws) -> None:
            async for msg in ws:
                t = time.monotonic()  # the car-side socket has the request: this is "arrived"
                data = json.loads(msg.data)
                if "id" in data:  # a block; heartbeats need no answer
                    received[car_id].append((data["id"], t))
                    await ws.send_str(json.dumps({"id": data["id"], "ok": True}))

        async def telemetry(car_id: str, ws) -> None:
            seq = 0
            while True:
                await asyncio.sleep(1 / TELEMETRY_HZ)
                seq += 1
                await ws.send_str(json.dumps({**TELEMETRY, "car_id": car_id, "seq": seq, "t": time.monotonic()}))

        tasks = [asyncio.create_task(serve(c, ws)) for c, ws in sockets]
        tasks += [asyncio.create_task(telemetry(c, ws)) for c, ws in sockets]
        print("CARS READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in tasks[len(sockets):]:
            task.cancel()
        for _, ws in sockets:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(received), flush=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ws_relay")
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("relay")
    r.add_argument("--port", type=int, default=0)
    c = sub.add_parser("cars")
    c.add_argument("--url", required=True)
    c.add_argument("--cars", type=int, default=1)
    c.add_argument("--first", type=int, default=1, help="number of the first car (car-FIRST)")
    args = p.parse_args(argv)
    asyncio.run(_relay(args.port) if args.what == "relay" else _cars(args.url, args.cars, args.first))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
