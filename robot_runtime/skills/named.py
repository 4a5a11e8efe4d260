"""Registers the scripted named skills (slalom, figure_eight, parallel_park, donut, drift)."""

from __future__ import annotations

from robot_runtime.skills.registry import register_skill

BUILTIN_NAMED: dict[str, str] = {  # name -> module:class (a class taking a SkillContext)
    "slalom": "robot_runtime.skills.slalom:SlalomSkill",
    "figure_eight": "robot_runtime.skills.figure_eight:FigureEightSkill",
    "parallel_park": "robot_runtime.skills.parallel_park:ParallelParkSkill",
    "donut": "robot_runtime.skills.stunts:DonutSkill",
    "drift": "robot_runtime.skills.stunts:DriftSkill",
}


def _register() -> None:
    import importlib

    for name, target in BUILTIN_NAMED.items():
        module_name, cls_name = target.split(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
        register_skill(name, cls, replace=True)


_register()
