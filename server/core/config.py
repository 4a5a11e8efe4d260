"""The classroom server's configuration: one typed, self-validating model.

Every field has a safe default for a laptop on a classroom network; `dojo server` and `dojo demo`
build one from their command line. Errors name the field and the bound (pydantic does that for us).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from robot_runtime.private_files import private_dir, write_private
from robot_runtime.protocol import CarId

DEFAULT_PORT = 8080

# Timeouts (seconds). Named here so every wait that a person or a car depends on is explicit.
CAR_ACK_TIMEOUT_S = 2.0  # a connected car acks a skill request in ~1 ms; 2 s means the link is broken
RESULT_MARGIN_S = 3.0  # extra wait after the skill's own timeout before the server gives up on a result
CAR_SILENT_S = 2.0  # 40 missed telemetry samples: the car or its link is gone, a new connection may replace it
STOP_GRACE_S = 1.0  # after a stop, how long the server waits for the car's `cancelled` before answering itself


class RateLimits(BaseModel):
    """Token buckets: per kid for block calls (stop is never limited) and runs, per computer and per class
    for joins, per computer for unknown class codes (docs/threat-model.md "Floods")."""

    model_config = ConfigDict(extra="forbid")

    blocks_per_s: Annotated[float, Field(gt=0, le=1000)] = 5.0  # a fast Scratch loop of short moves, not a flood
    burst: Annotated[int, Field(ge=1, le=10_000)] = 20  # lets a program start with a quick series of settings
    teacher_logins_per_min: Annotated[int, Field(ge=1, le=1000)] = 10  # slows password guessing on the LAN
    runs_per_s: Annotated[float, Field(gt=0, le=100)] = 0.5  # green flags: each run may become a graded attempt
    run_burst: Annotated[int, Field(ge=1, le=1000)] = 5  # a few quick restarts before the wait starts
    # POST /api/join: a class of 30 joins at once from 30 computers (or a few shared ones); a script does not
    joins_per_address_per_min: Annotated[float, Field(gt=0, le=100_000)] = 30.0
    join_burst_per_address: Annotated[int, Field(ge=1, le=100_000)] = 30
    joins_per_class_per_min: Annotated[float, Field(gt=0, le=100_000)] = 60.0
    join_burst_per_class: Annotated[int, Field(ge=1, le=100_000)] = 60
    # a mistyped class code costs one of these: 10 tries, then one a minute per computer (33 million codes)
    unknown_codes_per_address_per_min: Annotated[float, Field(gt=0, le=100_000)] = 1.0
    unknown_code_burst: Annotated[int, Field(ge=1, le=100_000)] = 10
    refusal_report_s: Annotated[float, Field(gt=0, le=60)] = 1.0  # refused blocks: one row per kid per this, counted


class RequestLogRetention(BaseModel):
    """How long the request log keeps its rows (pruned once a minute and at start-up)."""

    model_config = ConfigDict(extra="forbid")

    max_rows: Annotated[int, Field(ge=100)] = 200_000  # a term of a busy class (~100 MB of SQLite)
    max_age_days: Annotated[float, Field(gt=0)] = 30.0  # long enough to look back over a month of lessons


class Timeouts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    car_ack_s: Annotated[float, Field(gt=0, le=60)] = CAR_ACK_TIMEOUT_S
    result_margin_s: Annotated[float, Field(ge=0, le=60)] = RESULT_MARGIN_S
    stop_grace_s: Annotated[float, Field(gt=0, le=30)] = STOP_GRACE_S
    min_skill_s: Annotated[float, Field(gt=0, le=120)] = 5.0  # the shortest skill timeout (accelerate, move, settle)
    socket_ping_interval_s: Annotated[float, Field(gt=0, le=60)] = 5.0  # a dead browser tab is noticed within ~8 s
    socket_ping_timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    # A car heard from (telemetry, results) within this is alive: a second connection with its token is
    # refused. Cars send telemetry at 20 Hz, so 2 s of silence means the car or its link is gone; it is
    # far below the socket ping timeout, so a restarted car gets back in within seconds.
    car_silent_s: Annotated[float, Field(gt=0, le=60)] = CAR_SILENT_S
    teacher_session_s: Annotated[float, Field(gt=0)] = 12 * 3600.0  # one school day
    kid_token_max_age_s: Annotated[float, Field(gt=0)] = 7 * 24 * 3600.0  # a week of lessons without rejoining
    # a /scratch/ble socket without a valid kid token is closed after this: the extension authenticates at once
    scratch_auth_s: Annotated[float, Field(gt=0, le=120)] = 10.0


class OpsConfig(BaseModel):
    """Running the server behind a load balancer: metrics, logs, draining (docs/deploy.md)."""

    model_config = ConfigDict(extra="forbid")

    # GET /metrics answers a request with `Authorization: Bearer <metrics_token>`, and (unless turned off)
    # a direct request from this machine (loopback, not forwarded by a proxy). Nothing else may read it.
    metrics_token: Annotated[str, Field(min_length=16, max_length=256)] | None = None
    metrics_from_loopback: bool = True
    log_format: Literal["human", "json"] = "human"  # json: one object per line, for a log collector
    # SIGTERM: running blocks may finish this long (a class's moves take seconds; a block's own skill timeout
    # can reach 120 s), then their cars are stopped so every kid still gets a final answer, and we exit.
    drain_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_PORT  # 0: pick a free port (tests)
    data_dir: Path = Path("var/server")
    # Where the classroom keeps its data: None = SQLite in data_dir (one classroom, nothing to set up);
    # postgresql://user:password@host:port/name for a district (several server processes on one database);
    # sqlite:///path/to/file.sqlite3 for a SQLite file elsewhere. docs/storage.md.
    database: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
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
    request_log: RequestLogRetention = RequestLogRetention()
    timeouts: Timeouts = Timeouts()
    telemetry_max_hz: Annotated[float, Field(gt=0, le=100)] = 20.0  # per browser; the car sends 20 Hz
    auto_assign_cars: bool = True  # a kid who joins without a car gets the least busy one
    default_class_code: str | None = None  # `dojo demo` creates this class ("DEMO") if missing
    arena_path: Path | None = None  # the default arena for every car; None: robot_runtime's DEFAULT_ARENA
    # Simulated cars in the default arena share one floor and avoid (and bump into) each other. Off by
    # default for now: the demo's start slots (45 cm apart) leave no room for a kid's first 90-degree
    # turn, which cars passing through each other never needed. Real cars always see each other.
    sim_cars_see_each_other: bool = False
    # The arena camera to start with (server/arena_camera): "sim" (`dojo demo`: the simulated overhead
    # camera), "usb:0", an http:// or rtsp:// URL; None: the one the set-up wizard saved, if any.
    camera_source: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    ops: OpsConfig = OpsConfig()  # metrics, structured logs, the drain on SIGTERM
    # Several server processes (docs/cluster.md): the Redis they share (socket.io rooms and emits across
    # processes, requests to cars held by another process, classroom events). None: one process, no Redis.
    redis_url: Annotated[str, Field(max_length=500)] | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_urls(cls, v: list[str]) -> list[str]:
        for origin in v:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"allowed origin must start with http:// or https:// (got {origin!r})")
        return v

    @field_validator("database")
    @classmethod
    def _database_is_a_url(cls, v: str | None) -> str | None:
        if v is not None:
            from server.core.storage import parse_database_url

            parse_database_url(v)  # its ValueError names both forms
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"redis_url must start with redis://, rediss:// or unix:// (got {v!r}), "
                             "e.g. redis://127.0.0.1:6379/0")
        return v

    @property
    def db_path(self) -> Path:
        return self.data_dir / "classroom.sqlite3"

    def resolved_secret_key(self) -> bytes:
        """The kid-token signing key: configured, or made once and kept next to the database."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        private_dir(self.data_dir)
        if not path.exists():
            write_private(path, secrets.token_hex(32))  # 0600 from its first byte (robot_runtime/private_files.py)
        return path.read_text().strip().encode()
