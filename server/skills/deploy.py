"""Learned skills reach the cars: every connected car gets the current version of every promoted skill,
hash-checked on both ends, and keeps it (robot_runtime/skill_shelf.py).

When the set changes (a promotion, a rollback, `dojo skills` in a terminal) or a car connects, the
deployer sends each car what it lacks, then the classroom sends every car its limits again, so the
level's allowed skills name the new one. A rollback is the previous version sent again. What each car
answered (installed, or the car's error naming the rule and the fix) is kept for the teacher's page.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from learning.store import SkillStoreError
from server.core.car_port import CarPort
from server.core.classroom import Classroom
from server.skills.learned import LearnedSkills

log = logging.getLogger(__name__)

INSTALL_TIMEOUT_S = 10.0  # a car writes two small files and opens an onnxruntime session: well under a second


@dataclass(frozen=True)
class CarCopy:
    version: str
    ok: bool
    message: str = ""  # the car's (or the server's) reason when not ok


class Deployer:
    def __init__(self, classroom: Classroom, cars: CarPort, learned: LearnedSkills) -> None:
        self.classroom = classroom
        self.cars = cars
        self.learned = learned
        self.copies: dict[str, dict[str, CarCopy]] = {}  # car_id -> skill -> what the car has
        self._lock = asyncio.Lock()

    def forget(self, car_id: str) -> None:
        """A car that went away may come back as a fresh process (a simulated car keeps nothing)."""
        self.copies.pop(car_id, None)

    async def deploy_all(self) -> None:
        async with self._lock:
            for car_id in self.classroom.connected_car_ids():
                await self._deploy(car_id)
        await self.classroom.refresh_limits()

    async def deploy_to(self, car_id: str) -> None:
        async with self._lock:
            await self._deploy(car_id)

    async def _deploy(self, car_id: str) -> None:
        have = self.copies.setdefault(car_id, {})
        for name, cur in list(self.learned.current.items()):
            copy = have.get(name)
            if copy is not None and copy.ok and copy.version == cur.version:
                continue
            try:
                package = self.learned.package(name)
            except (SkillStoreError, OSError) as exc:  # a damaged file on the server is never sent
                have[name] = CarCopy(cur.version, False, f"not sent: {exc}")
                log.error("learned skill %s not sent to %s: %s", name, car_id, exc)
                continue
            try:
                ack = await self.cars.send_skill_package(car_id, package, INSTALL_TIMEOUT_S)
            except (ConnectionError, TimeoutError) as exc:
                have[name] = CarCopy(cur.version, False, str(exc))
                continue
            have[name] = CarCopy(cur.version, ack.ok, "" if ack.ok or ack.error is None else ack.error.message)
            if ack.ok:
                log.info("learned skill %s %s installed on %s", name, cur.version, car_id)
            else:
                log.warning("%s refused learned skill %s %s: %s", car_id, name, cur.version, have[name].message)

    def status(self, name: str) -> dict[str, dict]:
        return {car: {"version": c.version, "ok": c.ok, "message": c.message}
                for car, skills in self.copies.items() for n, c in skills.items() if n == name}
