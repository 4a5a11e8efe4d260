"""Read an existing DonkeyCar config (myconfig.py / config.py) into our hardware section.

The file is parsed, never run: only module-level `NAME = literal` assignments are read (ast), so a
config that imports DonkeyCar, reads files or computes paths is still read safely on a machine without
DonkeyCar. Understood: DRIVE_TRAIN_TYPE "PWM_STEERING_THROTTLE" (pins like "PCA9685.1:40.0",
"PIGPIO.BCM.13", "RPI_GPIO.BCM.13") and the older "I2C_SERVO" (STEERING_CHANNEL, THROTTLE_CHANNEL,
PCA9685_I2C_ADDR, PCA9685_I2C_BUSNUM). DonkeyCar's pulse values are 12-bit counts of a 60 Hz frame:
µs = counts * 1e6 / (60 * 4096), so 370 counts is 1505 µs.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

DONKEY_FRAME_HZ = 60.0  # DonkeyCar's PWM frequency, which its calibration numbers are counts of


class DonkeyConfigError(ValueError):
    """A DonkeyCar config we cannot use; the message names the setting and the fix."""


def read_literals(path: Path) -> dict[str, Any]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise DonkeyConfigError(f"cannot read the DonkeyCar config {path}: {exc}") from None
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    try:
                        values[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        pass  # computed (os.path...), not a calibration value
    return values


def counts_to_us(counts: Any, scale: float = 1.0) -> int:
    if not isinstance(counts, (int, float)):
        raise DonkeyConfigError(f"a PWM value must be a number (got {counts!r})")
    return round(counts * 1e6 / (DONKEY_FRAME_HZ * 4096) / scale)


def parse_pin(spec: str) -> tuple[str, dict[str, int | str]]:
    """("pca9685", {i2c_bus, address, channel}) or ("gpio", {pin, pin_factory})."""
    try:
        if spec.startswith("PCA9685."):
            bus, rest = spec[len("PCA9685."):].split(":")
            addr, channel = rest.split(".")
            return "pca9685", {"i2c_bus": int(bus), "address": int(addr, 16), "channel": int(channel)}
        for prefix, factory in (("PIGPIO.BCM.", "pigpio"), ("RPI_GPIO.BCM.", "auto")):
            if spec.startswith(prefix):
                return "gpio", {"pin": int(spec[len(prefix):]), "pin_factory": factory}
    except ValueError:
        pass
    raise DonkeyConfigError(f"pin {spec!r} is not understood — use PCA9685.<bus>:<addr>.<channel> or PIGPIO.BCM.<n> "
                            "(BOARD pin numbers: write the BCM number instead)")


def hardware_from_donkeycar(path: Path) -> tuple[str, dict[str, Any]]:
    """(hardware kind, hardware_options) from a DonkeyCar config."""
    v = read_literals(path)
    train = v.get("DRIVE_TRAIN_TYPE", "PWM_STEERING_THROTTLE")
    if train == "PWM_STEERING_THROTTLE" and isinstance(v.get("PWM_STEERING_THROTTLE"), dict):
        d = v["PWM_STEERING_THROTTLE"]
        for key in ("PWM_STEERING_INVERTED", "PWM_THROTTLE_INVERTED"):
            if d.get(key):
                raise DonkeyConfigError(f"{key} = True (an inverted pulse) is not supported — wire the signal "
                                        "without an inverter and set it to False")
        s_scale, t_scale = float(d.get("PWM_STEERING_SCALE", 1.0)), float(d.get("PWM_THROTTLE_SCALE", 1.0))
        s_kind, s_pin = parse_pin(str(d.get("PWM_STEERING_PIN", "PCA9685.1:40.1")))
        t_kind, t_pin = parse_pin(str(d.get("PWM_THROTTLE_PIN", "PCA9685.1:40.0")))
        if s_kind != t_kind:
            raise DonkeyConfigError("steering and throttle on different kinds of pins (a PCA9685 and GPIO) — "
                                    "put both on the PCA9685 or both on GPIO")
        cal = d
    elif train in ("I2C_SERVO", "PWM_STEERING_THROTTLE"):
        s_scale = t_scale = 1.0
        bus = v.get("PCA9685_I2C_BUSNUM")
        bus = 1 if bus is None else bus  # DonkeyCar's None means "detect": bus 1 on every Pi since the B+
        addr = v.get("PCA9685_I2C_ADDR", 0x40)
        s_kind = t_kind = "pca9685"
        s_pin = {"i2c_bus": bus, "address": addr, "channel": v.get("STEERING_CHANNEL", 1)}
        t_pin = {"i2c_bus": bus, "address": addr, "channel": v.get("THROTTLE_CHANNEL", 0)}
        cal = v
    else:
        raise DonkeyConfigError(f"DRIVE_TRAIN_TYPE = {train!r}: only a servo + ESC car (PWM_STEERING_THROTTLE or "
                                "I2C_SERVO) can be imported")
    left = counts_to_us(cal.get("STEERING_LEFT_PWM", 460), s_scale)
    right = counts_to_us(cal.get("STEERING_RIGHT_PWM", 290), s_scale)
    options: dict[str, Any] = {
        "throttle": {"neutral_us": counts_to_us(cal.get("THROTTLE_STOPPED_PWM", 370), t_scale),
                     "forward_max_us": counts_to_us(cal.get("THROTTLE_FORWARD_PWM", 500), t_scale),
                     "reverse_max_us": counts_to_us(cal.get("THROTTLE_REVERSE_PWM", 220), t_scale)},
        "steering": {"center_us": round((left + right) / 2), "left_us": left, "right_us": right},
    }
    if t_kind == "pca9685":
        if (s_pin["i2c_bus"], s_pin["address"]) != (t_pin["i2c_bus"], t_pin["address"]):
            raise DonkeyConfigError("steering and throttle on two PCA9685 boards — put both on one board")
        options |= {"i2c_bus": t_pin["i2c_bus"], "address": t_pin["address"], "throttle_channel": t_pin["channel"],
                    "steering_channel": s_pin["channel"], "frequency_hz": DONKEY_FRAME_HZ}
        return "pca9685", options
    options |= {"esc_pin": t_pin["pin"], "servo_pin": s_pin["pin"], "pin_factory": t_pin["pin_factory"]}
    return "gpio", options
