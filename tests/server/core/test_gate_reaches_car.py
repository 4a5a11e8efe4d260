"""Property: no refused block ever reaches a car; what reaches a car is within the kid's level.

The Classroom runs for real (catalog -> gate -> dispatcher); the car is a recording stand-in at the
edge of the server (it acks and answers `done` at once), so hypothesis can try thousands of calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curriculum.levels import LEVELS
from robot_runtime.protocol import Ack, Cancel, DriveAction, GotoAction, NamedSkillAction, SkillRequest, SkillResult, TurnAction
from curriculum.catalog import BLOCKS
from server.core.classroom import Classroom
from server.core.config import RateLimits, ServerConfig
from server.core.storage import SqliteStorage


class RecordingCar:
    """The car's side of the link: records every request with the level in force, answers done."""

    def __init__(self) -> None:
        self.requests: list[tuple[SkillRequest, int | None]] = []
        self.stops = 0
        self.limits_level: int | None = None
        self.classroom: Classroom | None = None

    async def send_skill(self, car_id: str, request: SkillRequest, timeout_s: float) -> Ack:
        self.requests.append((request, self.limits_level))
        asyncio.get_running_loop().call_soon(
            self.classroom.dispatcher.on_result, car_id, SkillResult(request_id=request.request_id, status="done"))
        return Ack(ok=True)

    async def send_cancel(self, car_id: str, cancel: Cancel) -> None: ...
    async def send_stop(self, car_id: str, reason: str) -> None:
        self.stops += 1
    async def send_estop(self, car_id: str, reason: str) -> None: ...
    async def send_reset_estop(self, car_id: str, reason: str) -> None: ...
    async def send_limits(self, car_id: str, limits, timeout_s: float) -> Ack:
        self.limits_level = limits.level
        return Ack(ok=True)
    async def send_arena(self, car_id: str, setup) -> Ack:
        return Ack(ok=True)


ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                      st.text(max_size=12), st.sampled_from(["left", "right", "slalom", "donut", "drift", "x", "heading"]))


@st.composite
def calls(draw):
    block_ids = [b.id for b in BLOCKS] + ["fly", "", "MOVE_FORWARD"]
    out = []
    for _ in range(draw(st.integers(1, 12))):
        block_id = draw(st.sampled_from(block_ids))
        names = next(([p.name for p in b.params] for b in BLOCKS if b.id == block_id), [])
        keys = draw(st.lists(st.sampled_from(names + ["speed", "bogus"]), max_size=3, unique=True))
        out.append((block_id, {k: draw(ANY_VALUE) for k in keys}))
    return draw(st.integers(1, 4)), out


async def _run(level: int, sequence: list[tuple[str, dict[str, Any]]]) -> None:
    config = ServerConfig(data_dir="/tmp/unused-dojo", secret_key="k" * 32, rate_limits=RateLimits(burst=6))
    car = RecordingCar()
    classroom = Classroom(config, SqliteStorage(":memory:"), car)  # the car is the classroom's CarPort
    car.classroom = classroom
    code = classroom.create_class("Prop class")
    kid, _, _ = classroom.join(code, "Mia")
    classroom.assign("car-1", [kid.kid_id])
    await classroom.car_connected("car-1", "sim")
    classroom.set_level(kid.kid_id, level)
    top = LEVELS[level].max_speed_pct
    reached = 0
    for block_id, args in sequence:
        reply = await classroom.run_block(kid.kid_id, block_id, args)
        assert reply.status in ("done", "refused", "failed", "cancelled", "timed_out")
        if reply.status == "refused":
            assert reply.kid_text and reply.rule and not reply.request_id
        if reply.request_id:
            reached += 1
    commands = [r for r, _ in car.requests]
    assert len(commands) == reached  # exactly the accepted calls reached the car
    for request, limits_level in car.requests:
        action = request.action
        assert limits_level == level  # the car had this kid's limits before the request
        if isinstance(action, (DriveAction, TurnAction, GotoAction, NamedSkillAction)):
            assert action.speed_pct <= top
        if isinstance(action, NamedSkillAction):
            assert LEVELS[level].allows_skill(action.name)
        if isinstance(action, GotoAction):
            assert LEVELS[level].allows_block("go_to")
    await classroom.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls())
def test_no_refused_block_ever_reaches_the_car(case):
    level, sequence = case
    asyncio.run(_run(level, sequence))
