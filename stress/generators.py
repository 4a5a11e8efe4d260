"""Seeded generators of bad input for `make fuzz`: random JSON, and valid messages broken on purpose.

Every generated message is meant to be refused: `broken(template)` applies at least one change that
makes it invalid (an unknown field, a wrong type, a value out of range, an unknown name, a payload too
big, NaN or infinity, deep nesting), then maybe more random ones. What the server must do with each:
answer it (an error reply or a refusal), stay up, and change nothing.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

STRINGS = ("", " ", "car-1", "car-99", "../../etc/passwd", "<script>alert(1)</script>", "\x00", "é" * 3, "🚗" * 5,
           "DROP TABLE kids;", "%s%n", "null", "NaN", "-1", "1e309", "\u202e", "A" * 300, "move_forward", "stop",
           "l1-wake-up", "scratch", "blockly", "python", "level", "__proto__", "constructor")
NUMBERS = (0, -1, 1, 2**31, 2**63, -(2**63), 10**30, 1e308, -1e308, 0.5, -0.0, 1e-320, math.nan, math.inf, -math.inf)
MAX_DEPTH = 60  # deep enough to hurt a naive recursive walker; 5,000-deep JSON is issue 17 finding 3 (sec1)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.55:
        return rng.choice([None, True, False, rng.choice(NUMBERS), rng.randint(-1000, 1000), rng.uniform(-1e3, 1e3),
                           rng.choice(STRINGS), "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 12)))])
    if roll < 0.75:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(STRINGS + ("block", "args", "ref", "run_id", "token")): random_json(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def nested(rng: random.Random) -> Any:
    value: Any = rng.choice(NUMBERS)
    for _ in range(rng.randint(10, MAX_DEPTH)):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    return out


def _set(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    obj = dict(obj)
    obj[path[0]] = _set(obj.get(path[0], {}), path[1:], value)
    return obj


def _drop(obj: Any, path: tuple) -> Any:
    if not path or not isinstance(obj, dict):
        return obj
    obj = dict(obj)
    if len(path) == 1:
        obj.pop(path[0], None)
    elif isinstance(obj.get(path[0]), dict):
        obj[path[0]] = _drop(obj[path[0]], path[1:])
    return obj


def breaking_changes(rng: random.Random, big: int) -> list[Callable[[Any], Any]]:
    """Changes that make a valid message invalid on their own."""
    return [
        lambda m: _set(m, (rng.choice(("zzz", "car_id", "kid_id", "level", "__class__")),), random_json(rng)),  # unknown field
        lambda m: rng.choice([random_json(rng), [m], "text", 42, None, True]),  # not an object at all
        lambda m: _set(m, rng.choice(_paths(m)[1:] or [("x",)]), rng.choice([math.nan, math.inf, -math.inf, 1e308, -1e308])),
        lambda m: _set(m, rng.choice(_paths(m)[1:] or [("x",)]), nested(rng)),
        lambda m: _set(m, (rng.choice(list(m)) if isinstance(m, dict) and m else "x",), "x" * big),  # too big
        lambda m: _set(m, rng.choice(_paths(m)[1:] or [("x",)]), rng.choice([[1, 2], {"k": 1}, True])),  # wrong type
    ]


def broken(rng: random.Random, template: Any, extra_changes: list[Callable[[Any], Any]], big: int = 5000,
           keep: tuple[str, ...] = ()) -> Any:
    """The template with 0-2 random changes (replace a value, drop a field), then one breaking change.

    `keep`: fields left as they are (free-form ones, like a run's program, where any value is valid)."""
    kept = {k: template[k] for k in keep if isinstance(template, dict) and k in template}
    template = {k: v for k, v in template.items() if k not in kept} if kept else template
    msg = template
    for _ in range(rng.randint(0, 2)):  # random changes first, the breaking one last: nothing can undo it
        paths = _paths(msg)[1:]
        if not paths:
            break
        path = rng.choice(paths)
        msg = _drop(msg, path) if rng.random() < 0.3 else _set(msg, path, random_json(rng))
    generic = breaking_changes(rng, big)
    try:
        msg = rng.choice(generic + extra_changes)(msg)
    except (TypeError, KeyError, AttributeError, ValueError):  # a message-specific change that no longer fits
        msg = generic[0](msg)
    return {**msg, **kept} if kept and isinstance(msg, dict) else msg
