"""The Python SDK end to end: a real `dojo demo` (server + simulated car processes), real sockets.

Each test joins as its own kid and so gets its own car, standing at its start slot: this module's
demo has one car per kid (a shared car could be left anywhere by the test before).
"""

from __future__ import annotations

import builtins
import math
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

import dojo
from demo_harness import HTTP_TIMEOUT_S, set_kid_level, start_demo, wait_until

POSITION_TOLERANCE_CM = 3.0  # the car runtime's own promise is 30 +- 2 cm; 1 cm more for telemetry timing
HEADING_TOLERANCE_DEG = 6.0  # the car runtime promises 90 +- 5 degrees
STOP_THROTTLE_S = 0.3  # stop reaches the motors within a few ticks; telemetry (20 Hz) shows it soon after
ROLL_OUT_S = 2.5  # the simulated car rolls out from 90 cm/s with zero throttle in ~1.5 s
CTRL_C_STOP_S = 1.5  # signal -> stop emitted -> server -> car -> next 20 Hz telemetry, on a busy shared box
LOCAL_CHECK_S = 0.5  # a local ValueError takes microseconds; a round trip through a moving car takes seconds


def pose(car: dojo.Car) -> tuple[float, float, float]:
    return car.x, car.y, car.heading


def along(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """Distance travelled along the starting heading (negative: backwards)."""
    h = math.radians(before[2])
    return (after[0] - before[0]) * math.cos(h) + (after[1] - before[1]) * math.sin(h)


def turned(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    return (after[2] - before[2] + 180.0) % 360.0 - 180.0


KIDS = ("Mia", "Leo", "Ava", "Noah", "Zoe", "Ella", "Oli", "Finn", "Ruby")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    with start_demo(tmp_path_factory.mktemp("demo"), cars=len(KIDS)) as demo:
        yield demo


@pytest.fixture
def connect(demo_server):
    cars: list[dojo.Car] = []

    def make(name: str, server: str | None = None) -> dojo.Car:
        car = dojo.connect(server or demo_server.base_url, class_code=demo_server.class_code, name=name)
        cars.append(car)
        return car

    yield make
    for car in cars:
        car.close()


def test_sdk_example_drives_the_car_the_distances_and_angles_asked(connect):
    car = connect("Mia")
    start = pose(car)
    car.forward(30)
    after_forward = pose(car)
    assert along(start, after_forward) == pytest.approx(30, abs=POSITION_TOLERANCE_CM)
    car.backward(10)
    after_backward = pose(car)
    assert along(after_forward, after_backward) == pytest.approx(-10, abs=POSITION_TOLERANCE_CM)
    car.turn_left(90)
    after_left = pose(car)
    assert turned(after_backward, after_left) == pytest.approx(90, abs=HEADING_TOLERANCE_DEG)
    car.turn_right(45)
    assert turned(after_left, pose(car)) == pytest.approx(-45, abs=HEADING_TOLERANCE_DEG)
    distance = car.distance()
    assert distance == math.inf or 0 <= distance <= 500
    car.stop()


def test_level_1_refuses_locked_blocks_with_a_kid_sentence_and_a_teacher_detail(connect):
    car = connect("Leo")
    assert car.level == 1
    attempts = {
        "set_speed": lambda: setattr(car, "speed", 40),
        "do_skill": lambda: car.do("slalom"),
        "drive_for": lambda: car.drive(50, 2),
        "go_to": lambda: car.go_to(100, 50),
    }
    for block_id, attempt in attempts.items():
        with pytest.raises(dojo.Refused) as refused:
            attempt()
        assert "level" in str(refused.value).lower(), str(refused.value)  # the kid hears which level unlocks it
        assert block_id in refused.value.detail and "level" in refused.value.detail
        assert refused.value.status == "refused"
    assert car.speed is None  # a refused setting changes nothing
    car.forward(5)  # the connection stays up and allowed blocks still run


def test_the_level_caps_speed_with_a_refusal_and_unlocks_drive_and_go_to(demo_server, connect, join_kid):
    kid = join_kid(demo_server, "Ava")
    set_kid_level(demo_server, kid, 2)
    car = connect("Ava")
    with pytest.raises(dojo.Refused) as refused:
        car.speed = 80
    assert "50" in str(refused.value)  # level 2 cars go up to 50%: the kid is told the number to try
    car.speed = 40
    assert car.speed == 40
    start = pose(car)
    car.drive(30, 0.5)  # 30% of a 300 cm/s car for half a second: ~45 cm
    assert along(start, pose(car)) > 20
    set_kid_level(demo_server, kid, 3)
    x, y = car.x + 40, car.y + 20
    car.go_to(x, y)
    assert math.dist((car.x, car.y), (x, y)) < 8  # the runtime promises 5 cm; telemetry timing adds a little


def test_bad_arguments_raise_value_error_naming_the_rule_the_value_and_the_fix(connect):
    car = connect("Noah")
    before = pose(car)
    cases = [
        (lambda: car.forward(-5), "distance", "car.backward(5)"),
        (lambda: car.forward("far"), "number", "'far'"),
        (lambda: car.forward(900), "between 0 and 500", "900"),
        (lambda: car.turn_left(float("nan")), "number", "nan"),
        (lambda: car.do("slalm"), "slalom", "'slalm'"),
    ]
    for attempt, rule_words, value_words in cases:
        started = time.monotonic()
        with pytest.raises(ValueError) as err:
            attempt()
        assert rule_words in str(err.value) and value_words in str(err.value), str(err.value)
        assert isinstance(err.value, dojo.ArgumentError) and err.value.rule
        assert time.monotonic() - started < LOCAL_CHECK_S  # caught here, not after a trip to the car
    assert pose(car) == pytest.approx(before, abs=0.5)


def test_stop_from_another_thread_preempts_a_long_move(connect):
    car = connect("Zoe")
    stopper = threading.Timer(0.8, car.stop)
    started = time.monotonic()
    stopper.start()
    with pytest.raises(dojo.Stopped):
        car.forward(250)  # ~3 s at level 1's 30%
    elapsed = time.monotonic() - started
    assert elapsed < 0.8 + 1.0, f"the move ended {elapsed:.2f} s after it started"
    wait_until(lambda: car.telemetry["throttle"] == 0.0, STOP_THROTTLE_S, "the applied throttle to be zero")
    wait_until(lambda: abs(car.telemetry["speed_cm_s"]) < 1.0, ROLL_OUT_S, "the car to stand still")
    car.forward(5)  # a stopped car takes the next move


class CuttableProxy:
    """A TCP relay on loopback whose cut() drops every connection: a Wi-Fi that goes away."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.cut_now = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_now:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        self.cut_now = True
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_losing_the_connection_mid_move_raises_dojo_connection_error(demo_server, connect):
    proxy = CuttableProxy(int(demo_server.base_url.rsplit(":", 1)[1]))
    car = connect("Ella", server=f"http://127.0.0.1:{proxy.port}")
    threading.Timer(0.5, proxy.cut).start()
    started = time.monotonic()
    with pytest.raises(dojo.ConnectionError) as lost:
        car.forward(250)
    assert time.monotonic() - started < 0.5 + 1.5
    assert isinstance(lost.value, builtins.ConnectionError)  # `except ConnectionError` catches it too
    assert "connection" in str(lost.value) and lost.value.detail
    with pytest.raises(dojo.ConnectionError):
        car.forward(5)  # every later call says the same at once
    # The server stops the car of a kid whose connection went away; seen through a fresh connection.
    again = connect("Ella")
    wait_until(lambda: again.telemetry and again.telemetry["throttle"] == 0.0, 1.0,
               "Ella's car to have zero throttle after her connection dropped")
    wait_until(lambda: abs(again.telemetry["speed_cm_s"]) < 1.0, ROLL_OUT_S, "Ella's car to stand still")


def test_connecting_to_a_server_that_is_not_there_raises_connection_error_with_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # a port nobody listens on once the socket closes
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(dojo.ConnectionError) as err:
        dojo.connect(url, class_code="DEMO", name="Mia")
    assert url in str(err.value)


def test_a_wrong_class_code_is_refused_with_what_to_do(demo_server):
    with pytest.raises(dojo.Refused) as refused:
        dojo.connect(demo_server.base_url, class_code="NOPE", name="Mia")
    assert "NOPE" in str(refused.value) and "board" in str(refused.value)


def test_on_obstacle_fires_once_per_approach_and_a_blocked_move_raises_car_error(demo_server, connect, join_kid):
    set_kid_level(demo_server, join_kid(demo_server, "Oli"), 3)  # 70% top speed: the wall comes quickly
    car = connect("Oli")
    seen: list[float] = []
    fired = threading.Event()

    @car.on_obstacle(40)
    def near() -> None:
        seen.append(car.telemetry["distance_cm"])
        fired.set()

    assert math.hypot(*arena_size_cm(car)) <= 500  # so a wall is within forward(500) whichever way the car faces
    with pytest.raises(dojo.CarError) as blocked:  # the car's safety rules stop it before the wall
        car.forward(500)
    assert str(blocked.value) and blocked.value.detail and blocked.value.status == "failed"
    assert fired.wait(1.0) and len(seen) == 1 and seen[0] < 40
    car.backward(40)  # the wall is now beyond 40 + 5 cm: the trigger re-arms
    assert car.distance() > 45
    with pytest.raises(dojo.CarError):
        car.forward(60)
    wait_until(lambda: len(seen) == 2, 1.0, "the second approach to fire the handler again")


def arena_size_cm(car: dojo.Car) -> tuple[float, float]:
    arena = requests.get(f"{car.server}/api/arena", params={"car": car.car_id}, timeout=HTTP_TIMEOUT_S).json()["arena"]
    return arena["width_cm"], arena["height_cm"]


KID_PROGRAM = """
import sys
import dojo
car = dojo.connect(sys.argv[1], class_code="DEMO", name="Finn")
print("driving", flush=True)
car.forward(250)
print("finished", flush=True)
"""


def test_ctrl_c_in_a_kid_program_stops_the_car(demo_server, connect, tmp_path):
    watcher = connect("Finn")  # the same kid on a second connection: the server keeps the car running for it
    program = tmp_path / "my_program.py"
    program.write_text(KID_PROGRAM)
    kid = subprocess.Popen([sys.executable, str(program), demo_server.base_url], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        first = kid.stdout.readline().strip()  # the SDK says who drives which car, then the program speaks
        assert first.startswith("Finn drives car-") and "Ctrl+C" in first, first
        assert kid.stdout.readline().strip() == "driving"
        wait_until(lambda: watcher.telemetry and watcher.telemetry["throttle"] > 0, 3.0, "Finn's car to drive")
        kid.send_signal(signal.SIGINT)
        # The move lasts ~3 s and Ctrl-C comes as it starts: zero throttle well before its end is the SDK's stop.
        wait_until(lambda: watcher.telemetry["throttle"] == 0.0, CTRL_C_STOP_S, "Ctrl-C to stop the car")
        _, err = kid.communicate(timeout=5)
    finally:
        kid.kill()
    assert kid.returncode != 0 and "KeyboardInterrupt" in err


def test_the_readme_sdk_example_runs_as_written(demo_server, tmp_path):
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'dojo.connect("http://127.0.0.1:8080"' in example
    program = tmp_path / "readme_example.py"
    program.write_text(example.replace("http://127.0.0.1:8080", demo_server.base_url).replace('"Mia"', '"Ruby"'))
    result = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    numbers, refusal = result.stdout.strip().splitlines()[-2:]
    assert len(numbers.split()) == 4 and "unlocks at level 3" in refusal


def test_a_forged_token_is_refused_with_the_servers_reason(demo_server):
    with pytest.raises(dojo.Refused) as refused:
        dojo.connect(demo_server.base_url, token="not-a-real-token")
    assert str(refused.value) and "join" in (str(refused.value) + refused.value.detail).lower()
