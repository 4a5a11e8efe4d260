"""Messages between a car runtime and the classroom server (socket.io namespace ``/car``).

This module is the contract: the car runtime and the server both import it, nothing else is shared.
Units are kid units everywhere: centimetres, degrees (counter-clockwise positive, 0 along +x),
seconds, percent of the car's top speed.

Flow (server -> car events, car -> server events)::

    connect(auth=CarHello)                         car -> server   refused with a reason if the token is wrong
    "limits"  SessionLimits                        server -> car   the tighter of these and the car's own limits win
    "heartbeat" Heartbeat (every HEARTBEAT_PERIOD_S) server -> car the car's watchdog stops the car without them
    "skill"   SkillRequest -> ack Ack              server -> car   ack says accepted or names the error
    "result"  SkillResult                          car -> server   exactly one per accepted request
    "cancel"  Cancel                               server -> car   ends the running request as `cancelled`
    "stop"    Stop                                 server -> car   controlled stop now, cancels what runs
    "estop"   Stop / "reset_estop" Stop            server -> car   latched emergency stop and its explicit reset
    "arena"   ArenaSetup                           server -> car   load an arena; a simulated car is placed at the pose
    "neighbours" Neighbours (NEIGHBOURS_HZ)        server -> car   the other cars near this one, as moving obstacles
    "steer"   Steer                                server -> car   the driver's stick for a running `remote` request
    "install_skill" SkillPackage -> ack Ack        server -> car   a learned skill's files, hash-checked, kept on the car
    "telemetry" Telemetry (TELEMETRY_HZ)           car -> server
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

# 2: Telemetry says where the pose came from and how sure it is (pose_source, pose_uncertainty_cm). A
# server speaks every version in SUPPORTED_PROTOCOLS; a car refused by an older server for its version
# falls back to 1 and leaves those fields out (link.py), so old and new meet either way.
PROTOCOL_VERSION = 2
SUPPORTED_PROTOCOLS = (1, 2)
# "neighbours" (server -> car) is an additive event: a car that does not know it has no handler for it,
# and socket.io clients ignore events they have no handler for, so it needs no new protocol version.
V2_TELEMETRY_FIELDS = frozenset({"pose_source", "pose_uncertainty_cm"})  # what a protocol-1 server does not know
CAR_NAMESPACE = "/car"

HEARTBEAT_PERIOD_S = 0.1  # three heartbeats fit in one watchdog window, so one lost packet never stops a car
WATCHDOG_S = 0.3  # stop within one human reaction time of a lost link (ROS/LeKiwi use 0.5 s; we are stricter)
TELEMETRY_HZ = 20  # smooth enough for the arena view and the judge, small enough for 30 cars on one server
NEIGHBOURS_HZ = 10  # the other cars' poses, 10 times a second: 30 cm of travel at full speed between updates
MAX_NEIGHBOURS = 32  # more cars than fit near one car on a classroom floor
MAX_MESSAGE_BYTES = 64 * 1024  # no legitimate message comes near this; bigger ones are refused unread

RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
CarId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
SpeedPct = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
Centimetres = Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]

FinalStatus = Literal["done", "refused", "failed", "cancelled", "timed_out"]


class Message(BaseModel):
    """Base for every wire message: unknown fields and NaN are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Pose(Message):
    x_cm: Centimetres
    y_cm: Centimetres
    heading_deg: Annotated[float, Field(allow_inf_nan=False)]


# --- skill requests ---------------------------------------------------------------------------


class DriveAction(Message):
    """Drive straight: either a distance (negative = backward) or a time at a speed."""

    kind: Literal["drive"] = "drive"
    distance_cm: Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)] | None = None
    seconds: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False)] | None = None
    speed_pct: SpeedPct = 50

    @model_validator(mode="after")
    def _one_of_distance_or_seconds(self) -> "DriveAction":
        if (self.distance_cm is None) == (self.seconds is None):
            raise ValueError("drive needs exactly one of distance_cm or seconds")
        return self


class TurnAction(Message):
    """Change heading by driving an arc; left (counter-clockwise) is positive."""

    kind: Literal["turn"] = "turn"
    degrees: Annotated[float, Field(ge=-3600, le=3600, allow_inf_nan=False)]
    speed_pct: SpeedPct = 50


