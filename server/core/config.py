"""The classroom server's configuration: one typed, self-validating model.

Every field has a safe default for a laptop on a classroom network; `dojo server` and `dojo demo`
build one from their command line. Errors name the field and the bound (pydantic does that for us).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from robot_runtime.protocol import CarId

DEFAULT_PORT = 8080

# Timeouts (seconds). Named here so every wait that a person or a car depends on is explicit.
CAR_ACK_TIMEOUT_S = 2.0  # a connected car acks a skill request in ~1 ms; 2 s means the link is broken
RESULT_MARGIN_S = 3.0  # extra wait after the skill's own timeout before the server gives up on a result
STOP_GRACE_S = 1.0  # after a stop, how long the server waits for the car's `cancelled` before answering itself


class RateLimits(BaseModel):
    """Per-kid token bucket for block calls (stop is never limited)."""

    model_config = ConfigDict(extra="forbid")

    blocks_per_s: Annotated[float, Field(gt=0, le=1000)] = 5.0  # a fast Scratch loop of short moves, not a flood
    burst: Annotated[int, Field(ge=1, le=10_000)] = 20  # lets a program start with a quick series of settings
    teacher_logins_per_min: Annotated[int, Field(ge=1, le=1000)] = 10  # slows password guessing on the LAN


class Timeouts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    car_ack_s: Annotated[float, Field(gt=0, le=60)] = CAR_ACK_TIMEOUT_S
    result_margin_s: Annotated[float, Field(ge=0, le=60)] = RESULT_MARGIN_S
    stop_grace_s: Annotated[float, Field(gt=0, le=30)] = STOP_GRACE_S
    min_skill_s: Annotated[float, Field(gt=0, le=120)] = 5.0  # the shortest skill timeout (accelerate, move, settle)
    socket_ping_interval_s: Annotated[float, Field(gt=0, le=60)] = 5.0  # a dead browser tab is noticed within ~8 s
    socket_ping_timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    teacher_session_s: Annotated[float, Field(gt=0)] = 12 * 3600.0  # one school day
    kid_token_max_age_s: Annotated[float, Field(gt=0)] = 7 * 24 * 3600.0  # a week of lessons without rejoining


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_PORT  # 0: pick a free port (tests)
    data_dir: Path = Path("var/server")
    # The teacher's password: either an initial plain password (hashed and stored on first start)
    # or a ready hash from `server.core.auth.hash_password`. Neither: the stored hash is used.
    teacher_password: Annotated[str, Field(min_length=4, max_length=200)] | None = None
    teacher_password_hash: str | None = None
    # Car pairing: per-car tokens, and/or one shared pairing secret every car may use.
    car_tokens: dict[CarId, Annotated[str, Field(min_length=8, max_length=256)]] = {}
    car_pairing_secret: Annotated[str, Field(min_length=8, max_length=256)] | None = None
    # Signs kid tokens. None: a random key is made once and kept in data_dir/secret_key.
    secret_key: Annotated[str, Field(min_length=16)] | None = None
    # Extra browser origins allowed to open socket.io (same origin is always allowed),
    # e.g. "https://turbowarp.org" for the Scratch extension in TurboWarp.
    allowed_origins: list[str] = []
    # Also listen on localhost:PORT (usually 8000): TurboWarp runs an extension unsandboxed (with the
    # device dialog) only when its URL starts with http://localhost:8000/ (server.scratch.link).
    turbowarp_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    rate_limits: RateLimits = RateLimits()
    timeouts: Timeouts = Timeouts()
    telemetry_max_hz: Annotated[float, Field(gt=0, le=100)] = 20.0  # per browser; the car sends 20 Hz
    auto_assign_cars: bool = True  # a kid who joins without a car gets the least busy one
    default_class_code: str | None = None  # `dojo demo` creates this class ("DEMO") if missing
    arena_path: Path | None = None  # the default arena for every car; None: robot_runtime's DEFAULT_ARENA
    # The arena camera to start with (server/arena_camera): "sim" (`dojo demo`: the simulated overhead
    # camera), "usb:0", an http:// or rtsp:// URL; None: the one the set-up wizard saved, if any.
    camera_source: Annotated[str, Field(min_length=1, max_length=500)] | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_urls(cls, v: list[str]) -> list[str]:
        for origin in v:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"allowed origin must start with http:// or https:// (got {origin!r})")
        return v

    @property
    def db_path(self) -> Path:
        return self.data_dir / "classroom.sqlite3"

    def resolved_secret_key(self) -> bytes:
        """The kid-token signing key: configured, or made once and kept next to the database."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()
