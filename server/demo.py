"""`dojo demo`: a whole classroom on one laptop, no hardware needed.

Starts the classroom server in this process, ensures a class with code ``DEMO``, starts N simulated
cars as real ``dojo car --sim`` subprocesses (each at its own start pose in the demo arena, paired
with its own token), prints a banner with the URLs and the teacher password, then the line
``MIKRO-DOJO READY http://127.0.0.1:PORT`` once every car is connected (tests wait for that line).
Ctrl-C or SIGTERM stops the cars, reaps the subprocesses and closes the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import sys
import webbrowser
from pathlib import Path

from robot_runtime.arena import Arena, NamedZone
from robot_runtime.car import TOKEN_ENV as CAR_TOKEN_ENV
from robot_runtime.private_files import open_private, private_dir, write_private
from robot_runtime.protocol import Pose
from server.core.config import ServerConfig
from server.runner import REPO_ROOT, ServerHandle, start_for_command, stop_on_signals
from server.scratch.extension import turbowarp_options

CLASS_CODE = "DEMO"
DEFAULT_CARS = 4
MAX_CARS = 64  # one class is ~30 kids; 64 leaves room for benchmarks without letting a typo fork 10 000 processes
CARS_READY_TIMEOUT_S = 45.0  # N car processes importing socketio+pydantic on a busy 2-core box take ~2-10 s
CAR_TERM_TIMEOUT_S = 5.0  # a car stops its loop and exits within a tick or two after SIGTERM; then SIGKILL
CAR_STOP_TIMEOUT_S = 2.0  # stopping every car over socket.io before shutdown: milliseconds when they are connected

# The demo arena: 4 m x 3 m of open floor (lessons bring their own cones and walls), so free play
# meets nothing but the fence. The server places each car at its own start slot (a column at the
# start's x, 45 cm apart); x = 80 leaves room for a full left circle (r ~ 51 cm).
DEMO_ARENA = Arena(
    name="demo classroom",
    width_cm=400.0,
    height_cm=300.0,
    start=Pose(x_cm=80.0, y_cm=150.0, heading_deg=0.0),
    zones=[NamedZone(name="garage", kind="parking", x0=330.0, y0=10.0, x1=390.0, y1=50.0, heading_deg=0.0)],
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dojo demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--cars", type=int, default=DEFAULT_CARS, help=f"simulated cars to start (default {DEFAULT_CARS})")
    p.add_argument("--data-dir", type=Path, default=REPO_ROOT / "var", help="where the classroom keeps its data (default var/)")
    p.add_argument("--teacher-password", help="teacher password (default: a new one is made and printed)")
    p.add_argument("--no-open", action="store_true", help="do not open a web browser")
    p.add_argument("--cars-see-each-other", action="store_true",
                   help="the simulated cars share the floor: they avoid and bump into each other")
    p.add_argument("--turbowarp", action="store_true",
                   help="also listen on http://localhost:8000 and allow https://turbowarp.org (Scratch in TurboWarp)")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port must be between 0 and 65535 (got {args.port})")
    if not 0 <= args.cars <= MAX_CARS:
        p.error(f"--cars must be between 0 and {MAX_CARS} (got {args.cars})")
    if args.teacher_password is not None and len(args.teacher_password) < 4:
        p.error("--teacher-password must have at least 4 characters")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


async def _run(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir.resolve()
    server_dir = data_dir / "server"
    private_dir(data_dir)  # 0700: the teacher's password, the database and the car logs live below
    password = args.teacher_password or demo_password(data_dir)
    car_ids = [f"car-{i}" for i in range(1, args.cars + 1)]
    tokens = {car_id: secrets.token_hex(16) for car_id in car_ids}
    arena_path = data_dir / "demo-arena.json"
    write_private(arena_path, DEMO_ARENA.model_dump_json(indent=2))

    config = ServerConfig(host=args.host, port=args.port, data_dir=server_dir, teacher_password=password,
                          car_tokens=tokens, default_class_code=CLASS_CODE, arena_path=arena_path,
                          sim_cars_see_each_other=args.cars_see_each_other,
                          camera_source="sim",  # the simulated overhead camera: /setup/ and the console's camera view
                          **(turbowarp_options() if args.turbowarp else {}))  # Scratch in TurboWarp
    stop = stop_on_signals()
    server = await start_for_command(config, "dojo demo")
    if server is None:
        return 1
    fleet = CarFleet(server, data_dir, tokens)
    code = 0
    try:
        print_banner(server.base_url, password, car_ids, data_dir, lan_url(args.host, server.port))
        if args.turbowarp:
            print(f"  TurboWarp: Extensions -> Custom Extension -> URL: "
                  f"http://localhost:{config.turbowarp_port}/scratch/extension.js?class={CLASS_CODE}", flush=True)
        await fleet.start()
        ready = asyncio.create_task(fleet.wait_connected(CARS_READY_TIMEOUT_S))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done() and ready.exception() is None:
            print(f"MIKRO-DOJO READY {server.base_url}", flush=True)
            if not args.no_open:
                open_browser(server.base_url + "/scratch/")
            watch = asyncio.create_task(fleet.report_exits())
            await stopped
            watch.cancel()
        elif ready.done():
            print(f"dojo demo: {ready.exception()}", file=sys.stderr, flush=True)
            code = 1
        for task in (ready, stopped):
            task.cancel()
    finally:
        print("dojo demo: stopping cars and server ...", flush=True)
        await fleet.stop()
        await server.close()
        print("dojo demo: stopped.", flush=True)
    return code


class CarFleet:
    """The simulated cars as `dojo car --sim` subprocesses: start, wait until connected, stop and reap."""

    def __init__(self, server: ServerHandle, data_dir: Path, tokens: dict[str, str]) -> None:
        self.server = server
        self.log_dir = data_dir / "logs"
        self.tokens = tokens
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    def command(self, car_id: str) -> list[str]:
        # No --arena: on connect the server sends every car the demo arena and its own start slot.
        # No token here: a command line is readable by every user in `ps`; it goes in the environment (env()).
        return [sys.executable, "-m", "dojo", "car", "--sim", "--name", car_id, "--server", self.server.base_url]

    def env(self, car_id: str) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", CAR_TOKEN_ENV: self.tokens[car_id]}

    async def start(self) -> None:
        for car_id in self.tokens:
            log = open_private(self.log_dir / f"{car_id}.log", "ab")  # 0600 in a 0700 folder
            try:
                self.procs[car_id] = await asyncio.create_subprocess_exec(
                    *self.command(car_id), cwd=REPO_ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                    stderr=asyncio.subprocess.STDOUT, preexec_fn=_die_with_parent,
                    # Own session: a Ctrl-C in the terminal reaches only the demo, which then stops the
                    # cars in order (controlled stop over the link, then SIGTERM) instead of racing them.
                    start_new_session=True,
                    env=self.env(car_id))
            finally:
                log.close()  # the child has its own copy of the descriptor

    async def wait_connected(self, timeout_s: float) -> None:
        """Return once every car is connected to the server; raise naming the missing ones and their logs."""
        deadline = loop_time() + timeout_s
        while True:
            missing = [c for c in self.tokens if not self.server.car_connected(c)]
            if not missing:
                return
            dead = [c for c in missing if self.procs[c].returncode is not None]
            if dead or loop_time() > deadline:
                why = "exited" if dead else f"did not connect within {timeout_s:g} s"
                cars = dead or missing
                logs = ", ".join(str(self.log_dir / f"{c}.log") for c in cars)
                raise RuntimeError(f"{', '.join(cars)} {why} — see {logs}")
            await asyncio.sleep(0.05)

    async def report_exits(self) -> None:
        """A car process that ends while the demo runs is reported once, with its log (never silently)."""
        waits = {asyncio.create_task(p.wait()): car_id for car_id, p in self.procs.items()}
        while waits:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                car_id = waits.pop(task)
                print(f"dojo demo: {car_id} stopped unexpectedly (exit code {task.result()}) — see "
                      f"{self.log_dir / f'{car_id}.log'}", file=sys.stderr, flush=True)

    async def stop(self) -> None:
        """Stop every car (controlled stop), then SIGTERM the processes, SIGKILL stragglers, reap all."""
        try:
            await asyncio.wait_for(self.server.stop_all_cars("demo shutting down"), CAR_STOP_TIMEOUT_S)
        except (asyncio.TimeoutError, Exception) as exc:  # shutdown goes on: killing the process stops the sim too
            print(f"dojo demo: could not stop every car over the network ({exc!r}); terminating them", file=sys.stderr)
        live = [p for p in self.procs.values() if p.returncode is None]
        for proc in live:
            proc.terminate()
        if live:
            _, pending = await asyncio.wait([asyncio.create_task(p.wait()) for p in live], timeout=CAR_TERM_TIMEOUT_S)
            for proc in live:
                if proc.returncode is None:
                    proc.kill()
            for proc in live:
                await proc.wait()


def demo_password(data_dir: Path) -> str:
    """The demo's teacher password: made once and kept in the data dir, so a restart keeps the same one."""
    path = data_dir / "teacher-password.txt"
    if path.exists() and len(path.read_text().strip()) >= 4:
        return path.read_text().strip()
    password = secrets.token_urlsafe(9)
    write_private(path, password + "\n")  # 0600 from the start, never chmodded after
    return password


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def _die_with_parent() -> None:
    """Linux: a car process gets SIGTERM if the demo dies without cleaning up (kill -9), so no orphans."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def print_banner(base_url: str, password: str, car_ids: list[str], data_dir: Path, lan: str | None = None) -> None:
    lines = [
        "",
        "  MIKRO-DOJO demo classroom",
        "",
        f"  Start here       {base_url}/            (kids, teacher, arena, setup)",
        f"  Scratch editor   {base_url}/scratch/",
        f"  Blockly app      {base_url}/blockly/",
        f"  Teacher console  {base_url}/teacher/      password: {password}",
        f"  Arena view       {base_url}/arena/",
        f"  Arena setup      {base_url}/setup/        (simulated overhead camera; same password)",
        f"  Health           {base_url}/api/health",
        "",
        f"  Class code: {CLASS_CODE}      cars: {', '.join(car_ids) or 'none'}",
        f'  Python:     car = dojo.connect("{base_url}", class_code="{CLASS_CODE}", name="Mia")',
        f"  Data:       {data_dir}   (car logs in {data_dir / 'logs'})",
        *([f"  Classroom network: kids open {lan}/"] if lan else []),
        "",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def lan_url(host: str, port: int) -> str | None:
    """With --host 0.0.0.0 the kids' laptops use this machine's LAN address, not 127.0.0.1."""
    if host not in ("0.0.0.0", "::", ""):
        return None
    try:  # a UDP "connect" only picks the outgoing interface; no packet is sent
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return f"http://{s.getsockname()[0]}:{port}"
    except OSError:
        return None


def open_browser(url: str) -> None:
    """Open the editor only for a person at a desktop (never in CI, ssh or a container)."""
    if sys.stdout.isatty() and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            pass


if __name__ == "__main__":
    sys.exit(main())
