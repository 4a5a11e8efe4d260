"""The one seam between the classroom and the cars: what the classroom may send to a car.

server/cars implements it over the /car socket.io namespace and is passed into the Classroom when
the app is built; what cars send back (hello, results, telemetry) the adapter hands to the classroom.
Every send raises ConnectionError (or TimeoutError for an awaited ack) when the car is not there.
A skill and session limits are acknowledged: a limits ack is how the classroom knows the car runs with
a level's limits before it dispatches the next block that depends on them.
"""

from __future__ import annotations

from typing import Protocol

from robot_runtime.protocol import Ack, ArenaSetup, Cancel, SessionLimits, SkillRequest


class CarPort(Protocol):
    async def send_skill(self, car_id: str, request: SkillRequest, timeout_s: float) -> Ack: ...
    async def send_cancel(self, car_id: str, cancel: Cancel) -> None: ...
    async def send_stop(self, car_id: str, reason: str) -> None: ...
    async def send_estop(self, car_id: str, reason: str) -> None: ...
    async def send_reset_estop(self, car_id: str, reason: str) -> None: ...
    async def send_limits(self, car_id: str, limits: SessionLimits, timeout_s: float) -> Ack: ...
    async def send_arena(self, car_id: str, setup: ArenaSetup) -> None: ...
