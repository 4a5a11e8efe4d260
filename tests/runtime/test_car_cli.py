"""`dojo car` as a real subprocess against a real socket.io server: joins, runs a request, SIGTERM stops
it cleanly (the running request is answered, the log is flushed); bad options and refusals explain."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from car_helpers import request
from far_side import FarSide

from robot_runtime.recorder import read_log

pytestmark = pytest.mark.timeout(90)

CAR, TOKEN = "car-1", "cli-token"
START_TIMEOUT_S = 30.0  # a fresh Python importing socketio + pydantic on a busy 2-core machine
EXIT_TIMEOUT_S = 10.0  # the car stops within a tick and closes its link in well under a second


def dojo(*args: str) -> list[str]:
    return [sys.executable, "-m", "dojo", "car", *args]


async def test_dojo_car_sim_joins_runs_a_request_and_stops_cleanly_on_sigterm(tmp_path):
    server = await FarSide({CAR: TOKEN}).start()
    log = tmp_path / "car-1.jsonl"
    proc = await asyncio.create_subprocess_exec(  # the token from the environment: not visible in `ps`
        *dojo("--sim", "--name", CAR, "--server", server.url, "--log", str(log)),
        env={**os.environ, "DOJO_CAR_TOKEN": TOKEN}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await server.wait_for(lambda: CAR in server.sid_of, START_TIMEOUT_S, "dojo car to join")
        await asyncio.sleep(0.2)
        assert (await server.call(CAR, "skill", request("r1", kind="drive", distance_cm=15)))["ok"]
        await server.wait_for(lambda: server.results, 10.0, "r1's result")
        assert (await server.call(CAR, "skill", request("r2", kind="drive", seconds=20)))["ok"]
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), EXIT_TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()
    assert proc.returncode == 0, err.decode()
    assert [(r.request_id, r.status) for r in server.results] == [("r1", "done"), ("r2", "cancelled")]
    assert server.results[1].reason == "shutdown"
    assert CAR not in server.sid_of  # it said goodbye
    assert b"car-1 stopped" in out
    records = read_log(log)
    notes = [r["what"] for r in records if r["k"] == "note"]
    assert "link_up" in notes and "shutdown" in notes
    assert [r for r in records if r["k"] == "cmd"][-1]["t"] <= [r for r in records if r["k"] == "note"
                                                                and r["what"] == "shutdown"][0]["t"]


async def test_dojo_car_with_a_wrong_token_exits_3_and_says_why():
    server = await FarSide({CAR: TOKEN}).start()
    try:
        proc = await asyncio.create_subprocess_exec(
            *dojo("--sim", "--name", CAR, "--server", server.url, "--token", "nope"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), START_TIMEOUT_S)
    finally:
        await server.stop()
    assert proc.returncode == 3
    assert "refused car-1: wrong pairing token" in err.decode() and "--token" in err.decode()


async def test_dojo_car_reads_its_token_from_a_file_and_a_token_on_the_command_line_warns(tmp_path):
    server = await FarSide({CAR: TOKEN}).start()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    try:
        proc = await asyncio.create_subprocess_exec(
            *dojo("--sim", "--name", CAR, "--server", server.url, "--token-file", str(token_file)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await server.wait_for(lambda: CAR in server.sid_of, START_TIMEOUT_S, "dojo car (token from a file) to join")
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.communicate(), EXIT_TIMEOUT_S)
        await server.wait_for(lambda: CAR not in server.sid_of, EXIT_TIMEOUT_S, "the car to leave")
        argv_proc = await asyncio.create_subprocess_exec(  # deprecated: still works, and says why not to
            *dojo("--sim", "--name", CAR, "--server", server.url, "--token", TOKEN),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await server.wait_for(lambda: CAR in server.sid_of, START_TIMEOUT_S, "dojo car (--token) to join")
        finally:
            argv_proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(argv_proc.communicate(), EXIT_TIMEOUT_S)
    finally:
        await server.stop()
    assert proc.returncode == 0 and argv_proc.returncode == 0
    assert "--token on the command line is deprecated" in err.decode() and "DOJO_CAR_TOKEN" in err.decode()


@pytest.mark.parametrize("args, message", [
    (["--sim", "--name", "car-1", "--token-file", "/nonexistent/token"], "--token-file /nonexistent/token: cannot read"),
    (["--sim", "--name", "car-1", "--token-file", "/dev/null"], "is empty"),
    (["--sim", "--name", "car-1", "--token-file", "/dev/null", "--token", "x"], "not both"),
    (["--sim"], "--sim needs --name"),
    ([], "say which car"),
    (["--sim", "--name", "Car One!"], "car_id: String should match pattern"),
    (["--sim", "--name", "car-1", "--rate", "1000"], "rate_hz: Input should be less than or equal to 500"),
])
def test_bad_options_exit_2_and_name_the_problem(args, message):
    proc = subprocess.run(dojo(*args), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_bad_arena_file_exits_2_naming_the_file_and_the_field(tmp_path):
    arena = tmp_path / "arena.yaml"
    arena.write_text("width_cm: 300\nheight_cm: 200\nstart: {x_cm: 500, y_cm: 50, heading_deg: 0}\n")
    proc = subprocess.run(dojo("--sim", "--name", "car-1", "--arena", str(arena)), capture_output=True, text=True,
                          timeout=START_TIMEOUT_S)
    assert proc.returncode == 2
    assert "arena.yaml" in proc.stderr and "start pose (500.0, 50.0) must be inside the arena" in proc.stderr


def test_real_car_config_with_unknown_or_unreachable_hardware_gets_a_clear_error(tmp_path):
    config = tmp_path / "car.yaml"
    (tmp_path / "floor.yaml").write_text("width_cm: 400\nheight_cm: 300\n")
    config.write_text("car_id: car-7\nhardware: lidar\narena_file: floor.yaml\nlimits:\n  max_speed_pct: 50\n")
    proc = subprocess.run(dojo(str(config)), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 2
    assert "unknown hardware kind 'lidar'" in proc.stderr and "gpio, pca9685, serial, sim" in proc.stderr
    config.write_text("car_id: car-7\nhardware: serial\narena_file: floor.yaml\nhardware_options: {port: /dev/ttyNOPE7}\n")
    proc = subprocess.run(dojo(str(config)), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 2 and "/dev/ttyNOPE7" in proc.stderr and "dialout" in proc.stderr
    config.write_text("car_id: car-7\nlimits:\n  max_speed_pct: 150\n")
    proc = subprocess.run(dojo(str(config)), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 2 and "limits.max_speed_pct" in proc.stderr and "150" in proc.stderr


def test_the_car_runtime_never_imports_server_curriculum_torch_or_opencv():
    code = (
        "import sys\n"
        "import robot_runtime.car, robot_runtime.link, robot_runtime.policy, robot_runtime.drivers\n"
        "import robot_runtime.skills.registry as r; r.skill_names()\n"
        "from robot_runtime.config import CarConfig\n"
        "from robot_runtime.drivers import create_hardware\n"
        "from robot_runtime.arena import DEFAULT_ARENA\n"
        "create_hardware(CarConfig(car_id='c'), DEFAULT_ARENA)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('server', 'curriculum', 'torch', 'cv2'))\n"
        "print(bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_car_config_in_headless_mode_is_refused_because_it_would_start_without_limits(tmp_path):
    config = tmp_path / "car.yaml"
    (tmp_path / "floor.yaml").write_text("width_cm: 400\nheight_cm: 300\n")
    config.write_text("car_id: car-7\nhardware: gpio\nmode: headless\narena_file: floor.yaml\n"
                      "hardware_options: {pin_factory: mock}\n")
    proc = subprocess.run(dojo(str(config)), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 2
    assert "mode: headless" in proc.stderr and "remove `mode:`" in proc.stderr
