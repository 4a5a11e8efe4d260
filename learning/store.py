"""Learned skills on disk: every version of every skill, with hashes, and which one is in use.

    <data>/learning/skills/<name>/skill.json           the record (below), rewritten atomically
    <data>/learning/skills/<name>/versions/v003/       <name>.onnx, <name>.yaml (the manifest), train.json, eval.json

The record keeps each version's file hashes and the promotion history: the first promoted version is
the skill's **factory** version (never rolled back past), the newest is **current**, the one before it
**last-good**. A rollback makes last-good current again. Versions are never deleted by promotion or
rollback; a file whose hash no longer matches the record is refused (TamperedModel).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from robot_runtime.skills import registry

# The car's reserved names (built-in skills and actions), plus the words the store itself uses for drivers.
RESERVED_NAMES = registry.RESERVED_NAMES | {"skill", "expert"}
NAME_MAX = 40


class SkillStoreError(ValueError):
    """A request the store cannot carry out; the message names the skill, the rule and the fix."""


class TamperedModel(SkillStoreError):
    """A version's file differs from the hash recorded when it was made."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_name(name: str) -> str:
    if not (1 <= len(name) <= NAME_MAX and name[0].isalpha() and name.replace("_", "a").isalnum()
            and name == name.lower() and name.isascii()):
        raise SkillStoreError(f"skill name must be lower_snake_case, 1-{NAME_MAX} letters, digits or _ starting "
                              f"with a letter (got {name!r}), e.g. mia_park")
    if name in RESERVED_NAMES:
        raise SkillStoreError(f"skill name {name!r} belongs to a built-in skill or action; a learned skill needs "
                              f"its own name, e.g. {name}_learned or mia_{name}")
    return name


@dataclass
class Version:
    id: str  # v001, v002 ...
    created: float
    files: dict[str, str]  # file name -> sha256
    dataset: str = ""
    train: dict = field(default_factory=dict)
    eval: dict | None = None  # the latest EvalReport.to_dict() without per-episode paths


@dataclass
class SkillRecord:
    name: str
    trick: str
    taught_by: str
    created: float
    versions: list[Version] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)  # promotion history; current is the last
    level: int = 3  # the first level whose kids get it as a block (do skill opens at 3)

    @property
    def current(self) -> str | None:
        return self.promoted[-1] if self.promoted else None

    @property
    def last_good(self) -> str | None:
        return self.promoted[-2] if len(self.promoted) >= 2 else None

    @property
    def factory(self) -> str | None:
        return self.promoted[0] if self.promoted else None

    def version(self, vid: str) -> Version:
        for v in self.versions:
            if v.id == vid:
                return v
        raise SkillStoreError(f"skill {self.name!r} has no version {vid!r} (it has {', '.join(v.id for v in self.versions) or 'none'})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SkillRecord":
        return cls(**{**d, "versions": [Version(**v) for v in d["versions"]]})


class SkillStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # --- records ---------------------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        return self.root / check_name(name)

    def names(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/skill.json"))

    def exists(self, name: str) -> bool:
        return (self._dir(name) / "skill.json").is_file()

    def get(self, name: str) -> SkillRecord:
        path = self._dir(name) / "skill.json"
        if not path.is_file():
            raise SkillStoreError(f"there is no learned skill {name!r} (there are: {', '.join(self.names()) or 'none'}); "
                                  f"teach it first: dojo skills train {name} --trick TRICK")
        return SkillRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def save(self, rec: SkillRecord) -> None:
        path = self._dir(rec.name) / "skill.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(rec.to_dict(), indent=1), encoding="utf-8")
        os.replace(tmp, path)  # a crash never leaves half a record

    def create(self, name: str, trick: str, taught_by: str = "", level: int = 3) -> SkillRecord:
        if not 1 <= level <= 4:
            raise SkillStoreError(f"skill {name!r}: level must be 1..4 (got {level})")
        if self.exists(name):
            rec = self.get(name)
            if rec.trick != trick:
                raise SkillStoreError(f"skill {name!r} is a {rec.trick} skill; a {trick} needs another name")
            return rec
        rec = SkillRecord(name, trick, taught_by, time.time(), level=level)
        self.save(rec)
        return rec

    # --- versions --------------------------------------------------------------------------------

    def version_dir(self, name: str, vid: str) -> Path:
        return self._dir(name) / "versions" / vid

    def add_version(self, name: str, files: list[Path], *, dataset: str = "", train: dict | None = None) -> Version:
        """Copy a new version's files in (the model and its manifest) and record their hashes."""
        rec = self.get(name)
        vid = f"v{len(rec.versions) + 1:03d}"
        vdir = self.version_dir(name, vid)
        vdir.mkdir(parents=True, exist_ok=False)
        hashes = {}
        for f in files:
            shutil.copy2(f, vdir / f.name)
            hashes[f.name] = _sha256(vdir / f.name)
        if train is not None:
            (vdir / "train.json").write_text(json.dumps(train, indent=1), encoding="utf-8")
        version = Version(vid, time.time(), hashes, dataset, {k: v for k, v in (train or {}).items() if k != "history"})
        rec.versions.append(version)
        self.save(rec)
        return version

    def verify(self, name: str, vid: str) -> Path:
        """The version's manifest path, after checking every file against its recorded hash."""
        rec = self.get(name)
        version = rec.version(vid)
        vdir = self.version_dir(name, vid)
        for fname, digest in version.files.items():
            path = vdir / fname
            if not path.is_file():
                raise TamperedModel(f"skill {name} {vid}: {fname} is missing; retrain the skill or roll back")
            got = _sha256(path)
            if got != digest:
                raise TamperedModel(f"skill {name} {vid}: {fname} was changed or damaged (SHA-256 {got[:12]}..., "
                                    f"recorded {digest[:12]}...); it will not be used — retrain or roll back")
        return vdir / f"{name}.yaml"

    def set_eval(self, name: str, vid: str, report: dict) -> None:
        rec = self.get(name)
        version = rec.version(vid)
        (self.version_dir(name, vid) / "eval.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        version.eval = {k: v for k, v in report.items() if k != "per_episode"}
        self.save(rec)

    def load_eval(self, name: str, vid: str) -> dict | None:
        path = self.version_dir(name, vid) / "eval.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    # --- pointers --------------------------------------------------------------------------------

    def mark_promoted(self, name: str, vid: str) -> SkillRecord:
        rec = self.get(name)
        rec.version(vid)
        if rec.current == vid:
            raise SkillStoreError(f"skill {name} {vid} is already the current version")
        rec.promoted.append(vid)
        self.save(rec)
        return rec

    def rollback(self, name: str) -> SkillRecord:
        rec = self.get(name)
        if rec.last_good is None:
            what = "nothing has been promoted yet" if not rec.promoted else f"{rec.current} is the factory version"
            raise SkillStoreError(f"skill {name} cannot roll back: {what}")
        self.verify(name, rec.last_good)  # never roll back onto a damaged file
        rec.promoted.pop()
        self.save(rec)
        return rec
