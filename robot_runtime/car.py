"""`dojo car`: start a car runtime.

    DOJO_CAR_TOKEN=T dojo car --sim --name car-1 --server http://127.0.0.1:8080 [--arena FILE] [--log FILE]
             [--rate 50] [--seed N] [--noise] [--policy MANIFEST ...]
    dojo car CONFIG.yaml [--server URL] [--token-file FILE] [--log FILE]     a real car (hardware from the config)
    dojo car init | check | calibrate | install-service | neutral | pair     setting up a real car (car_setup.py)

The pairing token travels by environment (DOJO_CAR_TOKEN), by file (--token-file, or the car config's
``token``), never on the command line: every user of the machine reads command lines with `ps`.
``--token T`` still works but is deprecated: it prints a warning saying so (docs/threat-model.md).

Ctrl-C / SIGTERM: the loop stops, the motors go neutral, the running request ends `cancelled` and its
result is delivered (bounded wait), the link closes and the flight recorder is flushed.
Exit codes: 0 clean stop, 2 bad arguments or config, 3 the server refused the car.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from robot_runtime.arena import DEFAULT_ARENA, load_arena
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig, ConfigError, format_validation_error, load_car_config
from robot_runtime.drivers import UnknownHardware, create_hardware
from robot_runtime.estop_latch import EstopLatch, default_latch_path
from robot_runtime.link import AuthRefused, CarLink
from robot_runtime.recorder import FlightRecorder
from robot_runtime.runtime import CarRuntime
from robot_runtime.skill_shelf import SkillShelf

log = logging.getLogger("dojo.car")

EXIT_OK, EXIT_USAGE, EXIT_REFUSED = 0, 2, 3
TOKEN_ENV = "DOJO_CAR_TOKEN"
LOOP_STOP_TIMEOUT_S = 1.0  # the loop finishes its current tick (20 ms) and returns


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dojo car", description="Run a car: a simulated one (--sim) or a real one (CONFIG).")
    p.add_argument("config", nargs="?", help="car config file (YAML/JSON) for a real car")
    p.add_argument("--sim", action="store_true", help="a simulated car")
    p.add_argument("--name", help="car id, e.g. car-1 (with --sim)")
    p.add_argument("--server", help="classroom server URL, e.g. http://127.0.0.1:8080; several processes of one "
                                    "classroom service: URL,URL,... (the car moves to the next when one goes away)")
    p.add_argument("--token-file", help=f"a file holding the car's pairing token (or set {TOKEN_ENV}); "
                                         "other users cannot read either in the process list")
    p.add_argument("--token", help=f"deprecated: visible to every user in `ps` — set {TOKEN_ENV} or use --token-file")
    p.add_argument("--arena", help="arena file (YAML/JSON); the simulated car starts at its start pose")
    p.add_argument("--log", help="flight-recorder file (JSON lines)")
    p.add_argument("--rate", type=float, help="control loop rate in Hz (default 50)")
    p.add_argument("--seed", type=int, help="noise seed for the simulator")
    p.add_argument("--noise", action="store_true", help="simulated sensor and actuator noise")
    p.add_argument("--policy", action="append", default=[], help="ONNX policy manifest to register as a skill")
    p.add_argument("--skills-dir", help="where learned skills the server sends are kept (real cars default to "
                                        "~/.local/share/mikro-dojo/skills/CAR; simulated ones keep them until they stop)")
    p.add_argument("--estop-file", help="where the latched e-stop is kept across restarts "
                                        "(real cars default to ~/.local/state/mikro-dojo/estop-CAR.json; simulated ones keep it in memory)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    return p


def car_token(args: argparse.Namespace, environ: dict[str, str] | None = None) -> str | None:
    """The pairing token from --token-file, DOJO_CAR_TOKEN or (deprecated, with a warning) --token; None: the
    car config's own. Raises ConfigError naming the option and the fix."""
    environ = os.environ if environ is None else environ
    if args.token is not None and args.token_file:
        raise ConfigError("give the token once: --token-file or --token, not both (prefer --token-file)")
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {args.token_file}: cannot read it ({exc.strerror}) — give the path of "
                              "the file holding the car's pairing token") from None
        if not token:
            raise ConfigError(f"--token-file {args.token_file} is empty — put the car's pairing token in it")
        return token
    if args.token is not None:
        print(f"dojo car: warning: --token on the command line is deprecated: every user of this machine can read "
              f"it with `ps`; set {TOKEN_ENV} or use --token-file instead", file=sys.stderr)
        return args.token
    return environ.get(TOKEN_ENV) or None


