"""The small deterministic reader: common kid phrasings become a plan without any language model.

"forward 30", "turn left", "go back a bit", "drive a square", "do it 4 times", "then", numbers in words
("twenty-five", "half a meter"), units (cm, m, degrees, seconds, %), a few typos ("foward"), skills by name
("do a donut"), "go to 100 50", and the picked lesson's zones ("drive into the garage"). A classroom without
Ollama still has "Tell the car"; with a model, the reader is the fallback, and it finds the skills and blocks a
sentence asks for that the kid's level does not have yet.

Literal and careful: a part of the sentence (between "then", "and", commas...) that it does not fully
understand ("around the cone") is left out as a whole and named in ``skipped`` — it never guesses.

    parse("forward 30 then turn left, do it 4 times").plan.short()
    -> 'repeat 4 [move_forward 30; turn left 90]'

Loops: a trailing "do it 4 times" repeats the steps since the last loop; "turn left 4 times" repeats its own
part; a leading "repeat 4 times: ..." repeats everything after it. Pure functions, no model.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from curriculum.catalog import CATALOG, Catalog
from curriculum.levels import LEVELS, MAX_LEVEL
from curriculum.plan import Call, Loop, Node, Plan
from robot_runtime.arena import Arena

SLOW_PCT = 20.0  # "slowly": slow enough to watch every move, fast enough to finish a lesson
DRIVE_SPEED_PCT = 50.0  # "drive for 3 seconds" without a speed: the blocks' usual speed (capped by the level)
VAGUE_CM = {"tiny": 5, "bit": 10, "lot": 100}  # "go back a tiny bit / a bit / a lot"
VAGUE_DEG = {"tiny": 10, "bit": 30, "lot": 180}
SHAPES = {"square": (4, 90, 50), "triangle": (3, 120, 50), "hexagon": (6, 60, 30), "circle": (12, 30, 10)}
SHAPE_SIZES = {"big": 1.6, "large": 1.6, "huge": 2.0, "small": 0.6}  # "a big square": 80 cm sides
STRAIGHT_AHEAD_CM = 10  # a zone whose centre is this close to the car's line counts as straight ahead
TYPO_CUTOFF = 0.8  # difflib ratio: "foward" -> forward (0.92), "rigth" -> right (0.8); "lfet" is not guessed

ONES = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                   "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
TIMES_WORDS = {"once": 1, "twice": 2, "thrice": 3}
UNITS = {**dict.fromkeys(("cm", "cms", "centimeter", "centimeters", "centimetre", "centimetres"), ("cm", 1.0)),
         "mm": ("cm", 0.1), **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), ("cm", 100.0)),
         **dict.fromkeys(("degree", "degrees", "deg", "degs"), ("deg", 1.0)),
         **dict.fromkeys(("second", "seconds", "sec", "secs", "s"), ("s", 1.0)),
         **dict.fromkeys(("percent", "pct"), ("pct", 1.0))}
FORWARD = {"forward", "forwards", "ahead", "straight", "onward", "onwards", "fwd", "front"}
BACKWARD = {"back", "backward", "backwards", "reverse", "backup"}
DIRECTIONS = {"left": "left", "right": "right", "anticlockwise": "left", "counterclockwise": "left",
              "clockwise": "right"}
TURNS = {"turn", "rotate", "spin", "twist", "steer"}
TURN_SIZES = {"half": 180, "quarter": 90, "whole": 360, "full": 360}  # "a half turn", "a full turn"
STOPS = {"stop", "halt", "brake", "freeze"}
FAST = {"fast", "faster", "quick", "quickly", "zoom", "max", "maximum"}
SLOW = {"slow", "slowly", "slower", "carefully", "careful", "gently"}
SKILL_WORDS = {"doughnut": "donut", "doughnuts": "donut", "donuts": "donut", "drifting": "drift",
               "slaloms": "slalom", "park": "parallel_park"}
VAGUE = {"bit": "bit", "little": "bit", "slightly": "bit", "tiny": "tiny", "lot": "lot", "far": "lot"}
MOTION_VERBS = {"go", "drive", "move", "roll", "ride"}  # "drive 80 cm", "go 45": forward
GROUP_WORDS = {"it", "that", "this", "everything"}  # "do it 4 times": everything so far repeats
UNSUPPORTED = {"forever", "until", "while", "if", "when", "wait", "pause", "sleep", "keep"}  # not in a plan (yet)
SEPARATORS = {",", ";", ".", "!", "?", ":", "then", "and", "after", "afterwards", "next", "finally", "later", "also",
              "plus"}
FILLER = {"the", "a", "an", "car", "robot", "my", "your", "please", "pls", "can", "could", "would", "will", "you",
          "i", "want", "wanna", "to", "let's", "lets", "let", "us", "now", "ok", "okay", "just", "first", "do",
          "make", "should", "must", "need", "of", "by", "for", "at", "with", "some", "hey", "so", "start", "on",
          "spot", "in", "into", "inside", "is", "be", "times", "time", "repeat", "loop", "more", "set", "way",
          "around", "round", "about", "sides", "side", "point", "get", "me", "all", "same", "again", "up", "one",
          "skill", "trick", "speed", "turn", "thanks", "thank", "driving", "going", "moving", "there", "here"}


@dataclass
class Parsed:
    """What the reader made of a sentence: the plan, and the parts it left out (as typed, lower case)."""

    plan: Plan
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Phrase:
    """One command being read: 'move', 'turn', 'stop', 'speed', 'skill', 'shape', 'zone' or 'point'."""

    kind: str
    sign: int = 1  # move: +1 forward, -1 back
    direction: str | None = None
    verb: bool = False  # turn: "turn"/"spin" said (a second one starts a new turn)
    size: float | None = None  # turn: "around", "half", "full" -> degrees
    amounts: list[tuple[float, str | None]] = field(default_factory=list)  # (value, unit or None)
    vague: str | None = None
    name: str = ""  # skill, shape or zone
    speed: float | None = None  # a speed said with a move or a turn ("slowly", "at 40%")
    scale: float = 1.0  # shape: "big", "small"


@dataclass
class _Clause:
    phrases: list[_Phrase]
    repeat: int | None = None  # "4 times"
    repeat_first: bool = False  # the repeat came before any command ("4 times forward 30")
    group: bool = False  # "do it / that / this": the repeat is about everything so far
    unknown: list[str] = field(default_factory=list)


class _NotUnderstood(Exception):
    """A phrase the reader recognised but cannot turn into blocks ("turn left 30 cm")."""


class _Reader:
    def __init__(self, level: int, arena: Arena | None, catalog: Catalog) -> None:
        self.level, self.arena, self.catalog = level, arena, catalog
        self.top_speed = LEVELS[level].max_speed_pct
        self.last_forward: float | None = None  # "forward 30 and back": back goes the same 30
        skills = catalog.skills()
        self.skills = {**SKILL_WORDS, **{s.name: s.name for s in skills}}
        # multi-word names become one token before reading: "figure eight" -> figure_eight, "blue box" -> zone_...
        self.phrases = {s.text: s.name for s in skills if " " in s.text}
        self.phrases.update({"figure 8": "figure_eight", "figure of eight": "figure_eight",
                             "parallel parking": "parallel_park"})
        self.zones = {f"zone_{z.name}": z for z in (arena.zones if arena else [])}
        self.phrases.update({z.name.replace("_", " "): token for token, z in self.zones.items()})
        # typos are mended only into command words ("foward"), never into filler ("cone" is not "one")
        self.commands = (FORWARD | BACKWARD | set(DIRECTIONS) | TURNS | STOPS | FAST | SLOW | set(self.skills)
                         | set(SHAPES) | {u for u in UNITS if len(u) > 3} | {"times", "repeat", "speed"})
        self.vocabulary = (self.commands | set(TURN_SIZES) | set(UNITS) | set(VAGUE) | set(SHAPE_SIZES) | MOTION_VERBS | GROUP_WORDS
                           | UNSUPPORTED | SEPARATORS | FILLER | set(TIMES_WORDS) | set(self.zones) | {"gotoxy"})

    # --- text -> tokens -------------------------------------------------------------------------

    def tokens(self, sentence: str) -> list[Any]:
        """Words (typos mended, names joined), numbers (words too: 'one hundred and twenty' -> 120.0) and
        separators."""
        t = sentence.lower().replace("’", "'").replace("‘", "'")
        t = re.sub(r"[“”\"()]", " ", t)
        t = t.replace("°", " degrees ").replace("%", " percent ").replace("&", " and ").replace("per cent", "percent")
        t = re.sub(r"\bu[\s-]?turn\b|\babout[\s-]face\b", " turn around ", t)
        t = re.sub(r"\bspeed up\b", " faster ", t).replace("slow down", " slower ")
        t = re.sub(r"\bhalf an? (?:meter|metre|m)\b", " 50 cm ", t)
        t = re.sub(r"(\d+) and a half\b", lambda m: f"{m.group(1)}.5", t)
        # "go to 100 50", "to x 150 y 80", "to (200, 120)": a point (its comma must not split the sentence)
        t = re.sub(r"\bto\s+(?:the\s+)?(?:point\s+|position\s+)?(?:x\s*=?\s*)?(\d+(?:\.\d+)?)(?:\s*,\s*|\s+and\s+|\s+)"
                   r"(?:y\s*=?\s*)?(\d+(?:\.\d+)?)\b(?!\s*(?:cm|m|meters?|metres?|degrees?|deg|s|sec|seconds?|percent|"
                   r"times?)\b)", r" gotoxy \1 \2 ", t)
        t = re.sub(r"(\d)\s*x\b", r"\1 times", t)  # "4x"
        t = re.sub(r"(\d)([a-z])", r"\1 \2", t)  # "30cm"
        t = re.sub(r"([a-z])(\d)", r"\1 \2", t)  # "fwd30"
        t = re.sub(r"([a-z])-([a-z])", r"\1 \2", t)  # "twenty-five"
        for phrase, token in sorted(self.phrases.items(), key=lambda kv: -len(kv[0])):
            t = re.sub(rf"\b{re.escape(phrase)}\b", f" {token} ", t)
        raw = re.findall(r"\d+(?:\.\d+)?|[a-z_']+|[,;.:!?]", t)
        out: list[Any] = []
        i = 0
        while i < len(raw):
            value, used = _number_words(raw, i)
            if used:
                out.append(value)
                i += used
                continue
            word = raw[i]
            if word in TIMES_WORDS:
                out += [float(TIMES_WORDS[word]), "times"]
            elif word[0].isdigit():
                out.append(float(word))
            elif word not in self.vocabulary and len(word) >= 4:
                close = difflib.get_close_matches(word, self.commands, n=1, cutoff=TYPO_CUTOFF)
                out.append(close[0] if close else word)
            else:
                out.append(word)
            i += 1
        return out

    # --- one clause (the words between separators) --------------------------------------------------

    def clause(self, tokens: list[Any]) -> _Clause:
        c = _Clause([])
        pending: list[tuple[float, str | None]] = []  # amounts said before the clause's first command
        pending_speed: float | None = None
        pending_vague: str | None = None
        pending_scale = 1.0
        verb = False
        i = 0
        while i < len(tokens):
            tok, nxt = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else None
            cur = c.phrases[-1] if c.phrases else None
            if isinstance(tok, float):
                if nxt in ("times", "time"):
                    c.repeat, c.repeat_first = int(tok), not c.phrases
                    i += 2
                    continue
                unit = UNITS.get(nxt) if isinstance(nxt, str) else None
                amount = (tok * unit[1], unit[0]) if unit else (tok, None)
                i += 2 if unit else 1
                (cur.amounts if cur else pending).append(amount)
                continue
            if tok == "gotoxy" and i + 2 < len(tokens):
                c.phrases.append(_Phrase("point", amounts=[(tokens[i + 1], None), (tokens[i + 2], None)]))
                i += 3
                continue
            if tok in UNITS and UNITS[tok][1] == 100.0:  # "a meter"
                (cur.amounts if cur else pending).append((100.0, "cm"))
            elif tok in FORWARD or tok in BACKWARD:
                sign = 1 if tok in FORWARD else -1
                if not (cur and cur.kind == "move" and cur.sign == sign and not cur.amounts):  # "straight ahead"
                    c.phrases.append(_Phrase("move", sign=sign))
            elif tok in TURNS or tok in TURN_SIZES and nxt in ("turn", "a", "circle", "spin"):
                if cur and cur.kind == "turn" and not cur.verb and not cur.amounts:
                    cur.verb = tok in TURNS
                else:
                    c.phrases.append(_Phrase("turn", verb=tok in TURNS))
                turn = c.phrases[-1]
                if tok in TURN_SIZES:
                    turn.size = TURN_SIZES[tok]
                elif tok == "spin":
                    turn.size = 360.0  # spinning is a whole turn
            elif tok in ("around", "round") and cur and cur.kind == "turn" and cur.size is None:
                cur.size = 180.0
            elif tok in DIRECTIONS:
                if cur and cur.kind in ("turn", "shape") and cur.direction is None:
                    cur.direction = DIRECTIONS[tok]
                else:
                    c.phrases.append(_Phrase("turn", direction=DIRECTIONS[tok]))
            elif tok in STOPS:
                c.phrases.append(_Phrase("stop"))
            elif tok == "speed":
                c.phrases.append(_Phrase("speed"))
            elif tok in FAST or tok in SLOW:
                value = self.top_speed if tok in FAST else SLOW_PCT
                if cur and cur.kind in ("move", "turn", "speed"):
                    cur.speed = value
                elif any(t in FORWARD | BACKWARD | MOTION_VERBS for t in tokens[i + 1:] if isinstance(t, str)):
                    pending_speed = value  # "slowly go back 20"
                else:
                    c.phrases.append(_Phrase("speed", speed=value))
            elif tok in SHAPES:
                # "a left square", "backwards in a square": a bare turn or move before a shape is about the shape
                bare = cur is not None and not cur.amounts and not cur.vague and (
                    cur.kind == "turn" and not cur.verb or cur.kind == "move")
                shape = _Phrase("shape", name=tok, scale=pending_scale, direction=cur.direction if bare else None,
                                sign=cur.sign if bare else 1)
                if bare:
                    c.phrases.pop()
                c.phrases.append(shape)
            elif tok in SHAPE_SIZES and nxt in SHAPES:
                pending_scale = SHAPE_SIZES[tok]
            elif tok in self.zones:
                if cur and cur.kind == "skill" and cur.name == "parallel_park" and cur.verb:
                    c.phrases.pop()  # "park in the garage": into that zone, not the parking trick
                c.phrases.append(_Phrase("zone", name=tok))
            elif isinstance(tok, str) and tok in self.skills:
                c.phrases.append(_Phrase("skill", name=self.skills[tok], verb=tok == "park"))
            elif tok in VAGUE:
                target = cur.vague if cur else pending_vague
                value = target if target == "tiny" else VAGUE[tok]  # "a tiny bit" stays tiny
                if cur:
                    cur.vague = value
                else:
                    pending_vague = value
            elif tok in MOTION_VERBS:
                verb = True
            elif tok in GROUP_WORDS:
                c.group = True
            elif tok == "again":
                if not c.phrases:
                    c.repeat, c.repeat_first, c.group = 2, True, True  # "do it again"
            elif tok in UNSUPPORTED or (tok not in FILLER and tok not in self.vocabulary):
                c.unknown.append(str(tok))
            i += 1
        if not c.phrases and verb and pending:  # "drive 80 cm", "go 45", "drive for 3 seconds"
            c.phrases.append(_Phrase("move"))
        if c.phrases:
            first = c.phrases[0]
            first.amounts[:0] = pending
            first.speed = first.speed if first.speed is not None else pending_speed
            first.vague = first.vague or pending_vague
        elif pending or pending_vague:
            c.unknown.append("(a number without a command)")
        return c

    # --- a phrase -> plan nodes ----------------------------------------------------------------------

    def nodes(self, p: _Phrase) -> list[Node]:
        out = self._nodes(p)
        last = out[-1] if out else None  # a plain "back" right after a move forward goes the same way back
        self.last_forward = last.args["distance"] if isinstance(last, Call) and last.block == "move_forward" else None
        return out

    def _nodes(self, p: _Phrase) -> list[Node]:
        def of(*units: str | None) -> list[float]:
            return [v for v, u in p.amounts if u in units]

        if p.kind == "move":
            seconds, percent = of("s"), of("pct")
            speed = percent[0] if percent else p.speed
            if seconds:
                if p.sign < 0:
                    raise _NotUnderstood  # no block drives backwards for a time
                return [Call("drive_for", {"speed": speed if speed is not None else min(DRIVE_SPEED_PCT, self.top_speed),
                                           "seconds": round(seconds[0], 1)})]
            cm = of("cm", None)
            echo = self.last_forward if p.sign < 0 else None  # "forward 30 and back": the same way back
            distance = cm[0] if cm else VAGUE_CM[p.vague] if p.vague else echo or self._default("move_forward", "distance")
            return [*self._speed(speed), Call("move_forward" if p.sign > 0 else "move_backward", {"distance": round(distance)})]
        if p.kind == "turn":
            if of("cm", "s", "pct"):
                raise _NotUnderstood  # "turn left 30 cm": a turn has no length
            degrees = of("deg", None)
            value = degrees[0] if degrees else VAGUE_DEG[p.vague] if p.vague else p.size or self._default("turn", "degrees")
            return [*self._speed(p.speed), Call("turn", {"direction": p.direction or "left", "degrees": round(value)})]
        if p.kind == "stop":
            return [Call("stop")]
        if p.kind == "speed":
            pct = of("pct", None)
            if p.speed is None and not pct:
                raise _NotUnderstood
            return [Call("set_speed", {"speed": pct[0] if pct else p.speed})]
        if p.kind == "skill":
            return [Call("do_skill", {"skill": p.name})]
        if p.kind == "shape":
            sides, angle, default_side = SHAPES[p.name]
            side = (of("cm", None) or [default_side * p.scale])[0]
            move = "move_forward" if p.sign > 0 else "move_backward"
            return [Loop(sides, (Call(move, {"distance": round(side)}),
                                 Call("turn", {"direction": p.direction or "left", "degrees": angle})))]
        if p.kind == "point":
            return [Call("go_to", {"x": p.amounts[0][0], "y": p.amounts[1][0]})]
        return [self._to_zone(p.name)]

    @staticmethod
    def _speed(speed: float | None) -> list[Node]:
        return [Call("set_speed", {"speed": speed})] if speed is not None else []

    def _default(self, block: str, param: str) -> float:
        return float(self.catalog.block(block).param(param).default)

    def _to_zone(self, token: str) -> Call:
        """Into a zone of the lesson's arena: straight ahead of the start -> one move forward; else go to it."""
        zone, start = self.zones[token], self.arena.start  # type: ignore[union-attr]
        cx, cy = (zone.x0 + zone.x1) / 2, (zone.y0 + zone.y1) / 2
        h = math.radians(start.heading_deg)
        along = (cx - start.x_cm) * math.cos(h) + (cy - start.y_cm) * math.sin(h)
        across = -(cx - start.x_cm) * math.sin(h) + (cy - start.y_cm) * math.cos(h)
        if along > 0 and abs(across) <= STRAIGHT_AHEAD_CM:
            return Call("move_forward", {"distance": round(along)})
        return Call("go_to", {"x": round(cx), "y": round(cy)})


