"""`dojo car check`: a self-test of every device of a real car, one line each, with the fix when one fails.

    dojo car check car.yaml            the car as configured
    dojo car check --hardware gpio     a default car of that kind (on a laptop: GPIOZERO_PIN_FACTORY=mock)

It opens the hardware the way `dojo car` does, looks at each device, and leaves everything neutral.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

from robot_runtime.arena import DEFAULT_ARENA
from robot_runtime.config import CarConfig, ConfigError, HardLimits, load_car_config

SENSOR_WAIT_S = 0.6  # a few ultrasonic pings (30 ms apart) and board telemetry lines (50 ms) arrive by then
HTTP_TIMEOUT_S = 2.0  # a classroom server on the LAN answers in milliseconds
DEV_TOKENS = ("dev-car-token", "pair-me")


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def line(self, status: str, what: str, text: str) -> None:
        if status == "FAIL":
            self.failed += 1
        print(f"  {status:<5} {what:<12} {text}", flush=True)


def check_outputs(car, config: CarConfig, r: Report) -> None:
    from robot_runtime.devices.esc import ARM_S

    outputs = car.outputs
    name = type(outputs).__name__
    if name == "GuardedPulses":
        r.line("ok", "pin guard", f"pid {outputs._process.pid if outputs._process else '?'} holds the outputs; "
                                  "neutral if the runtime dies or stalls")
    elif name == "GpioPulses":
        esc, servo = outputs._esc, outputs._servo
        for label, dev in (("esc", esc), ("steering", servo)):
            hz = dev.frequency
            us = dev.value / hz * 1e6 if hz else 0.0
            r.line("ok" if hz else "FAIL", label, f"{dev.pin.info.name if hasattr(dev.pin, 'info') else f'GPIO{dev.pin}'}: "
                   f"{hz or 0:g} Hz, {us:.0f} µs" + (f" (the ESC arms on neutral in {ARM_S:g} s)" if label == "esc" else ""))
        factory = type(esc.pin_factory).__name__
        plant = car.devices.get("plant")
        if plant is not None:
            p = plant.sim.pose
            r.line("warn", "pins", f"fake pins driving a simulated car (plant: true), now at x {p.x_cm:.0f} y "
                                   f"{p.y_cm:.0f} cm — a rehearsal: nothing physical moves")
        elif "Mock" in factory:
            r.line("warn", "pins", f"{factory}: fake pins, nothing physical is driven")
        elif "PiGPIO" not in factory:
            r.line("warn", "pins", f"{factory}: software-timed pulses, the servo may buzz — pigpio (Pi 2-4), a "
                                   "PCA9685 or the Pico board give clean pulses (docs/real-car.md)")
    elif name == "Pca9685Pulses":
        r.line("ok", "pca9685", f"0x{outputs.chip.address:02x}: {outputs.chip.frame_hz:.1f} Hz frame, channels "
                                f"{outputs.channels[0]} (ESC) / {outputs.channels[1]} (steering) at neutral")
    elif name == "SerialPulses":
        link = outputs.link
        r.line("ok", "board", f"{getattr(link, 'board', '?')} on {getattr(link.port, 'port', '?')}: protocol answered; "
                              f"its own failsafe: neutral after {car.failsafe_s * 1000:.0f} ms without commands")


def check_sensors(car, r: Report) -> None:
    devices = car.devices
    deadline = time.monotonic() + SENSOR_WAIT_S
    state = car.read()
    while "distance" in devices and state.distance_cm is None and time.monotonic() < deadline:
        time.sleep(0.05)
        state = car.read()
    if "distance" in devices or type(car.outputs).__name__ == "SerialPulses":
        if state.distance_fault:
            r.line("FAIL", "distance", f"{state.distance_fault}: no echo — check TRIG/ECHO wiring, 5 V to the sensor "
                                       "and the 1k/2k divider on ECHO (docs/real-car.md)")
        elif state.distance_cm is None:
            r.line("ok", "distance", "nothing in range (point it at a wall 50 cm away to see a number)")
        else:
            r.line("ok", "distance", f"{state.distance_cm:.0f} cm")
    else:
        r.line("warn", "distance", "no distance sensor: no obstacle stop, and braking cannot be calibrated with it")
    enc = devices.get("encoder")
    if enc is not None:
        r.line("ok", "encoder", f"{enc.ticks} ticks so far (turn a wheel by hand and run check again to see it count)")
    button = devices.get("stop_button")
    if button is not None:
        if button.is_pressed:
            r.line("FAIL", "stop button", "reads pressed — wire it between its GPIO and GND (normally open)")
        else:
            r.line("ok", "stop button", "not pressed")
    bat = devices.get("battery")
    if bat is not None:
        try:
            v = bat.volts()
        except Exception as exc:
            r.line("FAIL", "battery", f"cannot read the ADC: {exc}")
        else:
            ok = v >= bat.low_v
            r.line("ok" if ok else "FAIL", "battery", f"{v:.2f} V" + ("" if ok else
                   f" — below {bat.low_v:g} V: charge it (or check the divider and volts_per_unit)"))


def check_calibration(config: CarConfig, r: Report) -> None:
    opts = config.hardware_options
    if "throttle" not in opts or "steering" not in opts:
        r.line("warn", "calibration", "default pulses (1000-2000 µs) — run `dojo car calibrate` with the wheels "
                                      "off the ground")
    defaults = HardLimits()
    if (config.limits.brake_decel_cm_s2, config.limits.reaction_s) == (defaults.brake_decel_cm_s2, defaults.reaction_s):
        r.line("warn", "braking", f"the default braking model ({defaults.brake_decel_cm_s2:g} cm/s², "
                                  f"{defaults.reaction_s:g} s) — measure yours with `dojo car calibrate`")
    else:
        r.line("ok", "braking", f"{config.limits.brake_decel_cm_s2:.0f} cm/s² after {config.limits.reaction_s:.2f} s")


def check_server(config: CarConfig, r: Report) -> None:
    url = config.server_url.rstrip("/") + "/api/health"
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:
            json.loads(resp.read() or b"{}")
        r.line("ok", "server", f"{config.server_url} answers")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        r.line("FAIL", "server", f"{config.server_url}: {getattr(exc, 'reason', exc)} — is `dojo server` running "
                                 "there, and is this the teacher's address?")
    if config.token in DEV_TOKENS:
        r.line("warn", "token", "no pairing token yet — pair the car from the teacher console, or set `token:`")


def cmd_check(args: argparse.Namespace) -> int:
    from robot_runtime.drivers import HardwareUnavailable, UnknownHardware, create_hardware

    try:
        if args.config:
            config = load_car_config(args.config)
        else:
            # a default car of that kind that drives nowhere: no server, no arena needed
            config = CarConfig(car_id="check", hardware=args.hardware or "gpio", mode="headless", watchdog=False)
    except ConfigError as exc:
        print(f"dojo car check: {exc}", file=sys.stderr)
        return 2
    print(f"dojo car check: {config.car_id} ({config.hardware})")
    r = Report()
    r.line("ok", "config", f"{args.config or 'defaults'} is valid")
    try:
        car = create_hardware(config, DEFAULT_ARENA)
    except (UnknownHardware, HardwareUnavailable, OSError) as exc:
        r.line("FAIL", "hardware", str(exc))
        return 1
    try:
        if config.hardware != "sim":
            check_outputs(car, config, r)
            check_sensors(car, r)
            check_calibration(config, r)
        if args.config and not args.no_server:
            check_server(config, r)
    finally:
        car.close()
    print(f"dojo car check: {'all good' if not r.failed else f'{r.failed} problem(s) to fix'}")
    return 1 if r.failed else 0
