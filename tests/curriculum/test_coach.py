"""The coach against a small local Ollama stand-in that records what it receives."""

from __future__ import annotations

import asyncio
import base64

import pytest
from curriculum_helpers import fixture_lesson, straight_drive
from fake_ollama import FakeOllama, reply

from curriculum.coach import Coach, CoachConfig, CoachImages, Feedback
from curriculum.frames import render_attempt_images
from curriculum.judge import judge

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def ollama_fake():
    fake = await FakeOllama().start()
    yield fake
    await fake.stop()


def _attempt(end_x: float):
    lesson = fixture_lesson()
    rec = straight_drive(lesson.id, 50, end_x, program=lesson.solution.blockly)
    verdict = judge(lesson, rec)
    imgs = render_attempt_images(rec, lesson.arena)
    images = CoachImages([v for k, v in imgs.items() if k.startswith("key-")], imgs["overlay.png"])
    return lesson, verdict, images


def _coach(fake: FakeOllama, timeout_s: float = 5.0) -> Coach:
    return Coach(CoachConfig(host=fake.url, model="qwen2.5vl:3b", timeout_s=timeout_s))


async def test_coach_sends_frames_overlay_and_output_schema_and_shows_a_good_reply(ollama_fake):
    lesson, verdict, images = _attempt(230)
    assert verdict.passed
    ollama_fake.replies = [reply("Your car drove straight into the garage.",
                                 "Try a speed of 40 with one move forward 180 cm to finish even calmer.", True)]
    result = await _coach(ollama_fake).feedback(lesson, verdict, "move forward 180 cm", images)
    assert result.source == "model"
    assert result.text.startswith("Your car drove straight into the garage.")
    [sent] = ollama_fake.received
    assert sent["model"] == "qwen2.5vl:3b"
    assert sent["format"] == Feedback.model_json_schema()
    user = sent["messages"][-1]
    assert len(user["images"]) == len(images.key_frames) + 1  # key frames + the overlay
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in user["images"])
    assert "move forward 180 cm" in user["content"] and "PASSED" in user["content"]
    assert "The car drives straight into the garage." in user["content"]  # the rubric


async def test_malformed_reply_is_regenerated_once_then_shown(ollama_fake):
    lesson, verdict, images = _attempt(230)
    ollama_fake.replies = ["this is not json", reply("The car stopped inside the garage.",
                                                     "Use one move forward block of 180 cm.", True)]
    result = await _coach(ollama_fake).feedback(lesson, verdict, "move forward 180 cm", images)
    assert result.source == "model"
    assert len(ollama_fake.received) == 2
    assert result.rejected and result.rejected[0].startswith("malformed")
    assert "not usable" in ollama_fake.received[1]["messages"][-1]["content"]


async def test_reply_claiming_a_park_the_judge_failed_is_rejected_and_replaced_by_checks(ollama_fake):
    lesson, verdict, images = _attempt(120)  # stops 70 cm short of the garage
    assert not verdict.passed
    lying = reply("You parked perfectly inside the garage!", "Use a move forward block of 180 cm.", False)
    ollama_fake.replies = [lying, lying]
    result = await _coach(ollama_fake).feedback(lesson, verdict, "move forward 60 cm", images)
    assert result.source == "checks"
    assert all("contradicts the judge" in r for r in result.rejected) and len(result.rejected) == 2
    assert "from the checks alone" in result.teacher_note
    assert "garage" in result.tip and "perfect" not in result.text.lower()


async def test_reply_that_claims_a_pass_on_a_fail_is_rejected(ollama_fake):
    lesson, verdict, images = _attempt(120)
    ollama_fake.replies = [reply("Good start from the line.", "Make the move forward block 180 cm.", True),
                           reply("Good start from the line.", "Make the move forward block 180 cm long.", False)]
    result = await _coach(ollama_fake).feedback(lesson, verdict, "move forward 60 cm", images)
    assert result.source == "model" and result.tip.endswith("180 cm long.")
    assert "goal_reached=True" in result.rejected[0]


async def test_rude_reply_is_rejected(ollama_fake):
    lesson, verdict, images = _attempt(120)
    rude = reply("That was a stupid drive.", "Your fault: use move forward 180 cm.", False)
    ollama_fake.replies = [rude, rude]
    result = await _coach(ollama_fake).feedback(lesson, verdict, "move forward 60 cm", images)
    assert result.source == "checks" and result.rejected[0].startswith("unkind")
    assert "stupid" not in result.text


async def test_slow_model_times_out_and_feedback_comes_from_checks(ollama_fake):
    lesson, verdict, images = _attempt(230)
    ollama_fake.replies = [("sleep", 3.0), reply("Nice.", "Use 180 cm.", True)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await _coach(ollama_fake, timeout_s=0.5).feedback(lesson, verdict, "move forward 180 cm", images)
    assert loop.time() - started < 2.5
    assert result.source == "checks" and "longer than 0.5 s" in result.teacher_note
    assert result.went_well.startswith("Nice work")


async def test_server_down_falls_back_to_checks_cleanly():
    lesson, verdict, images = _attempt(120)
    fake = await FakeOllama().start()
    url = fake.url
    await fake.stop()  # nothing listens there any more
    result = await Coach(CoachConfig(host=url, timeout_s=2.0)).feedback(lesson, verdict, "move forward 60 cm", images)
    assert result.source == "checks" and "not reachable" in result.teacher_note
    assert "70 cm away from the garage" in result.tip and result.text.count(".") >= 2


async def test_http_error_from_the_model_is_retried_then_checks(ollama_fake):
    lesson, verdict, images = _attempt(230)
    ollama_fake.replies = [("status", 500), ("status", 500)]
    result = await _coach(ollama_fake).feedback(lesson, verdict, "move forward 180 cm", images)
    assert result.source == "checks" and len(ollama_fake.received) == 2


def test_vague_or_long_replies_are_rejected_with_the_rule_they_broke():
    from curriculum.coach import Rejected, validate_reply

    _, verdict, _ = _attempt(230)
    with pytest.raises(Rejected, match="vague tip"):
        validate_reply(reply("Your car stopped inside the garage.", "Keep trying, you are great.", True), verdict)
    with pytest.raises(Rejected, match="too long"):
        validate_reply(reply("Good. Very good. Really good.", "Use move forward 180 cm. Then stop.", True), verdict)
    fb = validate_reply(reply("Your car stopped inside the garage.", "Try moving at speed 40 for a calmer stop.", True),
                        verdict)
    assert fb.goal_reached
