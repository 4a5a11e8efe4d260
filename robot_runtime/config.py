"""A car's own configuration: who it is, its hard limits, its loop rate and where its server is.

The hard limits here are the car's last word: session limits from the server can only make them
tighter, never looser (see safety.py). Every field validates itself; an error names the field and
its bound, e.g. "limits.max_speed_pct: Input should be less than or equal to 100 (got 150)".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from robot_runtime.deadman import DEADMAN_S, coast_before_neutral_s
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import CarId

DEFAULT_RATE_HZ = 50.0  # 20 ms ticks: fine steering for a 3 m/s car (6 cm per tick), cheap on a Pi


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class HardLimits(_Strict):
    """Limits the car always applies, whatever the server says.

    Throttle and steering are fractions (-1..1); rates are fractions per second.
    """

    max_speed_pct: Annotated[float, Field(ge=0, le=100)] = 100.0
    # Backing up: no sensor looks behind the car, only the fence does, so reverse has its own, lower cap.
    max_reverse_pct: Annotated[float, Field(ge=0, le=100)] = 50.0
    max_steer_pct: Annotated[float, Field(ge=0, le=100)] = 100.0
    # 0 -> full throttle in 0.25 s: quick enough for donuts, gentle enough not to pop a wheelie.
    max_accel_per_s: Annotated[float, Field(gt=0, le=100)] = 4.0
    # Full -> 0 in 125 ms: a controlled stop, still well inside the 300 ms watchdog.
    max_decel_per_s: Annotated[float, Field(gt=0, le=100)] = 8.0
    # Lock to lock (-1 -> 1) in 0.25 s: about a hobby servo's own speed, so no command is lost.
    max_steer_rate_per_s: Annotated[float, Field(gt=0, le=100)] = 8.0
    # What the car can really brake on a classroom floor (about 0.4 g); the fence plans with it.
    # Bounds: under 50 cm/s^2 (0.05 g) is a car without brakes; over 1200 (1.2 g) no tyre holds on a floor.
    brake_decel_cm_s2: Annotated[float, Field(ge=50, le=1200)] = 400.0
    # Stopping is planned as speed * reaction_s + speed^2 / (2 * brake_decel): reaction_s covers one tick
    # plus the ESC speed controller's time constant (the simulator's ESC: 0.25 s; real ESCs are similar).
    # CarConfig also ties it to the loop: at least the dead-man's timeout plus one tick (see below).
    reaction_s: Annotated[float, Field(ge=0, le=1)] = 0.3
    # Margins under 1 cm (fence) / 2 cm (sensor) are below what a pose estimate or a ranger resolves.
    fence_margin_cm: Annotated[float, Field(ge=1, le=100)] = 5.0  # stop this far before a wall or the fence
    obstacle_margin_cm: Annotated[float, Field(ge=2, le=100)] = 8.0  # stop this far before what the sensor sees


class SpecConfig(_Strict):
    """CarSpec as a validated config section."""

    name: str = "rc-1/10"
    wheelbase_cm: Positive = 26.0
    length_cm: Positive = 40.0
    width_cm: Positive = 20.0
    top_speed_cm_s: Annotated[float, Field(gt=0, le=2000)] = 300.0
    max_steer_deg: Annotated[float, Field(gt=0, lt=60)] = 27.0
    sensor_range_cm: Positive = 200.0

    def to_spec(self) -> CarSpec:
        return CarSpec(**self.model_dump())


class CarConfig(_Strict):
    car_id: CarId
    hardware: Annotated[str, Field(min_length=1, max_length=40)] = "sim"  # a kind from drivers.HARDWARE_KINDS
    hardware_options: dict[str, Any] = {}  # passed to the driver (pins, serial port, noise, seed ...)
    # one URL, or several (comma-separated) processes of one classroom service: each must be http(s)://
    server_url: Annotated[str, Field(pattern=r"^https?://[^,\s]+(,\s*https?://[^,\s]+)*$")] = "http://127.0.0.1:8080"
    token: Annotated[str, Field(min_length=1, max_length=256)] = "dev-car-token"
    rate_hz: Annotated[float, Field(ge=5, le=500)] = DEFAULT_RATE_HZ
    limits: HardLimits = HardLimits()
    spec: SpecConfig = SpecConfig()
    arena_file: str | None = None
    log_file: str | None = None
    watchdog: bool = True  # off only for headless runs with no server (evaluation, training)
    policies: list[str] = []  # policy manifests (YAML/JSON next to their .onnx) to register as skills
    # Where learned skills the server sends are kept (skill_shelf.py); None: a real car keeps them in
    # ~/.local/share/mikro-dojo/skills/CAR, a simulated one in a temporary folder until it stops.
    skills_dir: str | None = None
    # realtime: a car driven by a classroom server (watchdog on, no skill before the server's limits);
    # headless: evaluation and training on a ManualClock, no server (ControlLoop.run_headless).
    mode: Literal["realtime", "headless"] = "realtime"
    # Where the latched e-stop is kept across restarts; None: `dojo car` picks one (estop_latch.py).
    estop_file: str | None = None

    @model_validator(mode="after")
    def _physically_sound(self) -> "CarConfig":
        if self.mode == "realtime" and not self.watchdog:
            raise ValueError("watchdog: false is only allowed with mode: headless (a car that runs in real "
                             "time always stops by itself when its server goes quiet) — remove `watchdog: false`")
        if self.hardware != "sim" and self.mode == "realtime" and not self.arena_file:
            raise ValueError(f"arena_file is required for hardware: {self.hardware} — a real car's own arena is the "
                             "outer bound of its fence (a server can only add walls inside it); measure the floor "
                             "and write an arena file (docs/car-runtime.md)")
        tick = 1.0 / self.rate_hz
        need = coast_before_neutral_s(self.rate_hz)
        if self.limits.reaction_s + 1e-9 < need:
            raise ValueError(
                f"limits.reaction_s must cover the dead-man's {DEADMAN_S:g} s plus one tick ({tick:.3f} s at "
                f"{self.rate_hz:g} Hz): at least {need:.3f} s (got {self.limits.reaction_s:g}) — raise "
                f"limits.reaction_s to {need:.3f} or more (measure it with `dojo car calibrate`)")
        return self


class ConfigError(ValueError):
    """A car config file that cannot be used; the message names the file, the field and the bound."""


def read_config_mapping(path: Path, what: str, error: type[ValueError]) -> dict[str, Any]:
    """A YAML/JSON config file's fields; `error` names the file and what is wrong (shared with the server)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist — pass the path of a YAML or JSON file") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{what} {path} must be a mapping of fields (got {type(data).__name__})")
    return data


def load_car_config(path: str | Path, **overrides: Any) -> CarConfig:
    p = Path(path)
    data = read_config_mapping(p, "car config", ConfigError)
    # Files named in the config are relative to the config file, not to wherever the car was started.
    for key in ("arena_file", "log_file", "estop_file"):
        if isinstance(data.get(key), str):
            data[key] = str(p.parent / data[key])
    if isinstance(data.get("policies"), list):
        data["policies"] = [str(p.parent / m) if isinstance(m, str) else m for m in data["policies"]]
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return CarConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"car config {p}:\n{format_validation_error(exc)}") from None


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field.path: what is wrong (got value)`."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        got = err.get("input")
        lines.append(f"  {where}: {err['msg']} (got {got!r})")
    return "\n".join(lines)


def write_config(path: Path, data: dict[str, Any]) -> None:
    """Write a car config readable only by its owner (it holds the car's token)."""
    CarConfig.model_validate(data)  # never write a config the car cannot load
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=False, default_flow_style=False)
    os.replace(tmp, path)


def read_config_data(path: Path) -> dict[str, Any]:
    """A car config file's fields as written (for the setup commands that edit it)."""
    return read_config_mapping(path, "car config", ConfigError)
