"""The classroom's learned skills as the server sees them: the store on disk, the catalog's skill
source (the `do skill` menus), and the package a car gets for a skill's current version.

The store (learning/store.py) is the truth; `dojo skills ...` and the server's own teach jobs both
write it. ``scan()`` (every WATCH_S, and at once after the server changes something) reads which
version of which skill is current and at which level, and says whether that changed; the catalog's
source answers from that snapshot, so listing skills (asked for every block) never touches the disk.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path

from curriculum.catalog import CATALOG, Skill
from learning.store import SkillStore, SkillStoreError
from robot_runtime.protocol import SkillPackage

log = logging.getLogger(__name__)

WATCH_S = 2.0  # `dojo skills promote` from a terminal reaches the menus and the cars within this


@dataclass(frozen=True)
class Current:
    name: str
    level: int
    version: str
    trick: str
    taught_by: str


class LearnedSkills:
    def __init__(self, data_dir: str | Path) -> None:
        self.store = SkillStore(Path(data_dir) / "learning" / "skills")
        self.current: dict[str, Current] = {}
        self.problems: dict[str, str] = {}  # skill -> why it is left out (a damaged record)
        self.scan()

    def scan(self) -> bool:
        """Read the promoted skills again; True if the set, a version or a level changed."""
        now: dict[str, Current] = {}
        problems: dict[str, str] = {}
        for name in self.store.names():
            try:
                rec = self.store.get(name)
            except (SkillStoreError, ValueError, TypeError, KeyError) as exc:
                problems[name] = str(exc)
                continue
            if rec.current:
                now[name] = Current(name, rec.level, rec.current, rec.trick, rec.taught_by)
        changed = now != self.current
        self.current, self.problems = now, problems
        return changed

    def catalog_skills(self) -> list[Skill]:
        """The catalog's skill source: promoted skills at their level (the catalog drops a built-in's name)."""
        return [Skill(c.name, c.level, learned=True) for c in self.current.values()]

    def attach(self) -> None:
        CATALOG.add_skill_source(self.catalog_skills)

    def detach(self) -> None:
        CATALOG.remove_skill_source(self.catalog_skills)

    def package(self, name: str) -> SkillPackage:
        """The current version's files for a car, each hash-checked against the store's record first
        (a file changed on the server's disk raises TamperedModel and is never sent)."""
        rec = self.store.get(name)
        if rec.current is None:
            raise SkillStoreError(f"skill {name} has no promoted version to send")
        self.store.verify(name, rec.current)
        version = rec.version(rec.current)
        vdir = self.store.version_dir(name, rec.current)
        files = {f: base64.b64encode((vdir / f).read_bytes()).decode("ascii") for f in version.files}
        return SkillPackage(name=name, version=rec.current, files=files, sha256=dict(version.files))