class GotoAction(Message):
    kind: Literal["goto"] = "goto"
    x_cm: Centimetres
    y_cm: Centimetres
    speed_pct: SpeedPct = 50


class NamedSkillAction(Message):
    """A named skill from the car's registry (scripted or an ONNX policy): slalom, donut, ..."""

    kind: Literal["skill"] = "skill"
    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
    speed_pct: SpeedPct = 50


class StopAction(Message):
    kind: Literal["stop"] = "stop"


class RemoteAction(Message):
    """Someone drives the car by hand (the drive page): `steer` messages carry the stick; the car
    holds still when they stop coming (skills/remote.py), and the supervisor filters every command."""

    kind: Literal["remote"] = "remote"
    speed_pct: SpeedPct = 50


Action = Annotated[
    Union[DriveAction, TurnAction, GotoAction, NamedSkillAction, StopAction, RemoteAction],
    Field(discriminator="kind"),
]


class SkillRequest(Message):
    request_id: RequestId
    action: Action
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 30.0


class Cancel(Message):
    request_id: RequestId
    reason: Annotated[str, Field(max_length=200)] = "cancelled"


class Stop(Message):
    reason: Annotated[str, Field(max_length=200)] = "stop"


Unit = Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False)]


class Steer(Message):
    """The stick of a running `remote` request: throttle and steering in -1..1 (+ is forward, left)."""

    request_id: RequestId
    throttle: Unit = 0.0
    steering: Unit = 0.0
    seq: Annotated[int, Field(ge=0)] = 0


SkillFileName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*\.(onnx|yaml)$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class SkillPackage(Message):
    """A learned skill's files for a car to keep: the model and its manifest, base64, each with the
    SHA-256 the server's store recorded. The car refuses the whole package if any file differs."""

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
    version: Annotated[str, Field(pattern=r"^v[0-9]{3,6}$")]
    files: Annotated[dict[SkillFileName, str], Field(min_length=2, max_length=2)]  # file name -> base64
    sha256: dict[SkillFileName, Sha256]

    @model_validator(mode="after")
    def _every_file_has_a_hash(self) -> "SkillPackage":
        if set(self.files) != set(self.sha256):
            raise ValueError(f"files {sorted(self.files)} and sha256 {sorted(self.sha256)} must name the same files")
        if set(self.files) != {f"{self.name}.onnx", f"{self.name}.yaml"}:
            raise ValueError(f"a skill package holds {self.name}.onnx and {self.name}.yaml (got {sorted(self.files)})")
        return self


class ErrorInfo(Message):
    """An error that names the rule, the value and the fix."""

    rule: str
    message: str
    value: Any = None
    fix: str = ""


class Ack(Message):
    ok: bool
    error: ErrorInfo | None = None


class SkillResult(Message):
    request_id: RequestId
    status: FinalStatus
    reason: str = ""  # machine reason: collision, timeout, blocked_by_safety, estop, ...
    kid_text: str = ""  # short, friendly, concrete
    detail: str = ""  # for the teacher: rule, value, limit
    final_pose: Pose | None = None
    duration_s: float = 0.0


# --- limits and session -----------------------------------------------------------------------


class Zone(Message):
    """Axis-aligned rectangle in arena centimetres."""

    x0: Centimetres
    y0: Centimetres
    x1: Centimetres
    y1: Centimetres

    @model_validator(mode="after")
    def _ordered(self) -> "Zone":
        if not (self.x0 < self.x1 and self.y0 < self.y1):
            raise ValueError(f"zone needs x0 < x1 and y0 < y1 (got {self.x0},{self.y0} .. {self.x1},{self.y1})")
        return self

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        return self.x0 + margin <= x <= self.x1 - margin and self.y0 + margin <= y <= self.y1 - margin


class SessionLimits(Message):
    """Limits the server sends for the current driver; the car applies the tighter of these and its own."""

    max_speed_pct: Annotated[float, Field(ge=0, le=100)] = 100
    max_steer_pct: Annotated[float, Field(ge=0, le=100)] = 100
    allowed_skills: list[str] | None = None  # None: every skill the car has
    fence: Zone | None = None  # the car stays inside this zone (level's arena zone)
    # arena zones closed at the driver's level: the car treats their edges as walls (one it is already
    # inside when the limits arrive stays open to it, so it can drive out)
    keep_out: Annotated[list[Zone], Field(max_length=32)] = []
    level: Annotated[int, Field(ge=1, le=4)] | None = None


