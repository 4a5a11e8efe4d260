"""Load and validate lesson YAML files; every error names the FILE, the LINE, the FIELD and the FIX.

Line numbers come from the YAML node tree (``yaml.compose``): a pydantic error location such as
``('checks', 2, 'reach_zone', 'zone')`` is walked down the mapping/sequence nodes to the deepest node
that exists, whose start mark is the line an author has to look at.
"""

from __future__ import annotations

import difflib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ValidationError

from curriculum.catalog import BLOCKS_BY_ID
from curriculum.lesson import CHECK_KINDS, PROGRAM_CHECK_KINDS, Lesson
from curriculum.levels import LEVELS, level, unlock_level_for_block, unlock_level_for_skill
from curriculum.program import ProgramError, analyse

DEFAULT_LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"


@dataclass(frozen=True)
class LessonError:
    file: str
    line: int
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field or '(top)'}: {self.message} — fix: {self.fix}"


class LessonFileError(ValueError):
    """One or more lesson files are invalid; ``errors`` lists each with file, line, field and fix."""

    def __init__(self, errors: list[LessonError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class LoadedLesson:
    lesson: Lesson
    path: Path
    root: yaml.Node | None = None  # the composed YAML tree, for cross-check line numbers

    def python_path(self, which: str = "solution") -> Path | None:
        sol = getattr(self.lesson, which)
        return (self.path.parent / sol.python_file) if sol.python_file else None


@dataclass
class LessonSet:
    """Every lesson, by id, in course order (level, then order)."""

    lessons: dict[str, LoadedLesson] = field(default_factory=dict)

    def get(self, lesson_id: str) -> Lesson:
        try:
            return self.lessons[lesson_id].lesson
        except KeyError:
            raise KeyError(f"there is no lesson '{lesson_id}' (known: {', '.join(self.lessons) or 'none'})") from None

    def ordered(self) -> list[Lesson]:
        return sorted((x.lesson for x in self.lessons.values()), key=lambda l: (l.level, l.order, l.id))

    def for_level(self, number: int) -> list[Lesson]:
        return [l for l in self.ordered() if l.level == number]

    def next_lessons(self, lesson: Lesson) -> list[Lesson]:
        """What passing `lesson` unlocks: its `unlocks` list, else the next one in its level."""
        if lesson.unlocks.lessons:
            return [self.get(i) for i in lesson.unlocks.lessons]
        later = [l for l in self.for_level(lesson.level) if l.order > lesson.order]
        return later[:1]


# --- YAML position lookup -----------------------------------------------------------------------


def node_at(root: yaml.Node | None, loc: Iterable[Any], *, key_of_last: bool = False) -> yaml.Node | None:
    """The deepest node along a pydantic location; parts that are not in the YAML (union tags) are skipped.
    key_of_last: for the last part return the key node (`chekcs:`), not its value (the lines below it)."""
    node = root
    parts = list(loc)
    for i, part in enumerate(parts):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node = key if key_of_last and i == len(parts) - 1 else value
                    break
            else:
                continue  # e.g. the discriminator tag pydantic puts in the location
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
            else:
                break
        else:
            continue
    return node


def line_of(root: yaml.Node | None, loc: Iterable[Any], *, key_of_last: bool = False) -> int:
    node = node_at(root, loc, key_of_last=key_of_last)
    return node.start_mark.line + 1 if node is not None else 1


def _dotted(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in CHECK_KINDS:
            continue  # the union tag: the `kind:` already says it
        else:
            out += ("." if out else "") + str(part)
    return out


# --- pydantic error -> fix ----------------------------------------------------------------------


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model whose field the location's last part is (to suggest field names)."""
    model: Any = Lesson
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            model = _unwrap(model.model_fields[part].annotation)
        elif isinstance(model, tuple):  # a union: pick the member whose kind is this tag
            model = next((m for m in model if _kind_of(m) == part), None)
        else:
            return None
    if isinstance(model, tuple):
        return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _kind_of(model: Any) -> str | None:
    f = getattr(model, "model_fields", {}).get("kind")
    return typing.get_args(f.annotation)[0] if f is not None else None


def _unwrap(annotation: Any) -> Any:
    """list[X] / X | None / Annotated[Union[...], ...] -> X or a tuple of union members."""
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin in (list, tuple):
            annotation = args[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            members = [a for a in args if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
            else:
                return tuple(_unwrap(m) for m in members)
        else:
            return annotation


def _fix_for(err: dict[str, Any]) -> str:
    kind, loc, ctx = err["type"], tuple(err["loc"]), err.get("ctx") or {}
    hint = _value_error_hint(err)
    if hint:
        return hint[1]
    name = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"add `{name}:` here"
    if kind == "extra_forbidden":
        model = _model_at(loc)
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return f"{hint}remove `{name}` or rename it" + (f" (allowed here: {', '.join(known)})" if known else "")
    if kind == "union_tag_invalid":
        close = difflib.get_close_matches(str(ctx.get("tag", "")), CHECK_KINDS, n=1)
        return (f"did you mean `{close[0]}`? " if close else "") + f"kinds in the catalogue: {', '.join(CHECK_KINDS)}"
    if kind == "union_tag_not_found":
        return f"add `kind:` (one of: {', '.join(CHECK_KINDS)})"
    if kind == "literal_error":
        return f"use one of: {ctx.get('expected', '')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        return f"use a value {bound} {list(ctx.values())[0]}"
    if kind in ("string_too_long", "too_long"):
        return f"make it shorter (at most {ctx.get('max_length', '?')}) — kids read short sentences"
    if kind in ("string_too_short", "too_short"):
        return f"give at least {ctx.get('min_length', 1)}"
    if kind == "string_pattern_mismatch":
        return "use lower-case letters, digits and dashes (like `l1-first-drive`)"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"write a {kind.replace('_type', '').replace('_parsing', '')} here"
    return "see the schema in docs/lessons.md"


# --- loading ------------------------------------------------------------------------------------


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LessonFileError([LessonError(str(path), 1, "", f"cannot read this file ({e.__class__.__name__})",
                                           "check the path; lesson files are UTF-8 YAML")]) from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise LessonFileError([LessonError(str(path), line, "", f"this is not valid YAML ({getattr(e, 'problem', e)})",
                                           "check the indentation and the colons on this line")]) from None
    return data, root


def _resolve_side_files(path: Path, data: dict[str, Any], root: yaml.Node | None) -> list[LessonError]:
    """Inline `arena: {file: ...}` and `blockly_file:` programs so the schema sees one whole lesson."""
    errors: list[LessonError] = []
    arena = data.get("arena")
    if isinstance(arena, dict) and set(arena) == {"file"}:
        ref = path.parent / str(arena["file"])
        try:
            data["arena"] = yaml.safe_load(ref.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            errors.append(LessonError(str(path), line_of(root, ("arena", "file")), "arena.file",
                                      f"cannot read arena file {ref} ({e.__class__.__name__})",
                                      "point `file:` at an arena YAML next to the lesson"))
    for which in ("solution", "wrong_solution", "hint_solution"):
        sol = data.get(which)
        if isinstance(sol, dict) and sol.get("blockly_file") and sol.get("blockly") is None:
            ref = path.parent / str(sol["blockly_file"])
            try:
                data[which] = {**sol, "blockly": json.loads(ref.read_text(encoding="utf-8")), "blockly_file": None}
            except (OSError, json.JSONDecodeError) as e:
                errors.append(LessonError(str(path), line_of(root, (which, "blockly_file")), f"{which}.blockly_file",
                                          f"cannot read Blockly program {ref} ({e.__class__.__name__}: {e})",
                                          "save the workspace as JSON next to the lesson and name it here"))
        if isinstance(sol, dict) and sol.get("python_file"):
            ref = path.parent / str(sol["python_file"])
            if not ref.is_file():
                errors.append(LessonError(str(path), line_of(root, (which, "python_file")), f"{which}.python_file",
                                          f"Python solution {ref} does not exist",
                                          "write the same program with the dojo SDK and save it under that name"))
    return errors


def load_lesson(path: str | Path) -> LoadedLesson:
    """One lesson file (schema only; :func:`load_lessons` adds the cross-checks)."""
    path = Path(path)
    data, root = _read_yaml(path)
    if not isinstance(data, dict):
        raise LessonFileError([LessonError(str(path), 1, "", "a lesson file must be a mapping of fields",
                                           "start with `id: my-lesson` on the first line")])
    errors = _resolve_side_files(path, data, root)
    if errors:
        raise LessonFileError(errors)
    try:
        lesson = Lesson.model_validate(data)
    except ValidationError as e:
        raise LessonFileError([
            LessonError(str(path), line_of(root, _loc_for_line(err), key_of_last=err["type"] == "extra_forbidden"), _dotted(_loc_for_line(err)), _message(err),
                        _fix_for(err))
            for err in e.errors()
        ]) from None
    return LoadedLesson(lesson, path, root)


# A whole-object rule (a model validator) is reported on the object; these words in its message
# name the field the author has to change, so the line points there.
VALUE_ERROR_FIELDS = {"start pose": ("start", "put `start:` inside the arena (0 < x_cm < width_cm, 0 < y_cm < height_cm)"),
                      "x0 < x1": ("x0", "make x0 smaller than x1 and y0 smaller than y1"),
                      "exactly one of blockly": ("blockly", "give either `blockly:` or `blockly_file:`, not both"),
                      "end_pose needs": ("zone", "add `zone:` or both `x_cm:` and `y_cm:`"),
                      "two checks are called": ("checks", "give one of the checks its own `id:`"),
                      "at least one check must be required": ("checks", "leave `required: true` on the main check")}


def _value_error_hint(err: dict[str, Any]) -> tuple[str, str] | None:
    if err["type"] != "value_error":
        return None
    return next((v for k, v in VALUE_ERROR_FIELDS.items() if k in err["msg"]), None)


def _loc_for_line(err: dict[str, Any]) -> tuple[Any, ...]:
    loc = tuple(err["loc"])
    hint = _value_error_hint(err)
    if hint:
        return loc + (hint[0],)
    return loc + ("kind",) if err["type"].startswith("union_tag") else loc


def _message(err: dict[str, Any]) -> str:
    kind, loc = err["type"], tuple(err["loc"])
    name = str(loc[-1]) if loc else "field"
    if kind == "missing":
        return f"`{name}` is missing"
    if kind == "extra_forbidden":
        return f"`{name}` is not a lesson field here"
    if kind == "union_tag_invalid":
        return f"there is no check kind '{(err.get('ctx') or {}).get('tag')}'"
    return err["msg"].removeprefix("Value error, ") + _got(err)


def _got(err: dict[str, Any]) -> str:
    if err["type"] in ("missing",) or isinstance(err.get("input"), (dict, list)):
        return ""
    return f" (got {err.get('input')!r})"


def cross_check(item: LoadedLesson) -> list[LessonError]:
    """Rules that need the catalogue, the level table or the arena."""
    lesson, root, f = item.lesson, item.root, str(item.path)
    errors: list[LessonError] = []

    def err(loc: tuple[Any, ...], message: str, fix: str) -> None:
        errors.append(LessonError(f, line_of(root, loc), _dotted(loc), message, fix))

    lv = level(lesson.level)
    for i, b in enumerate(lesson.allowed_blocks):
        if b not in BLOCKS_BY_ID:
            close = difflib.get_close_matches(b, list(BLOCKS_BY_ID), n=1)
            err(("allowed_blocks", i), f"there is no block '{b}'",
                f"use {close[0]!r}" if close else f"use one of: {', '.join(BLOCKS_BY_ID)}")
        elif not lv.allows_block(b):
            err(("allowed_blocks", i), f"block '{b}' opens at level {unlock_level_for_block(b)}, "
                                       f"this lesson is level {lesson.level}",
                f"remove it, or move the lesson to level {unlock_level_for_block(b)}")
    zones = {z.name for z in lesson.arena.zones}
    ids = set(lesson.check_ids)
    for i, c in enumerate(lesson.checks):
        zone = getattr(c, "zone", None)
        if zone is not None and zone not in zones:
            err(("checks", i, c.kind, "zone"), f"check '{c.check_id}' names zone '{zone}', but the arena has "
                                               f"{', '.join(sorted(zones)) or 'no zones'}",
                "add that zone under arena.zones or fix the name")
        if c.kind == "uses_skill" and not lv.allows_skill(c.skill):
            err(("checks", i, c.kind, "skill"), f"skill '{c.skill}' is not open at level {lesson.level}",
                f"use a level {unlock_level_for_skill(c.skill) or '?'} lesson or another skill")
        if c.kind == "uses_distance_sensor" and "distance" not in lesson.allowed_blocks \
                and "when_obstacle" not in lesson.allowed_blocks:
            err(("checks", i), "the lesson wants the distance sensor but does not allow its block",
                "add `distance` to allowed_blocks")
    for tier in ("two", "three"):
        for j, cid in enumerate(getattr(lesson.stars, tier)):
            if cid not in ids:
                err(("stars", tier, j), f"stars.{tier} names check '{cid}', which the lesson does not have",
                    f"use one of: {', '.join(sorted(ids))}")
    if lesson.wrong_solution.fails not in ids:
        err(("wrong_solution", "fails"), f"wrong_solution.fails names check '{lesson.wrong_solution.fails}', "
                                         "which the lesson does not have", f"use one of: {', '.join(sorted(ids))}")
    s = lesson.arena.start
    for j, cone in enumerate(lesson.arena.cones):
        if (cone.x_cm - s.x_cm) ** 2 + (cone.y_cm - s.y_cm) ** 2 < (cone.radius_cm + 10) ** 2:
            err(("arena", "start"), f"the start pose sits on cone {j}", "move the start or the cone apart")
    for z in lesson.arena.zones:
        if z.kind == "forbidden" and z.contains(s.x_cm, s.y_cm):
            err(("arena", "start"), f"the start pose is inside forbidden zone '{z.name}'", "start outside it")
    for which in ("solution", "wrong_solution", "hint_solution"):
        if getattr(lesson, which) is None:
            continue
        try:
            info = analyse(getattr(lesson, which).blockly)
        except ProgramError as e:
            err((which, "blockly"), str(e), "save the workspace again with Blockly")
            continue
        extra = sorted(set(info.dojo_blocks) - set(lesson.allowed_blocks))
        if extra and which != "wrong_solution":
            err((which,), f"the {which.replace('_', ' ')} uses blocks the lesson does not allow: {', '.join(extra)}",
                "add them to allowed_blocks or change the solution")
    return errors


def lesson_files(paths: Iterable[str | Path] | None = None) -> list[Path]:
    found: list[Path] = []
    for p in [Path(x) for x in (paths or [DEFAULT_LESSONS_DIR])]:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*.yaml") if not q.parent.name.startswith("arenas"))
        else:
            found.append(p)
    return found


def load_lessons(paths: Iterable[str | Path] | None = None, *, strict: bool = True) -> tuple[LessonSet, list[LessonError]]:
    """Every lesson under the paths (default: lessons/). With strict, any error raises LessonFileError."""
    result, errors = LessonSet(), []
    first_seen: dict[str, Path] = {}
    for path in lesson_files(paths):
        try:
            item = load_lesson(path)
        except LessonFileError as e:
            errors += e.errors
            continue
        errors += cross_check(item)
        lid = item.lesson.id
        if lid in first_seen:
            errors.append(LessonError(str(path), line_of(item.root, ("id",)), "id",
                                      f"lesson id '{lid}' is already used by {first_seen[lid]}",
                                      "give every lesson its own id"))
            continue
        first_seen[lid] = path
        result.lessons[lid] = item
    for item in result.lessons.values():
        for j, target in enumerate(item.lesson.unlocks.lessons):
            if target not in result.lessons:
                errors.append(LessonError(str(item.path), line_of(item.root, ("unlocks", "lessons", j)),
                                          f"unlocks.lessons[{j}]", f"unlocks lesson '{target}', which does not exist",
                                          f"use an existing lesson id ({', '.join(sorted(result.lessons))})"))
    orders: dict[tuple[int, int], str] = {}
    for item in result.lessons.values():
        key = (item.lesson.level, item.lesson.order)
        if key in orders:
            errors.append(LessonError(str(item.path), line_of(item.root, ("order",)), "order",
                                      f"level {key[0]} already has a lesson with order {key[1]} ({orders[key]})",
                                      "give each lesson in a level its own order number"))
        orders[key] = item.lesson.id
    if strict and errors:
        raise LessonFileError(errors)
    return result, errors


_DEFAULT_SET: LessonSet | None = None


def default_lessons() -> LessonSet:
    """The shipped lessons, loaded once."""
    global _DEFAULT_SET
    if _DEFAULT_SET is None:
        _DEFAULT_SET, _ = load_lessons()
    return _DEFAULT_SET


def levels_in_course() -> list[int]:
    return sorted(LEVELS)


__all__ = ["LessonError", "LessonFileError", "LessonSet", "LoadedLesson", "load_lesson", "load_lessons",
           "default_lessons", "cross_check", "PROGRAM_CHECK_KINDS"]
