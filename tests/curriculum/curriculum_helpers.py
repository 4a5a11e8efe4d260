"""Recordings with known truth for judge and coach tests: straight-line drives drawn sample by sample."""

from __future__ import annotations

from pathlib import Path

from curriculum.loader import load_lesson
from curriculum.recording import Recording, Sample

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_lesson(name: str = "garage"):
    return load_lesson(FIXTURES / f"{name}.yaml").lesson


def straight_drive(lesson_id: str, start_x: float, end_x: float, y: float = 100.0, speed: float = 60.0,
                   program=None, hz: float = 20.0) -> Recording:
    """A car driving along +x from start_x to end_x at `speed` cm/s, then standing still for 0.5 s."""
    samples, t, x = [], 0.0, start_x
    while x < end_x:
        samples.append(Sample(t=round(t, 4), x=x, y=y, heading=0.0, speed=speed))
        t += 1 / hz
        x += speed / hz
    for _ in range(int(hz / 2)):
        samples.append(Sample(t=round(t, 4), x=end_x, y=y, heading=0.0, speed=0.0))
        t += 1 / hz
    return Recording(attempt_id="synthetic", lesson_id=lesson_id, program=program, samples=samples,
                     end_reason="program_finished")