def make_config(args: argparse.Namespace, p: argparse.ArgumentParser) -> CarConfig:
    overrides = {"server_url": args.server, "token": car_token(args), "log_file": args.log, "rate_hz": args.rate,
                 "arena_file": args.arena, "estop_file": args.estop_file, "skills_dir": args.skills_dir}
    if args.config:
        if args.sim:
            p.error("give either --sim or a car config file, not both")
        config = load_car_config(args.config, **overrides)
        if config.mode != "realtime":  # headless skips the limits and the watchdog: for evaluation, never a live car
            raise ConfigError(f"{args.config}: mode: {config.mode} is for evaluation and training on a simulated "
                              "clock; `dojo car` drives a car in real time for a classroom server — remove `mode:` "
                              "from the config")
        if args.policy:  # --policy adds to the config's own policies
            config = config.model_copy(update={"policies": [*config.policies, *args.policy]})
        return config
    if not args.sim:
        p.error("say which car: --sim for a simulated car, or the path of a car config file")
    if not args.name:
        p.error("--sim needs --name, e.g. --name car-1")
    data = {"car_id": args.name, "hardware": "sim", **{k: v for k, v in overrides.items() if v is not None}}
    if args.policy:
        data["policies"] = args.policy
    try:
        return CarConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"dojo car: bad options:\n{format_validation_error(exc)}") from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from robot_runtime.car_setup import SETUP_COMMANDS, main as setup_main

    if argv and argv[0] in SETUP_COMMANDS:  # setting up a real car: init, check, calibrate, pair, ...
        return setup_main(argv)
    p = build_parser()
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = make_config(args, p)
        try:
            arena = load_arena(config.arena_file) if config.arena_file else DEFAULT_ARENA
        except ValidationError as exc:
            raise ConfigError(f"arena file {config.arena_file}:\n{format_validation_error(exc)}") from None
        hardware = create_hardware(config, arena, seed=args.seed, noise=args.noise)
    except (ConfigError, UnknownHardware, OSError) as exc:
        print(f"dojo car: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        skills = register_policies(config)
    except (ValueError, OSError) as exc:
        print(f"dojo car: {exc}", file=sys.stderr)
        hardware.close()
        return EXIT_USAGE
    shelf = SkillShelf(skills_dir_of(config))
    if shelf.load_all():  # learned skills kept from earlier (each hash-checked again)
        skills = register_policies(config)
    for name, why in shelf.errors.items():
        print(f"dojo car: the kept learned skill {name} was not loaded: {why}", file=sys.stderr)
    recorder = FlightRecorder(config.log_file) if config.log_file else None
    try:
        return asyncio.run(run_car(config, hardware, arena, recorder, skills, shelf))
    finally:
        if recorder:
            recorder.close()
        hardware.close()
        shelf.close()


def skills_dir_of(config: CarConfig) -> Path | None:
    """Where this car keeps learned skills: the config's folder; a real car's own; a simulated one: none (temporary)."""
    if config.skills_dir:
        return Path(config.skills_dir).expanduser()
    if config.hardware != "sim":
        return Path("~/.local/share/mikro-dojo/skills").expanduser() / config.car_id
    return None


def register_policies(config: CarConfig) -> list[str]:
    from robot_runtime.skills.registry import skill_names

    if config.policies:
        from robot_runtime.policy import register_policy  # onnxruntime only when a policy is used

        for manifest in config.policies:
            register_policy(Path(manifest))
    return sorted(skill_names())


async def run_car(config: CarConfig, hardware, arena, recorder: FlightRecorder | None, skills: list[str],
                  shelf: SkillShelf | None = None) -> int:
    clock = MonotonicClock()
    # A real car keeps its e-stop across restarts by default; a simulated one only when asked (--estop-file).
    latch_path = config.estop_file or (default_latch_path(config.car_id) if config.hardware != "sim" else None)
    latch = EstopLatch(latch_path)
    own = arena if config.arena_file else None  # the car's own arena bounds whatever a server sends
    runtime = CarRuntime(config, hardware, clock, arena=arena, own_arena=own, recorder=recorder, latch=latch, shelf=shelf)
    if latch.reason is not None:
        print(f"dojo car: {config.car_id} is still emergency-stopped ({latch.reason}); the teacher resets it "
              f"from the console (or delete {latch.path})", flush=True)
    link = CarLink(runtime, config.server_url, config.token, clock,
                   kind="sim" if config.hardware == "sim" else "real", skills=skills)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"dojo car: {config.car_id} ({config.hardware}) at {config.rate_hz:g} Hz -> {config.server_url}", flush=True)
    loop_task = asyncio.create_task(runtime.loop.run_realtime(), name="control-loop")
    link_task = asyncio.create_task(link.run(), name="link")
    stop_task = asyncio.create_task(stop.wait(), name="signal")
    code = EXIT_OK
    try:
        done, _ = await asyncio.wait({loop_task, link_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if link_task in done and link_task.exception() is not None:
            exc = link_task.exception()
            print(f"dojo car: {exc}", file=sys.stderr)
            code = EXIT_REFUSED if isinstance(exc, AuthRefused) else 1
        if loop_task in done and loop_task.exception() is not None:
            log.error("control loop crashed", exc_info=loop_task.exception())
            code = 1
    finally:
        # Order matters: stop ticking, then neutral at once, then tell the server, then close.
        runtime.loop.stop()
        try:
            await asyncio.wait_for(loop_task, LOOP_STOP_TIMEOUT_S)
        except (asyncio.TimeoutError, Exception):
            loop_task.cancel()
        runtime.shutdown("the car program is stopping")
        await link.close()
        for task in (link_task, stop_task):
            task.cancel()
        await asyncio.gather(link_task, stop_task, return_exceptions=True)
        print(f"dojo car: {config.car_id} stopped", flush=True)
    return code
