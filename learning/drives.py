"""Drives by hand, kept one file each: what the drive page records before a kid presses "Teach".

    log = DriveLog(data_dir / "learning")
    n = log.add("kid-7f3a", episode)             # -> 3 (this kid's third park drive), every drive kept
    log.episodes("kid-7f3a", "park")             # -> [Episode, ...] in the order they were driven
    log.summary("kid-7f3a", "park")              # -> {"drives": 3, "good": 2, "paths": [...]}

``<data>/learning/drives/<owner>/<trick>/drive-NNN.json`` holds one recorder.Episode (observations,
applied and requested commands, narration, outcome, path). Teaching turns the good ones (finished, no
bump) into a LeRobot dataset (SkillLab.dataset_from_drives). Light on purpose: no torch, no onnxruntime,
so the server can record without loading the training stack.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path

from learning.rollout import Episode
from learning.tricks import get_trick

OWNER = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class DriveLogError(ValueError):
    """A drive the log cannot keep or find; the message names the value and the rule."""


class DriveLog:
    def __init__(self, learning_root: str | Path) -> None:
        self.root = Path(learning_root) / "drives"

    def _dir(self, owner: str, trick_name: str) -> Path:
        if not OWNER.fullmatch(owner):
            raise DriveLogError(f"drive owner {owner!r}: 1-64 letters, digits, _ or - (a kid id)")
        return self.root / owner / get_trick(trick_name).name

    def add(self, owner: str, episode: Episode) -> int:
        """Keep one drive (good or not); returns its number for this owner and trick."""
        folder = self._dir(owner, episode.trick)
        folder.mkdir(parents=True, exist_ok=True)
        number = len(list(folder.glob("drive-*.json"))) + 1
        tmp = folder / f".drive-{number:03d}.tmp"
        tmp.write_text(json.dumps(asdict(episode)), encoding="utf-8")
        os.replace(tmp, folder / f"drive-{number:03d}.json")  # a crash never leaves half a drive
        return number

    def episodes(self, owner: str, trick_name: str) -> list[Episode]:
        out = []
        for path in sorted(self._dir(owner, trick_name).glob("drive-*.json")):
            d = json.loads(path.read_text(encoding="utf-8"))
            for key in ("path", "actions", "requests"):
                d[key] = [tuple(x) for x in d[key]]
            out.append(Episode(**d))
        return out

    def summary(self, owner: str, trick_name: str) -> dict:
        eps = self.episodes(owner, trick_name)
        return {"trick": get_trick(trick_name).name, "drives": len(eps), "good": sum(e.success for e in eps),
                "last": [{"outcome": e.outcome, "success": e.success, "kid_text": e.kid_text,
                          "duration_s": round(e.duration_s, 2), "frames": len(e.actions),
                          "path": [[round(v, 1) for v in p] for p in e.path]} for e in eps[-10:]]}
