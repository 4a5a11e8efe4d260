"""The coach: a local vision-language model (through Ollama) turns the judge's results into kind words.

The model sees the rubric, every check with its measurement, the program as text, up to
MAX_KEY_FRAMES key frames and the trajectory overlay, and must answer in the :class:`Feedback` JSON
schema. Its answer is accepted only if it is valid, short, kind and agrees with the judge; otherwise it
is asked once more, and then replaced by feedback written from the checks alone (``source="checks"``,
with a note telling the teacher why). Ollama being down or slow is normal in a classroom: the kid
still gets feedback a few seconds after the car stops.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
import ollama
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curriculum.judge import Verdict, sentence
from curriculum.lesson import PROGRAM_CHECK_KINDS, Lesson

DEFAULT_MODEL = "qwen2.5vl:3b"  # small local vision model (Apache-2.0, ~3 GB); "llava:7b" also works
DEFAULT_HOST = "http://127.0.0.1:11434"  # Ollama's default port; frames never leave this machine
COACH_TIMEOUT_S = 20.0  # a 3B VLM on a classroom laptop answers in 5-15 s; the kid should not wait longer
MAX_IMAGES = 5  # up to 4 key frames + the overlay
WENT_WELL_MAX = 140
TIP_MAX = 170
MAX_SENTENCES = 3

# Words a coach for 8-14 year-olds never uses (rude, or blaming the kid).
UNKIND = re.compile(
    r"\b(stupid|dumb|idiot\w*|lazy|useless|pathetic|terrible|awful|horrible|hopeless|careless|loser|failure|"
    r"hate|shut up|your fault|you failed|bad job|sucks?|rubbish|moron\w*|incompetent)\b", re.I)
# What a reply must not claim when the judge measured the opposite, per failed check kind.
CLAIMS_WHEN_FAILED: dict[str, re.Pattern[str]] = {
    "reach_zone": re.compile(r"\b(reached|made it (in)?to|got (in)?to the|stopped inside|inside the (box|zone|garage)|"
                             r"parked (perfectly|inside))\b", re.I),
    "end_pose": re.compile(r"\b(parked (perfectly|inside|right|well)|perfect park\w*|inside the (box|space|spot)|"
                           r"lined up perfectly|right on the spot)\b", re.I),
    "touch_no_cone": re.compile(r"\b(no cones?|without (touching|hitting)|missed (all|every)|didn'?t (touch|hit)|"
                                r"avoided (all|every|the) cones?|never touched)\b", re.I),
    "touch_no_wall": re.compile(r"\b(no walls?|never (touched|hit) the wall|didn'?t (touch|hit|bump)|without bumping)\b", re.I),
    "finish_within": re.compile(r"\b(fast enough|in time|quick enough|beat the (clock|time))\b", re.I),
    "stay_out_of_zone": re.compile(r"\b(stayed out|kept out|never entered)\b", re.I),
}
CLAIMS_PASS = re.compile(r"\b(you passed|you did it|mission complete|perfect(ly)?|three stars|3 stars|nailed it|"
                         r"solved it|all checks)\b", re.I)
CLAIMS_FAIL = re.compile(r"\b(didn'?t pass|not passed|did not pass|0 stars|zero stars|try again from scratch)\b", re.I)
# A tip must point at the program: one of these words, or a number.
PROGRAM_WORDS = re.compile(r"\b(block|mov|forward|backward|turn|repeat|loop|speed|distance|sensor|skill|go to|"
                           r"degree|cm|second|if\b|until|wait|stop|driv|slow|fast|long|short|donut|drift|slalom|park)"
                           r"|\d", re.I)


class Feedback(BaseModel):
    """What the model must answer (its JSON schema is sent as Ollama's `format`)."""

    model_config = ConfigDict(extra="forbid")

    went_well: Annotated[str, Field(min_length=5, max_length=WENT_WELL_MAX,
                                    description="One sentence: one thing that went well, from the checks that passed.")]
    tip: Annotated[str, Field(min_length=5, max_length=TIP_MAX,
                              description="One or two sentences: one concrete change to a block in the program.")]
    goal_reached: bool = Field(description="Exactly the judge's PASSED value: true only if the judge said passed.")


class CoachConfig(BaseModel):
    host: str = DEFAULT_HOST
    model: str = DEFAULT_MODEL
    timeout_s: Annotated[float, Field(gt=0, le=300)] = COACH_TIMEOUT_S
    enabled: bool = True
    tries: Annotated[int, Field(ge=1, le=3)] = 2  # the first answer, plus one regeneration
    temperature: float = 0.3
    # The coach gets camera frames of kids' attempts, which never leave this machine: the host must be
    # local (127.0.0.0/8, localhost, ::1, or a unix socket) unless the teacher writes this in coach.json.
    allow_remote_host: bool = False
    # the server's coach queue (server/lessons/coach_queue.py): model calls at once, for the class and per kid
    concurrency: Annotated[int, Field(ge=1, le=16)] = 2
    per_kid: Annotated[int, Field(ge=1, le=4)] = 1

    @model_validator(mode="after")
    def _frames_stay_local(self) -> "CoachConfig":
        if not self.allow_remote_host and not is_local_host(self.host):
            raise ValueError(
                f"coach host must be on this machine (127.0.0.1, localhost, ::1 or a unix socket), because camera "
                f"frames never leave it (got {self.host!r}); run Ollama here, or set allow_remote_host: true in "
                "coach.json to send frames to that machine on purpose")
        return self


def is_local_host(host: str) -> bool:
    """Does this Ollama address stay on this machine? (loopback name or address, or a unix socket)"""
    text = host.strip()
    if text.startswith(("unix:", "/", "http+unix:")):
        return True
    parsed = urlsplit(text if "://" in text else "http://" + text)
    name = (parsed.hostname or "").lower()
    if parsed.scheme not in ("http", "https") or parsed.username or parsed.password:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class CoachResult(BaseModel):
    source: Literal["model", "checks"]
    went_well: str
    tip: str
    text: str  # what the kid reads: went_well + tip
    model: str | None = None
    teacher_note: str = ""  # why the model's words were not used, when they were not
    rejected: list[str] = []  # reasons for each rejected model reply


@dataclass(frozen=True)
class CoachImages:
    key_frames: list[bytes]  # PNG
    overlay: bytes | None  # PNG


class Rejected(ValueError):
    """The model's reply cannot be shown to a kid; the message says which rule it broke."""


def validate_reply(content: str, verdict: Verdict) -> Feedback:
    """Parse and vet one model reply. Raises Rejected naming the rule it broke."""
    try:
        fb = Feedback.model_validate_json(content)
    except ValidationError as e:
        first = e.errors()[0]
        raise Rejected(f"malformed: {'.'.join(map(str, first['loc'])) or 'reply'}: {first['msg']}") from None
    text = f"{fb.went_well} {fb.tip}"
    if m := UNKIND.search(text):
        raise Rejected(f"unkind: uses '{m.group(0)}'")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    if len(sentences) > MAX_SENTENCES:
        raise Rejected(f"too long: {len(sentences)} sentences (at most {MAX_SENTENCES})")
    if fb.goal_reached != verdict.passed:
        raise Rejected(f"contradicts the judge: goal_reached={fb.goal_reached}, judge passed={verdict.passed}")
    for c in verdict.checks:
        pattern = CLAIMS_WHEN_FAILED.get(c.kind)
        if not c.passed and pattern and (m := pattern.search(text)):
            raise Rejected(f"contradicts the judge: says '{m.group(0)}' but check '{c.id}' failed ({c.kid_text})")
    if not verdict.passed and (m := CLAIMS_PASS.search(text)):
        raise Rejected(f"contradicts the judge: says '{m.group(0)}' but the attempt did not pass")
    if verdict.passed and (m := CLAIMS_FAIL.search(text)):
        raise Rejected(f"contradicts the judge: says '{m.group(0)}' but the attempt passed")
    if not PROGRAM_WORDS.search(fb.tip):
        raise Rejected("vague tip: it names no block, number or move in the program")
    return fb


def build_messages(lesson: Lesson, verdict: Verdict, program_text: str, images: CoachImages,
                   retry_reason: str | None = None) -> list[dict[str, Any]]:
    checks = "\n".join(
        f"- {c.id}: {'PASSED' if c.passed else 'FAILED'} ({c.kid_text}; measured {c.measured} {c.unit}, "
        f"limit {c.threshold}){'' if c.required else ' [bonus]'}" for c in verdict.checks)
    system = (
        "You are a friendly driving coach for children aged 8 to 14 who program a small robot car with blocks. "
        "Write short, simple, warm sentences. Never blame, never use rude words. "
        "The judge's measurements are always right: never say a FAILED check went well, never say the goal was "
        "reached if the judge says it was not. Answer only with JSON matching the schema.")
    user = (
        f"Lesson: {lesson.title}. Goal: {lesson.goal}\n"
        f"What a good program does (rubric):\n" + "\n".join(f"- {r}" for r in lesson.rubric) + "\n\n"
        f"Judge: {'PASSED' if verdict.passed else 'NOT PASSED'} with {verdict.stars} of 3 stars.\n{checks}\n\n"
        f"The kid's program:\n{program_text}\n\n"
        "The images: key moments seen from above (the car is the blue box, its arrow shows the nose, the white "
        "dot in its middle is what must be inside a zone; "
        "cones are orange) and last the whole path drawn over the arena.\n"
        "Write: went_well = one sentence about one thing that went well (from a PASSED check). "
        "tip = one concrete change to one block in the program above (name the block and a number). "
        f"goal_reached = {str(verdict.passed).lower()}.")
    if retry_reason:
        user += f"\nYour last answer was not usable ({retry_reason}). Follow the rules exactly."
    pics = [base64.b64encode(p).decode("ascii") for p in images.key_frames[: MAX_IMAGES - 1]]
    if images.overlay is not None:
        pics.append(base64.b64encode(images.overlay).decode("ascii"))
    return [{"role": "system", "content": system}, {"role": "user", "content": user, "images": pics}]


def _joined(went_well: str, tip: str) -> str:
    return f"{went_well.strip()} {tip.strip()}".strip()


MOVED_CM = 2.0  # a path shorter than this: the car did not really move (sensor noise, a nudge)


def next_hint(lesson: Lesson, hints_given: int) -> str:
    """The lesson's hints one at a time, in order: after each try that did not pass the kid gets the next
    one, never the one they just tried again; when they run out, none."""
    return lesson.hints[hints_given] if 0 <= hints_given < len(lesson.hints) else ""


def feedback_from_checks(lesson: Lesson, verdict: Verdict, hints_given: int = 0) -> tuple[str, str]:
    """Feedback made from the measurements alone (no model): one thing that went well, one tip.

    hints_given: how many earlier tries at this lesson did not pass (each of them got the next hint).
    A pass gets no hint: the kid found the way."""
    moved = verdict.path_cm >= MOVED_CM
    # Without moving, "touched no wall" (or "only 1 block") is true and says nothing.
    good = [c for c in verdict.checks if c.passed] if moved else []
    bad = [c for c in verdict.checks if not c.passed and c.required] or [c for c in verdict.checks if not c.passed]
    if good:
        g = good[0]
        who = "you" if g.kind in PROGRAM_CHECK_KINDS else "your car"
        went_well = f"Nice work: {who} {sentence(g.kid_text)}"
    elif moved:
        went_well = "Nice work: you ran your program and the car drove."
    else:
        went_well = "Your program ran — now let's make the car move!"
    if verdict.passed:
        tip = (f"For another star: {'' if bad[0].kind in PROGRAM_CHECK_KINDS else 'the car '}{sentence(bad[0].kid_text)}"
               if bad else "Every check passed — on to the next lesson!")
    elif bad:
        b = bad[0]
        who = "" if b.kind in PROGRAM_CHECK_KINDS else "the car "
        tip = f"Tip: {who}{sentence(b.kid_text)}"
        hint = next_hint(lesson, hints_given)
        if hint:
            tip += f" {sentence(hint)}"
    else:
        tip = "Tip: look at the picture of where your car drove, then change one number."
    return went_well[:WENT_WELL_MAX + 40], tip[:TIP_MAX + 120]


def from_checks(lesson: Lesson, verdict: Verdict, note: str, rejected: list[str] | None = None,
                hints_given: int = 0) -> CoachResult:
    went_well, tip = feedback_from_checks(lesson, verdict, hints_given)
    return CoachResult(source="checks", went_well=went_well, tip=tip, text=_joined(went_well, tip),
                       teacher_note=note, rejected=rejected or [])


class Coach:
    """One coach per server (or test): holds the Ollama client for its config."""

    def __init__(self, config: CoachConfig = CoachConfig()) -> None:
        self.config = config
        self._client = ollama.AsyncClient(host=config.host, timeout=config.timeout_s)

    async def feedback(self, lesson: Lesson, verdict: Verdict, program_text: str, images: CoachImages,
                       hints_given: int = 0) -> CoachResult:
        """hints_given: the kid's earlier tries at this lesson that did not pass (see next_hint)."""
        cfg = self.config

        def from_checks_(note: str) -> CoachResult:
            return from_checks(lesson, verdict, note, rejected, hints_given)

        rejected: list[str] = []
        if not cfg.enabled:
            return from_checks_("the coach model is switched off; feedback comes from the checks alone")
        for _ in range(cfg.tries):
            messages = build_messages(lesson, verdict, program_text, images, rejected[-1] if rejected else None)
            try:
                reply = await asyncio.wait_for(
                    self._client.chat(model=cfg.model, messages=messages, format=Feedback.model_json_schema(),
                                      options={"temperature": cfg.temperature}, stream=False),
                    timeout=cfg.timeout_s)
            except (asyncio.TimeoutError, httpx.TimeoutException) as e:  # before OSError: TimeoutError is one
                return from_checks_(f"the coach model took longer than {cfg.timeout_s:g} s "
                                    f"({e.__class__.__name__}); feedback comes from the checks alone")
            except (ConnectionError, httpx.ConnectError, OSError) as e:
                return from_checks_(f"the coach model at {cfg.host} is not reachable ({e.__class__.__name__}); "
                                    "feedback comes from the checks alone — start Ollama to get coach text")
            except (ollama.ResponseError, httpx.HTTPError, ValidationError, json.JSONDecodeError) as e:
                rejected.append(f"error reply: {str(e)[:200]}")
                continue
            try:
                fb = validate_reply(reply.message.content or "", verdict)
            except Rejected as e:
                rejected.append(str(e))
                continue
            return CoachResult(source="model", went_well=fb.went_well, tip=fb.tip, text=_joined(fb.went_well, fb.tip),
                               model=cfg.model, rejected=rejected)
        return from_checks_(f"the coach model's replies were not usable ({'; '.join(rejected)}); "
                            "feedback comes from the checks alone")