def _number_words(words: list[str], i: int) -> tuple[float, int]:
    """(value, words used) for a number written in words at words[i] ('a hundred', 'two hundred fifty',
    'one hundred and twenty'); (0, 0) when there is none."""
    value, j, seen = 0.0, i, False
    while j < len(words):
        w = words[j]
        if w in ONES:
            value += ONES[w]
        elif w in TENS:
            value += TENS[w]
        elif w == "hundred" and (seen or (j > i and words[j - 1] == "a")):
            value = max(value, 1.0) * 100
        elif w == "a" and not seen and j + 1 < len(words) and words[j + 1] == "hundred":
            j += 1
            continue
        elif w == "and" and seen and j + 1 < len(words) and (words[j + 1] in ONES or words[j + 1] in TENS):
            j += 1
            continue
        else:
            break
        seen = True
        j += 1
    return (value, j - i) if seen else (0.0, 0)


def parse(sentence: str, *, level: int = MAX_LEVEL, arena: Arena | None = None,
          catalog: Catalog = CATALOG) -> Parsed:
    """Read a kid's sentence. `level` sets what "fast" means (the level's top speed); `arena` names the zones
    and gives the start pose for "drive into the garage". The gate checks the plan afterwards, as any other."""
    reader = _Reader(level, arena, catalog)
    clauses: list[tuple[list[Any], bool]] = []  # (tokens, ended with ':')
    current: list[Any] = []
    for tok in reader.tokens(sentence):
        if isinstance(tok, str) and tok in SEPARATORS:
            if current:
                clauses.append((current, tok == ":"))
                current = []
        else:
            current.append(tok)
    if current:
        clauses.append((current, False))
    return _assemble(reader, clauses)


