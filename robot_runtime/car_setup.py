"""Setting up a real car: `dojo car init | check | calibrate | install-service | neutral`.

    dojo car init [car.yaml] [--car-id car-7] [--hardware gpio|pca9685|serial] [--server URL]
                  [--pin-factory pigpio|lgpio|auto|mock] [--from-donkeycar myconfig.py] [--force]
                                                                 asks what it is not told, writes the config
                                                                 and the car's own arena (car-arena.yaml);
                                                                 `--pin-factory mock`: a simulated car on fake
                                                                 pins (`plant: true`), a rehearsal on a laptop
    dojo car check [car.yaml] [--hardware KIND]                 self-test: one line per device, the fix if it fails
    dojo car calibrate car.yaml                                  walks you through it, writes the results
    dojo car install-service car.yaml [--user pi] [--unit-dir /etc/systemd/system] [--print]
    dojo car neutral car.yaml                                    neutral pulses, then none (systemd runs it after a stop)
    dojo car pair http://server:8080 CODE [car.yaml]             trade the console's pairing code for the car's token

Exit codes: 0 fine, 1 a check failed, 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

import yaml

from robot_runtime.config import ConfigError, load_car_config, read_config_data, write_config

SETUP_COMMANDS = ("init", "check", "calibrate", "install-service", "neutral", "pair")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_CONFIG = "car.yaml"
UNIT_NAME = "dojo-car.service"


# --- init ---------------------------------------------------------------------------------------------


def ask(prompt: str, default: str, interactive: bool) -> str:
    if not interactive:
        return default
    answer = input(f"{prompt} [{default}]: ").strip()
    return answer or default


def write_arena(path: Path, car_id: str, width_cm: float, height_cm: float) -> None:
    """The car's own arena: an empty floor, the start mark 50 cm in from the lower-left corner."""
    from robot_runtime.arena import Arena

    arena = Arena(name=f"{car_id} floor", width_cm=width_cm, height_cm=height_cm,
                  start={"x_cm": min(50.0, width_cm / 2), "y_cm": height_cm / 2, "heading_deg": 0})
    path.write_text(yaml.safe_dump(arena.model_dump(mode="json", include={"name", "width_cm", "height_cm", "start"}),
                                   sort_keys=False),
                    encoding="utf-8")


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.config or DEFAULT_CONFIG)
    if path.exists() and not args.force:
        print(f"dojo car init: {path} exists — pass --force to replace it, or `dojo car calibrate {path}`",
              file=sys.stderr)
        return EXIT_USAGE
    interactive = sys.stdin.isatty() and not args.yes
    hardware, options = None, {}
    if args.from_donkeycar:
        from robot_runtime.donkeycar_import import DonkeyConfigError, hardware_from_donkeycar

        try:
            hardware, options = hardware_from_donkeycar(Path(args.from_donkeycar))
        except DonkeyConfigError as exc:
            print(f"dojo car init: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"dojo car init: read {args.from_donkeycar}: {hardware}, throttle {options['throttle']}, "
              f"steering {options['steering']}")
    car_id = args.car_id or ask("Car name (lower case, e.g. car-7)", "car-1", interactive)
    if hardware is None:
        hardware = args.hardware or ask("How are the ESC and servo wired: gpio (Pi pins), pca9685 (servo board), "
                                        "serial (Pico board)?", "gpio", interactive)
    server = args.server or ask("Classroom server URL", "http://127.0.0.1:8080", interactive)
    if hardware == "serial" and "port" not in options:
        options["port"] = ask("Serial port of the Pico", "/dev/ttyACM0", interactive)
    if hardware == "gpio" and not args.from_donkeycar:
        options |= {"esc_pin": int(ask("ESC signal on GPIO", "12", interactive)),
                    "servo_pin": int(ask("Steering servo signal on GPIO", "13", interactive)),
                    "pin_factory": args.pin_factory or ask("Pin factory (pigpio for clean pulses on a Pi 2-4, lgpio "
                                                           "on a Pi 5)", "pigpio", interactive)}
        if options["pin_factory"] == "mock":  # no Pi: the pulses drive a simulated car (drivers/fake_plant.py)
            options["plant"] = True
    if hardware in ("gpio", "pca9685"):
        trig = ask("Ultrasonic sensor TRIG,ECHO on GPIO (blank: none)", "23,24", interactive)
        if trig:
            t, e = (int(x) for x in trig.split(","))
            options["distance"] = {"trigger_pin": t, "echo_pin": e}
    floor = ask("The floor the car may use, width x height in cm (its own arena: the outer fence)", "300x300",
                interactive)
    arena_path = path.with_name(f"{path.stem}-arena.yaml")
    try:
        width, height = (float(v) for v in floor.lower().replace(" ", "").split("x"))
        write_arena(arena_path, car_id, width, height)
    except ValueError as exc:
        print(f"dojo car init: floor {floor!r}: {exc} — give it as WIDTHxHEIGHT in cm, e.g. 300x200", file=sys.stderr)
        return EXIT_USAGE
    data = {"car_id": car_id, "hardware": hardware, "hardware_options": options, "server_url": server,
            "token": args.token or "pair-me", "arena_file": arena_path.name, "log_file": "car-log.jsonl"}
    try:
        write_config(path, data)
    except Exception as exc:
        from pydantic import ValidationError

        from robot_runtime.config import format_validation_error

        text = format_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        print(f"dojo car init: that would not be a valid car config:\n{text}", file=sys.stderr)
        return EXIT_USAGE
    print(f"dojo car init: wrote {path}. Next: `dojo car check {path}`, then `dojo car calibrate {path}`.")
    return EXIT_OK


