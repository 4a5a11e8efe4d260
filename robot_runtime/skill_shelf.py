"""Learned skills a car keeps: the server sends a skill's files (`install_skill`), the car checks them
and keeps them on its own disk, and they become `do skill [NAME]` for as long as the car lives.

    shelf = SkillShelf(Path("~/.local/share/mikro-dojo/skills/car-1").expanduser())
    shelf.load_all()                     # at start-up: every kept skill, hash-checked again
    ack = shelf.install(package)         # SkillPackage -> Ack (ok, or the error naming rule, file and fix)

A package is refused whole (nothing written, the previous version keeps running) when a file's SHA-256
differs from the one the server recorded, when the manifest's model hash disagrees with the model, when
the name is a built-in's, or when onnxruntime cannot load the model. The files are written next to each
other under ``<dir>/<name>/`` (to a fresh folder first, swapped in atomically), so a car that loses power
mid-install keeps the previous version. A rollback is simply the previous version sent again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from robot_runtime.protocol import Ack, ErrorInfo, SkillPackage

log = logging.getLogger(__name__)

VERSION_FILE = "VERSION"


def _refused(rule: str, message: str, value: object, fix: str) -> Ack:
    return Ack(ok=False, error=ErrorInfo(rule=rule, message=message, value=value, fix=fix))


class SkillShelf:
    def __init__(self, root: Path | None) -> None:
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._root = Path(root) if root is not None else None
        self.versions: dict[str, str] = {}  # skill name -> version installed
        self.errors: dict[str, str] = {}  # skill name -> why a kept skill was not loaded at start-up

    @property
    def root(self) -> Path:
        """The folder; a simulated car without one gets a temporary folder with its first skill."""
        if self._root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dojo-car-skills-")
            self._root = Path(self._tmp.name)
        return self._root

    def install(self, package: SkillPackage) -> Ack:
        from robot_runtime.policy import PolicyError, PolicySkill, load_policy  # onnxruntime only when needed
        from robot_runtime.skills.registry import RESERVED_NAMES, register_skill

        name, version = package.name, package.version
        if name in RESERVED_NAMES:
            return _refused("skill_name_reserved", f"skill {name!r} is a built-in skill or move; a learned skill "
                            "cannot take its name or its permission", name, "give the learned skill its own name")
        blobs: dict[str, bytes] = {}
        for fname, text in package.files.items():
            try:
                blobs[fname] = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                return _refused("skill_file_damaged", f"skill {name} {version}: {fname} is not valid base64; "
                                "nothing was installed", fname, "send the skill again from the teacher's Skills page")
            got = hashlib.sha256(blobs[fname]).hexdigest()
            if got != package.sha256[fname]:
                return _refused("skill_file_tampered", f"skill {name} {version}: {fname} does not match its SHA-256 "
                                f"(got {got[:12]}..., expected {package.sha256[fname][:12]}...): it was changed or "
                                "damaged on the way; nothing was installed and the previous version stays",
                                fname, "send the skill again from the teacher's Skills page (or retrain it)")
        self.root.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
        try:
            for fname, blob in blobs.items():
                (fresh / fname).write_bytes(blob)
            (fresh / VERSION_FILE).write_text(version, encoding="utf-8")
            try:
                policy = load_policy(fresh / f"{name}.yaml")  # the manifest's own model hash is checked here too
            except (PolicyError, ValueError, OSError) as exc:
                return _refused("skill_model_refused", f"skill {name} {version}: {exc}; nothing was installed",
                                name, "retrain the skill, or roll back to the previous version")
            if policy.manifest.name != name:
                return _refused("skill_name_mismatch", f"skill {name} {version}: its manifest is named "
                                f"{policy.manifest.name!r}; nothing was installed", policy.manifest.name,
                                "send the skill again from the teacher's Skills page")
            final, old = self.root / name, self.root / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            if final.exists():
                os.replace(final, old)
            os.replace(fresh, final)  # a power cut before this line keeps the previous version
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        # the session is already open: the running car swaps to the new version for its next request
        register_skill(name, lambda ctx: PolicySkill(ctx, policy), replace=True)
        self.versions[name] = version
        self.errors.pop(name, None)
        log.info("learned skill %s %s installed in %s", name, version, self.root / name)
        return Ack(ok=True)

    def load_all(self) -> list[str]:
        """Register every skill kept on this car; a damaged one is left out and said why (self.errors)."""
        from robot_runtime.policy import PolicyError, register_policy

        loaded: list[str] = []
        if self._root is None or not self._root.is_dir():
            return loaded
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            manifest = folder / f"{folder.name}.yaml"
            try:
                register_policy(manifest)
            except (PolicyError, ValueError, OSError) as exc:
                self.errors[folder.name] = str(exc)
                log.error("kept skill %s not loaded: %s", folder.name, exc)
                continue
            version_file = folder / VERSION_FILE
            self.versions[folder.name] = version_file.read_text(encoding="utf-8").strip() if version_file.is_file() else "?"
            loaded.append(folder.name)
        return loaded

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
