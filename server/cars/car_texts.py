"""What a car says is bounded before anyone reads it: texts cut to a size, events capped in number.

A car's texts (a result's ``kid_text``, ``detail`` and ``reason``; a safety event's ``kid_text`` and
``detail``; a collision's ``with``; an ack's error) travel to kids' editors, every teacher's console and
the recordings. A broken or hostile car runtime must not be able to push a 200 KB sentence to all of
them, or thousands of events a second. Promises (tests/server/cars/test_car_texts.py, real server,
real socket.io clients):

- every text from a car is cut to ``MAX_KID_TEXT`` / ``MAX_DETAIL`` / ``MAX_REASON`` characters (an
  ellipsis marks the cut) before the classroom sees it;
- a telemetry message keeps at most ``MAX_EVENTS_PER_MESSAGE`` safety events and collisions (the rest
  are counted in ``/api/health`` ``bad_car_messages`` as ``telemetry.events_cut``);
- the classroom pushes at most ``SAFETY_PUSH_PER_S`` safety events a second per car to kids and
  teachers (burst ``SAFETY_PUSH_BURST``); the others stay in the recording and are counted
  (server/core/classroom.py, ``safety_not_pushed``).
"""

from __future__ import annotations

from robot_runtime.protocol import Ack, SkillResult, Telemetry

MAX_KID_TEXT = 200  # one or two kid sentences ("I stopped: wall 10 cm ahead")
MAX_DETAIL = 300  # the teacher's line: rule, value, limit
MAX_REASON = 64  # a machine reason: collision, timeout, blocked_by_safety
MAX_WITH = 40  # what a collision hit: "wall", "cone:3", "car:car-2"
MAX_EVENTS_PER_MESSAGE = 8  # per 50 ms telemetry message; a real supervisor reports a few at most
ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def bounded_result(result: SkillResult) -> SkillResult:
    return result.model_copy(update={"kid_text": cut(result.kid_text, MAX_KID_TEXT),
                                     "detail": cut(result.detail, MAX_DETAIL), "reason": cut(result.reason, MAX_REASON)})


def bounded_ack(ack: Ack) -> Ack:
    if ack.error is None:
        return ack
    error = ack.error.model_copy(update={
        "rule": cut(ack.error.rule, MAX_REASON), "message": cut(ack.error.message, MAX_DETAIL),
        "fix": cut(ack.error.fix, MAX_DETAIL),
        "value": ack.error.value if isinstance(ack.error.value, (int, float, bool)) or ack.error.value is None
        else cut(str(ack.error.value), MAX_REASON)})
    return ack.model_copy(update={"error": error})


def bounded_telemetry(telemetry: Telemetry) -> tuple[Telemetry, int]:
    """The telemetry with its texts cut and its event lists capped; and how many events were cut off."""
    events, collisions = telemetry.safety_events, telemetry.collisions
    if not events and not collisions:
        return telemetry, 0  # the usual 20 Hz message: nothing to copy
    dropped = max(0, len(events) - MAX_EVENTS_PER_MESSAGE) + max(0, len(collisions) - MAX_EVENTS_PER_MESSAGE)
    events = [e.model_copy(update={"kid_text": cut(e.kid_text, MAX_KID_TEXT), "detail": cut(e.detail, MAX_DETAIL)})
              for e in events[:MAX_EVENTS_PER_MESSAGE]]
    collisions = [c.model_copy(update={"with_": cut(c.with_, MAX_WITH)}) for c in collisions[:MAX_EVENTS_PER_MESSAGE]]
    return telemetry.model_copy(update={"safety_events": events, "collisions": collisions}), dropped