# --- install-service ----------------------------------------------------------------------------------


def unit_text(config: Path, user: str, python: str = sys.executable) -> str:
    cfg = config.resolve()
    return f"""[Unit]
Description=MIKRO-DOJO car runtime ({cfg.name})
Wants=network-online.target
After=network-online.target pigpiod.service
# keep restarting, however often it fails: a classroom car must come back by itself
StartLimitIntervalSec=0

[Service]
Type=simple
User={user}
SupplementaryGroups=gpio i2c dialout
WorkingDirectory={cfg.parent}
Environment=PYTHONUNBUFFERED=1
ExecStart={python} -m dojo car {cfg}
# after any stop, even a crash or kill -9: neutral pulses, then none (pigpio / PCA9685 pulses outlive processes)
ExecStopPost={python} -m dojo car neutral {cfg}
Restart=always
RestartSec=2
TimeoutStopSec=5

[Install]
WantedBy=multi-user.target
"""


def cmd_install_service(args: argparse.Namespace) -> int:
    if not args.config:
        print("dojo car install-service: give the car config, e.g. `dojo car install-service car.yaml`", file=sys.stderr)
        return EXIT_USAGE
    cfg = Path(args.config)
    try:
        load_car_config(cfg)
    except ConfigError as exc:
        print(f"dojo car install-service: {exc}", file=sys.stderr)
        return EXIT_USAGE
    user = args.user or os.environ.get("SUDO_USER") or getpass.getuser()
    text = unit_text(cfg, user)
    if args.print:
        print(text, end="")
        return EXIT_OK
    target = Path(args.unit_dir) / UNIT_NAME
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"dojo car install-service: cannot write {target}: {exc} — run it with sudo, or pass --print and "
              "install the unit yourself", file=sys.stderr)
        return EXIT_USAGE
    print(f"dojo car install-service: wrote {target}. Start it now and at every boot:\n"
          f"  sudo systemctl daemon-reload && sudo systemctl enable --now {UNIT_NAME}\n"
          f"  journalctl -u {UNIT_NAME} -f      # its log")
    return EXIT_OK


# --- neutral ------------------------------------------------------------------------------------------


