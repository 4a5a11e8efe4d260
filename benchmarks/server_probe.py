"""The real classroom server (server.runner.start_server, as `dojo server` runs it) with probes, so the
benchmark can tell the server's own stalls from a busy machine and see where a block's time goes:

- the event-loop lag and GC pauses (benchmarks/loop_probe.py);
- hop times of every block call that carries a ``ref``: ``recv`` (the /kid hub has the event), ``gate``
  (translated and gated: the gate said yes), ``emit`` (the dispatcher hands the SkillRequest to the /car
  link). The probe wraps those three functions of the running app (the app itself is unchanged) and
  keys the request id to the kid's ref, so the kid's send and the car's arrival complete the picture.

    python -m benchmarks.server_probe --config FILE --data-dir DIR --probe-file OUT.json
        prints "MIKRO-DOJO server on URL"; on SIGTERM writes {"lag": .., "gc": .., "hops": {ref: {..}}}

With BENCH_SERVER_PROFILE=FILE the server runs under cProfile and writes its stats there (to find the
cause of a cost: `python -c "import pstats; pstats.Stats('FILE').sort_stats('tottime').print_stats(30)"`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.loop_probe import LoopProbe
from server.cars.hub import CAR_HUB
from server.kids.hub import KID_HUB
from server.main import load_config
from server.runner import ServerHandle, freeze_startup_objects, start_server

_REF: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_ref", default=None)


def instrument(server: ServerHandle, hops: dict[str, dict[str, Any]]) -> None:
    """Record recv / gate / emit per block call (by the kid's ref) around the running app's own functions."""
    kid_hub, car_hub, classroom = server.app[KID_HUB], server.app[CAR_HUB], server.classroom
    by_request: dict[str, str] = {}  # request_id -> ref

    trigger = kid_hub.trigger_event

    async def trigger_event(event: str, *args: Any) -> Any:
        if event == "block" and len(args) > 1 and isinstance(args[1], dict) and args[1].get("ref") is not None:
            ref = str(args[1]["ref"])
            hops[ref] = {"recv": time.monotonic()}
            _REF.set(ref)
        return await trigger(event, *args)

    gate_check = classroom.gate.check

    def check(*args: Any, **kw: Any) -> Any:
        refusal = gate_check(*args, **kw)
        ref = _REF.get()
        if ref in hops:
            hops[ref]["gate"] = time.monotonic()
        return refusal

    submit = classroom.dispatcher.submit

    def submit_(request: Any) -> Any:
        ref = _REF.get()
        if ref in hops:
            by_request[request.request_id] = ref
            hops[ref]["request_id"] = request.request_id
        return submit(request)

    send_skill = car_hub.send_skill

    async def send_skill_(car_id: str, request: Any, timeout_s: float) -> Any:
        ref = by_request.pop(request.request_id, None)
        if ref in hops:
            hops[ref]["emit"] = time.monotonic()
        return await send_skill(car_id, request, timeout_s)

    kid_hub.trigger_event = trigger_event  # type: ignore[method-assign]
    classroom.gate.check = check  # type: ignore[method-assign]
    classroom.dispatcher.submit = submit_  # type: ignore[method-assign]
    car_hub.send_skill = send_skill_  # type: ignore[method-assign]


async def serve(config_path: Path, data_dir: Path, probe_file: Path) -> None:
    config = load_config(config_path, port=0, data_dir=data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await start_server(config)
    hops: dict[str, dict[str, Any]] = {}
    instrument(server, hops)
    freeze_startup_objects()  # as `dojo server` does
    probe = LoopProbe()
    probe.start()
    profile_to = os.environ.get("BENCH_SERVER_PROFILE")
    profiler = cProfile.Profile(time.process_time) if profile_to else None  # CPU time: a busy machine does not skew it
    if profiler:
        profiler.enable()
    print(f"MIKRO-DOJO server on {server.base_url}", flush=True)
    await stop.wait()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)
    probe.stop()
    await server.close()
    probe_file.write_text(json.dumps({**probe.as_dict(), "hops": hops}))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.server_probe")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--probe-file", type=Path, required=True)
    args = p.parse_args(argv)
    asyncio.run(serve(args.config, args.data_dir, args.probe_file))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
