"""The judge: runs a lesson's checks on a recording and the program; pass/fail, 0-3 stars, evidence.

Deterministic: same lesson, recording and program give the same verdict. Measurements decide; the
coach only explains them. Stars: 0 = not passed (a required check failed); 1 = passed; 2 = passed and
every check listed in ``stars.two`` passed; 3 = that and every check in ``stars.three`` passed (an
empty list is no extra hurdle).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from curriculum.checks import CheckContext, CheckResult, path_length, run_check, stopped_at
from curriculum.lesson import Lesson
from curriculum.program import ProgramError, ProgramInfo, analyse
from curriculum.recording import Recording
from robot_runtime.hardware import CarSpec


class Verdict(BaseModel):
    lesson_id: str
    passed: bool
    stars: int
    checks: list[CheckResult]
    kid_summary: str
    finish_s: float
    path_cm: float
    program: dict[str, Any]
    end_reason: str | None = None

    def check(self, check_id: str) -> CheckResult:
        return next(c for c in self.checks if c.id == check_id)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


def program_info(program: Any) -> ProgramInfo:
    try:
        return analyse(program)
    except ProgramError as e:
        return ProgramInfo("unreadable", text=str(e))


def judge(lesson: Lesson, recording: Recording, program: Any = None, spec: CarSpec = CarSpec()) -> Verdict:
    info = program_info(recording.program if program is None else program)
    ctx = CheckContext(lesson, recording, info, spec)
    results = [run_check(c, ctx) for c in lesson.checks]
    by_id = {r.id: r for r in results}
    passed = all(r.passed for r in results if r.required)
    stars = 0
    if passed:
        stars = 1
        if all(by_id[i].passed for i in lesson.stars.two):
            stars = 2
            if all(by_id[i].passed for i in lesson.stars.three):
                stars = 3
    return Verdict(lesson_id=lesson.id, passed=passed, stars=stars, checks=results,
                   kid_summary=_summary(passed, stars, results), finish_s=round(stopped_at(recording.samples), 2),
                   path_cm=round(path_length(recording.samples), 1), program=info.as_dict(),
                   end_reason=recording.end_reason)


def _summary(passed: bool, stars: int, results: list[CheckResult]) -> str:
    good = [r.kid_text for r in results if r.passed][:2]
    bad = [r.kid_text for r in results if not r.passed and r.required][:1] or \
          [r.kid_text for r in results if not r.passed][:1]
    if passed:
        head = f"{stars} star{'s' if stars != 1 else ''}! " + (", ".join(good).capitalize() + "." if good else "")
        return head + (f" For another star: {sentence(bad[0])}" if bad and stars < 3 else "")
    return ("Nearly! " + (", ".join(good).capitalize() + ". " if good else "") +
            (f"But: {sentence(bad[0])}" if bad else "")).strip()


def sentence(text: str) -> str:
    """A kid sentence that ends in exactly one mark: "can you do it with 1?" stays, "stopped 3 cm" gets a "."."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else f"{text}."


def compare(a: Verdict, b: Verdict, label_a: str = "attempt A", label_b: str = "attempt B") -> dict[str, Any]:
    """Which of two attempts at the same lesson was better, and a kid sentence saying why."""
    if a.lesson_id != b.lesson_id:
        raise ValueError(f"compare needs two attempts at the same lesson (got {a.lesson_id} and {b.lesson_id})")

    def key(v: Verdict) -> tuple[Any, ...]:
        return (v.stars, v.passed, sum(c.passed for c in v.checks), -v.finish_s, -v.path_cm)

    if key(a) == key(b):
        return {"better": None, "kid_text": f"{label_a} and {label_b} were equally good — "
                                            f"both got {a.stars} star{'s' if a.stars != 1 else ''}.", "changes": []}
    win, lose, wl, ll = (a, b, label_a, label_b) if key(a) > key(b) else (b, a, label_b, label_a)
    gained = [c.kid_text for c in win.checks if c.passed and not lose.check(c.id).passed]
    changes = [{"id": c.id, "winner": c.passed, "loser": lose.check(c.id).passed} for c in win.checks
               if c.passed != lose.check(c.id).passed]
    if win.stars != lose.stars:
        why = f"it got {win.stars} star{'s' if win.stars != 1 else ''} instead of {lose.stars}"
    elif gained:
        why = "it passed one more check"
    elif win.finish_s < lose.finish_s:
        why = f"it finished faster ({win.finish_s:.1f} s instead of {lose.finish_s:.1f} s)"
    else:
        why = f"it took a shorter path ({win.path_cm:.0f} cm instead of {lose.path_cm:.0f} cm)"
    text = f"{wl.capitalize()} was better: {why}" + (f" — it {gained[0]}." if gained else ".")
    return {"better": "a" if win is a else "b", "kid_text": text, "changes": changes}