@dataclass
class _Scope:
    times: int
    nodes: list[Node]
    group_start: int = 0  # a "do it N times" repeats nodes[group_start:]


def _assemble(reader: _Reader, clauses: list[tuple[list[Any], bool]]) -> Parsed:
    scopes = [_Scope(1, [])]
    skipped: list[str] = []
    for tokens, leading in clauses:
        text = " ".join(f"{t:g}" if isinstance(t, float) else t.removeprefix("zone_").replace("_", " ") for t in tokens)
        c = reader.clause(tokens)
        try:
            if c.unknown:
                raise _NotUnderstood
            nodes = [n for p in c.phrases for n in reader.nodes(p)]
        except _NotUnderstood:
            skipped.append(text)
            continue
        scope = scopes[-1]
        if c.repeat is None:
            scope.nodes += nodes
        elif c.repeat_first and (nodes or leading or len(scope.nodes) == scope.group_start):
            scopes.append(_Scope(c.repeat, nodes))  # "repeat 4 times: ..." loops the rest of the sentence
        elif c.group or not nodes:
            scope.nodes += nodes  # "..., do it 4 times": the steps since the last loop
            looped = scope.nodes[scope.group_start:]
            if looped and c.repeat != 1:
                scope.nodes[scope.group_start:] = [Loop(c.repeat, tuple(looped))]
            scope.group_start = len(scope.nodes)
        else:
            scope.nodes += [Loop(c.repeat, tuple(nodes))] if c.repeat != 1 else nodes  # "turn left twice"
    while len(scopes) > 1:
        inner = scopes.pop()
        if inner.nodes:
            scopes[-1].nodes += [Loop(inner.times, tuple(inner.nodes))] if inner.times != 1 else inner.nodes
    return Parsed(Plan(tuple(scopes[0].nodes)), skipped)