def cmd_neutral(args: argparse.Namespace) -> int:
    """Neutral pulses on the outputs, then none: what systemd runs after the runtime stopped."""
    from robot_runtime.arena import DEFAULT_ARENA
    from robot_runtime.drivers import HardwareUnavailable, UnknownHardware, create_hardware

    try:
        config = load_car_config(args.config)
        if config.hardware == "sim":
            return EXIT_OK
        config = config.model_copy(update={"hardware_options": {**config.hardware_options, "guard": False}})
        car = create_hardware(config, DEFAULT_ARENA)
    except (ConfigError, UnknownHardware, HardwareUnavailable, OSError) as exc:
        print(f"dojo car neutral: {exc}", file=sys.stderr)
        return EXIT_FAILED
    car.close()  # stop() then release: neutral, then no pulses (the ESC's own failsafe holds it)
    return EXIT_OK


# --- pair -------------------------------------------------------------------------------------------


def cmd_pair(args: argparse.Namespace) -> int:
    from robot_runtime.pairing import PairingError, pair

    path = Path(args.config or DEFAULT_CONFIG)
    try:
        data = read_config_data(path)
        result = pair(args.server, args.code, car_id=data.get("car_id"), hardware=data.get("hardware", "sim"))
    except (ConfigError, PairingError) as exc:
        print(f"dojo car pair: {exc}", file=sys.stderr)
        return EXIT_FAILED
    data |= {"car_id": result.car_id, "token": result.token, "server_url": result.server_url}
    try:
        write_config(path, data)
    except Exception as exc:
        print(f"dojo car pair: paired, but {path} could not be written: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"dojo car pair: {result.car_id} is paired with {result.server_url}; its token is in {path}. "
          f"Restart the car program (sudo systemctl restart dojo-car) and it appears in the console.")
    return EXIT_OK


# --- main ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dojo car", description="Set up a real car.")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("init", help="write a car config (asks a few questions)")
    i.add_argument("config", nargs="?", help=f"where to write it (default {DEFAULT_CONFIG})")
    i.add_argument("--car-id")
    i.add_argument("--hardware", choices=["gpio", "pca9685", "serial"])
    i.add_argument("--server")
    i.add_argument("--pin-factory", choices=["pigpio", "lgpio", "auto", "mock"],
                   help="gpio: how the pulses are made; mock: fake pins driving a simulated car (a rehearsal)")
    i.add_argument("--token")
    i.add_argument("--from-donkeycar", metavar="MYCONFIG_PY", help="read pins and calibration from a DonkeyCar config")
    i.add_argument("--yes", action="store_true", help="ask nothing: defaults for everything not given")
    i.add_argument("--force", action="store_true", help="replace an existing config")
    c = sub.add_parser("check", help="self-test every device")
    c.add_argument("config", nargs="?")
    c.add_argument("--hardware", choices=["gpio", "pca9685", "serial"], help="without a config: this kind, defaults")
    c.add_argument("--no-server", action="store_true", help="skip the server and token checks")
    k = sub.add_parser("calibrate", help="steering, throttle, speed and braking, step by step")
    k.add_argument("config")
    k.add_argument("--speeds", default="30,60", help="the two throttles (percent) of the floor runs")
    s = sub.add_parser("install-service", help="a systemd unit that starts the car at boot and restarts it")
    s.add_argument("config", nargs="?")
    s.add_argument("--user")
    s.add_argument("--unit-dir", default="/etc/systemd/system")
    s.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    n = sub.add_parser("neutral", help="neutral pulses, then none")
    n.add_argument("config")
    pr = sub.add_parser("pair", help="pair with a classroom server using the code its console shows")
    pr.add_argument("server", help="the classroom server, e.g. http://192.168.1.10:8080")
    pr.add_argument("code", help="the pairing code from the teacher console's \"Add a car\"")
    pr.add_argument("config", nargs="?", help=f"the car config to store the token in (default {DEFAULT_CONFIG})")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        from robot_runtime.car_check import cmd_check

        return cmd_check(args)
    if args.command == "calibrate":
        from robot_runtime.calibrate_cli import cmd_calibrate

        return cmd_calibrate(args)
    return {"init": cmd_init, "install-service": cmd_install_service, "neutral": cmd_neutral,
            "pair": cmd_pair}[args.command](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
