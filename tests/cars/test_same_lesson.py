"""The same lesson program on the simulator and on a gpio car whose fake pins drive a simulated plant:
the same blocks get the same final answers, and the judge gives the same verdict.

The gpio car knows where it is from its encoder (dead reckoning), and, like a car in a classroom with
the arena camera, from overhead poses of the plant fused in at the camera's rate; the simulated car is
truth. Dead reckoning alone grows honest uncertainty (the plant's tyres slip where the car's model does
not), and the fence keeps that much further from walls: a lesson that ends near an edge needs the camera.
Both go through the real catalog translation, gate rules, car runtime, supervisor and judge
(curriculum.simrun's port), so the only difference is the hardware underneath.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curriculum.interpreter import BlocklyInterpreter, ProgramStopped
from curriculum.judge import judge
from curriculum.levels import level as level_of
from curriculum.loader import load_lesson
from curriculum.recording import Recording, RecordingWriter
from curriculum.simrun import SETTLE_S, _SimPort, run_program
from robot_runtime.config import CarConfig
from robot_runtime.drivers import gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.fake_plant import PinPlant
from robot_runtime.protocol import SessionLimits
from robot_runtime.runtime import CarRuntime

pytestmark = pytest.mark.timeout(120)

LESSONS = Path(__file__).resolve().parents[2] / "lessons"
ARM_WAIT_S = 2.5  # a car boots and its ESC arms (2 s) long before a kid presses run
CM_PER_TICK = 0.5
PATHS_APART_CM = 8.0  # simulator vs pin-driven plant after a whole lesson, both true poses (5 cm seen)
CAMERA_SIGMA_CM = 1.0  # the tracker's pose error is ~0.3 cm median on the simulated camera; 1 cm is generous


def run_on_gpio_car(lesson, program, camera: bool):
    pins = mock_factory()
    plant = PinPlant(pins, lesson.arena, cm_per_tick=CM_PER_TICK)
    clock = plant.clock
    config = CarConfig(car_id="gpio-1", hardware="gpio", watchdog=False, mode="headless",
                       hardware_options={"pin_factory": "mock", "encoder": {"pin": 5, "cm_per_tick": CM_PER_TICK}})
    car = gpio.create(config, lesson.arena, pin_factory=pins, clock=clock.now)
    runtime = CarRuntime(config, car, clock, arena=lesson.arena)
    runtime.set_arena(lesson.arena)
    lv = level_of(lesson.level)
    runtime.handle_limits(SessionLimits(max_speed_pct=lv.max_speed_pct, allowed_skills=sorted(lv.skills),
                                        level=lv.number).model_dump(mode="json"))
    runtime.loop.run_headless(ARM_WAIT_S)
    writer = RecordingWriter(Recording(attempt_id="gpio", lesson_id=lesson.id, kid_id="sim", car_id="gpio-1",
                                       source="blockly", program=program), clock=clock.now)
    runtime.telemetry_sinks.append(writer.add_telemetry)
    if camera:  # the overhead tracker's poses at the telemetry rate (20 Hz; a webcam gives 30)
        runtime.telemetry_sinks.append(lambda _tm: car.external_pose(
            plant.sim.pose.x_cm, plant.sim.pose.y_cm, plant.sim.pose.heading_deg, clock.now(), CAMERA_SIGMA_CM))
    port = _SimPort(lesson, runtime, clock, clock.now())
    try:
        BlocklyInterpreter(program, port).run()
    except ProgramStopped:
        pass
    runtime.loop.run_headless(SETTLE_S)
    rec = writer.end("program_finished", ended_at=clock.now())
    car.close()
    return port.results, judge(lesson, rec, program), car, plant


@pytest.mark.parametrize("name, camera", [("level-1/l1-around-the-corner", False), ("level-1/l1-square-dance", True)])
def test_same_blocks_same_answers_on_the_simulator_and_on_a_gpio_car(name, camera):
    lesson = load_lesson(LESSONS / f"{name}.yaml").lesson
    program = json.loads((LESSONS / f"{name}.blockly.json").read_text())
    sim = run_program(lesson, program)
    gpio_results, gpio_verdict, car, plant = run_on_gpio_car(lesson, program, camera)
    sim_verdict = judge(lesson, sim.recording, program)

    assert [r.status for r in gpio_results] == [r.status for r in sim.results]
    assert all(r.status == "done" for r in gpio_results) and len(gpio_results) >= 3
    assert gpio_verdict.passed == sim_verdict.passed is True
    assert plant.ticks_sent > 100  # the car knew its distance from the encoder the plant drove
    # The car's belief and the plant's truth agree within the uncertainty it reports.
    truth, belief = plant.sim.pose, car.pose
    err = ((truth.x_cm - belief.x) ** 2 + (truth.y_cm - belief.y) ** 2) ** 0.5
    assert err <= max(3.0 * belief.uncertainty_cm, 5.0), (err, belief.uncertainty_cm)
    # And the plant ended where the simulator did, within what dead reckoning can know (with the camera the
    # belief is tight, and the two cars' own paths differ by what pulses and the ESC's arming make of a command).
    sx, sy, _ = sim.truth_end
    assert ((truth.x_cm - sx) ** 2 + (truth.y_cm - sy) ** 2) ** 0.5 <= max(3.0 * belief.uncertainty_cm, PATHS_APART_CM)
