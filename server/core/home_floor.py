"""The home floor: the arena the set-up wizard measured, which lessons are fitted into (issue 18).

The arena camera feature (server/arena_camera) sets it when the wizard saves ``<data_dir>/arena.yaml``
and when the server starts with one; the lessons feature reads it through the Classroom
(``Classroom.home_floor_for``) to run a lesson moved or shrunk onto it (curriculum/lesson_fit.py).
Neither feature imports the other.

Which cars stand on it: the floor is what the camera measured, so every real car (it is on that floor,
in front of that camera) — and simulated cars only when the floor measured was the simulated room
(``sim_cars``: the camera source saved was ``sim``, as in ``dojo demo``, where the simulated cars are
what the camera films). A simulated car next to a real camera drives in its own virtual arena: its
lessons run as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from robot_runtime.arena import Arena


@dataclass(frozen=True)
class HomeFloor:
    arena: Arena  # the measured floor (size, corner markers); lessons are fitted into it
    sim_cars: bool = False  # the simulated room was measured: simulated cars are on this floor too

    def for_kind(self, kind: str) -> Arena | None:
        """The floor a car of this kind ("sim" or "real") drives on, or None (its lessons run as written)."""
        return self.arena if kind != "sim" or self.sim_cars else None