class CarHello(Message):
    """The socket.io ``auth`` payload a car connects with."""

    car_id: CarId
    token: Annotated[str, Field(min_length=1, max_length=256)]
    kind: Literal["sim", "real"] = "sim"
    protocol: int = PROTOCOL_VERSION
    skills: list[str] = []


class Heartbeat(Message):
    seq: int = 0


class ArenaSetup(Message):
    arena: dict[str, Any]  # an Arena (robot_runtime.arena) as JSON; validated by the car
    pose: Pose | None = None  # simulated cars are placed here; None: the arena's start pose


class NearbyCar(Message):
    """Another car on the same floor, as the server last knew it."""

    car_id: CarId
    x_cm: Centimetres
    y_cm: Centimetres
    heading_deg: Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]
    vx_cm_s: Annotated[float, Field(ge=-5000, le=5000, allow_inf_nan=False)] = 0.0  # world frame
    vy_cm_s: Annotated[float, Field(ge=-5000, le=5000, allow_inf_nan=False)] = 0.0
    length_cm: Annotated[float, Field(gt=0, le=500, allow_inf_nan=False)] = 40.0  # its footprint
    width_cm: Annotated[float, Field(gt=0, le=500, allow_inf_nan=False)] = 20.0
    # How old the pose already was when the server sent it, and how far the true position may be from it.
    age_s: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 0.0
    uncertainty_cm: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] = 0.0
    source: Literal["telemetry", "camera"] = "telemetry"


class Neighbours(Message):
    """The cars near this one (within the server's radius), replacing the previous list. The car treats
    them as moving obstacles (robot_runtime/neighbours.py): it can only add to what the car avoids."""

    seq: Annotated[int, Field(ge=0)] = 0
    cars: Annotated[list[NearbyCar], Field(max_length=MAX_NEIGHBOURS)] = []
    # Where the overhead camera sees this car itself (fresh camera poses only): a real car fuses it with
    # its dead reckoning (robot_runtime/pose.py); a simulated car knows better and ignores it.
    own: NearbyCar | None = None


# --- telemetry --------------------------------------------------------------------------------


PoseSource = Literal["sim", "camera", "encoder", "speed_model"]  # simulator truth, an overhead-camera fix, dead reckoning

SafetyReason = Literal[
    "speed_limit", "steer_limit", "slew", "fence", "obstacle", "watchdog", "estop", "skill_not_allowed",
    "sensor_fault", "pose_lost", "stall",
]


class SafetyEvent(Message):
    t: float
    reason: SafetyReason
    kid_text: str  # "I stopped: wall 10 cm ahead"
    detail: str = ""
    value: float | None = None
    limit: float | None = None


class CollisionEvent(Message):
    t: float
    with_: Annotated[str, Field(alias="with")]  # "wall", "cone:3", "edge", "car:car-2"
    x_cm: float
    y_cm: float
    speed_cm_s: float

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SkillProgress(Message):
    request_id: str
    name: str
    progress: Annotated[float, Field(ge=0, le=1)]


class StageTiming(Message):
    p50_ms: float
    p99_ms: float


class Telemetry(Message):
    car_id: str
    seq: int
    t: float  # car's monotonic clock, seconds
    pose: Pose
    speed_cm_s: float  # signed, along the car's heading
    yaw_rate_dps: float = 0.0
    slip_deg: float = 0.0  # angle between heading and velocity
    distance_cm: float | None = None  # forward distance sensor; None: nothing in range
    throttle: float = 0.0  # command actually applied, -1..1 of top speed
    steering: float = 0.0  # command actually applied, -1..1 of max steering, + is left
    safety_state: Literal["ok", "limiting", "stopping", "estop", "watchdog"] = "ok"
    safety_events: list[SafetyEvent] = []  # since the previous telemetry message
    collisions: list[CollisionEvent] = []  # since the previous telemetry message
    skill: SkillProgress | None = None
    timing: dict[str, StageTiming] = {}  # per control-loop stage
    # (protocol 2) where the pose came from and how far the true position may be from it; None: not said
    pose_source: PoseSource | None = None
    pose_uncertainty_cm: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = None

    @field_validator("distance_cm")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else v


ACTION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Action)
