"""The real classroom server (server.runner.start_server, as `dojo server` runs it) with two probes,
so the benchmark can tell the server's own stalls from a busy machine:

- event-loop lag: a task asks to wake every LAG_PERIOD_S and records how late it woke;
- garbage-collector pauses, per generation (gc.callbacks).

    python -m benchmarks.server_probe --config FILE --data-dir DIR --probe-file OUT.json
        prints "MIKRO-DOJO server on URL"; on SIGTERM writes {"lag": [[t, ms], ...], "gc": [[t, gen, ms], ...]}
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
import time
from pathlib import Path

from server.main import load_config
from server.runner import freeze_startup_objects, start_server

LAG_PERIOD_S = 0.005  # 200 wake-ups a second: fine enough to see a 10 ms stall, cheap enough not to cause one


async def serve(config_path: Path, data_dir: Path, probe_file: Path) -> None:
    config = load_config(config_path, port=0, data_dir=data_dir)
    lag: list[tuple[float, float]] = []
    pauses: list[tuple[float, int, float]] = []
    gc_started: dict[int, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        now = time.monotonic()
        if phase == "start":
            gc_started[info["generation"]] = now
        elif info["generation"] in gc_started:
            pauses.append((now, info["generation"], (now - gc_started.pop(info["generation"])) * 1000))

    async def sample_lag() -> None:
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(LAG_PERIOD_S)
            lag.append((t0, (time.monotonic() - t0 - LAG_PERIOD_S) * 1000))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await start_server(config)
    freeze_startup_objects()  # as `dojo server` does
    gc.callbacks.append(on_gc)
    sampler = asyncio.create_task(sample_lag())
    print(f"MIKRO-DOJO server on {server.base_url}", flush=True)
    await stop.wait()
    sampler.cancel()
    gc.callbacks.remove(on_gc)
    await server.close()
    probe_file.write_text(json.dumps({"lag": lag, "gc": pauses}))


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
