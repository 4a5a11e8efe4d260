"""A level change reaches the car before the next block that depends on it (hardening finding 7).

The car at the edge of the server answers a limits message the way the real runtime does when a stalled
tick holds its loop (`car_busy`): the limits did not take. The classroom must not count on limits the car
has not acknowledged, so the donut of a kid raised to Level 4 goes out only after the car confirmed Level 4.
"""

from __future__ import annotations

import asyncio

from robot_runtime.protocol import Ack, ErrorInfo, SkillRequest, SkillResult
from server.core.classroom import Classroom
from server.core.config import ServerConfig
from server.core.storage import SqliteStorage

CAR_BUSY = Ack(ok=False, error=ErrorInfo(rule="car_busy", message="the car's control loop is stuck right now"))


class BusyOnceCar:
    """Accepts limits only when not busy; records which level it runs with when each skill arrives."""

    def __init__(self, busy_answers: int) -> None:
        self.busy_answers = busy_answers  # how many limits messages (after the first) it answers car_busy
        self.level: int | None = None
        self.limits_seen = 0
        self.skills: list[tuple[str, int | None]] = []
        self.classroom: Classroom | None = None

    async def send_limits(self, car_id: str, limits, timeout_s: float) -> Ack:
        self.limits_seen += 1
        if self.limits_seen > 1 and self.busy_answers > 0:
            self.busy_answers -= 1
            return CAR_BUSY
        self.level = limits.level
        return Ack(ok=True)

    async def send_skill(self, car_id: str, request: SkillRequest, timeout_s: float) -> Ack:
        self.skills.append((request.action.name if hasattr(request.action, "name") else request.action.kind,
                            self.level))
        asyncio.get_running_loop().call_soon(
            self.classroom.dispatcher.on_result, car_id, SkillResult(request_id=request.request_id, status="done"))
        return Ack(ok=True)

    async def send_cancel(self, car_id, cancel) -> None: ...
    async def send_stop(self, car_id, reason) -> None: ...
    async def send_estop(self, car_id, reason) -> None: ...
    async def send_reset_estop(self, car_id, reason) -> None: ...
    async def send_arena(self, car_id, setup) -> Ack:
        return Ack(ok=True)


async def _raise_then_donut(car: BusyOnceCar):
    classroom = Classroom(ServerConfig(data_dir="/tmp/unused-dojo", secret_key="k" * 32), SqliteStorage(":memory:"), car)
    car.classroom = classroom
    kid, _, _ = classroom.join(classroom.create_class("Level class"), "Dee")
    classroom.assign("car-1", [kid.kid_id])
    await classroom.car_connected("car-1", "sim")
    assert car.level == 1
    classroom.set_level(kid.kid_id, 4)
    reply = await classroom.run_block(kid.kid_id, "do_skill", {"skill": "donut"})
    await classroom.close()
    return reply


def test_a_busy_car_gets_the_new_level_before_the_skill():
    car = BusyOnceCar(busy_answers=1)
    reply = asyncio.run(_raise_then_donut(car))
    assert reply.status == "done", reply
    assert car.skills == [("donut", 4)], "the donut reached the car only once it ran with Level 4's limits"


def test_a_car_that_never_takes_the_limits_gets_no_skill():
    car = BusyOnceCar(busy_answers=99)
    reply = asyncio.run(_raise_then_donut(car))
    assert car.skills == [], "nothing was sent to a car with the old level's limits"
    assert reply.status == "failed" and reply.rule == "limits_not_acknowledged"
    assert reply.kid_text == "Your car is busy for a moment. Try again!"
