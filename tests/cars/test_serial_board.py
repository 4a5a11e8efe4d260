"""The serial driver and the Pico firmware: the firmware's logic runs under CPython (a stand-in for
`machine`), alone with an injected clock and on a pty against the real driver, in this process and
with the runtime in a child process that is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from pico import FIRMWARE, PicoOnPty, new_board

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.devices.esc import ARM_S
from robot_runtime.drivers import HardwareUnavailable
from robot_runtime.drivers import board_protocol as P
from robot_runtime.drivers import serial_board
from robot_runtime.hardware import Command

pytestmark = pytest.mark.timeout(60)

HERE = Path(__file__).parent
ARENA = Arena(name="hall", width_cm=2000, height_cm=2000, start={"x_cm": 300, "y_cm": 1000, "heading_deg": 0})


def diff(a, b):
    return a - b


def replies(board, body_or_line, now):
    line = body_or_line if isinstance(body_or_line, bytes) else P.frame(body_or_line)
    return [P.unframe(r)[0] for r in board.handle(line, now)]


def test_firmware_runs_the_same_protocol_module_as_the_driver():
    assert (FIRMWARE / "board_protocol.py").resolve() == Path(P.__file__).resolve()


def test_firmware_refuses_and_counts_corrupted_lines_and_never_moves_for_them():
    b = new_board()
    assert replies(b, "C 1 1600 1450", 0) == [["A", "1", "1600", "1450"]]
    good = P.frame("C 2 1900 1900")
    flipped = good.replace(b"1900 1900", b"1900 1980")  # a bit flipped on the wire
    assert replies(b, flipped, 10) == [["E", "CHECKSUM", "line", "refused"]]
    assert replies(b, b"C 3 1900 1900\n", 20)[0][:2] == ["E", "CHECKSUM"]  # no CRC at all
    assert replies(b, b"x" * 100 + b"*00", 30)[0][:2] == ["E", "LENGTH"]
    assert replies(b, "FLY 1", 40)[0][:2] == ["E", "UNKNOWN"]
    assert replies(b, "C 4 fast left", 50)[0][:2] == ["E", "ARGS"]
    assert b.throttle.duty_ns() == 1_600_000 and b.steering.duty_ns() == 1_450_000  # unchanged
    assert b.errors == 5
    telemetry = P.unframe(b.tick(P.TELEMETRY_MS, diff)[0])[0]
    assert telemetry[0] == "T" and telemetry[-1] == "5"


def test_firmware_failsafe_is_neutral_250ms_after_the_last_valid_command():
    b = new_board()
    replies(b, "CFG 1510 1000 2000 1490 1000 2000", 900)
    replies(b, "C 1 1700 1600", 1000)
    replies(b, P.frame("C 2 1700 1600")[:-4] + b"00\n", 1100)  # corrupted: does not feed the failsafe
    b.tick(1000 + P.FAILSAFE_MS - 1, diff)
    assert b.throttle.duty_ns() == 1_700_000
    b.tick(1000 + P.FAILSAFE_MS, diff)
    assert b.throttle.duty_ns() == 1_510_000 and b.steering.duty_ns() == 1_490_000 and b.failsafes == 1  # calibrated
    replies(b, "C 3 1650 1500", 1400)
    assert b.throttle.duty_ns() == 1_650_000  # a valid command drives again


def test_firmware_sends_no_pulses_until_cfg_says_what_neutral_is():
    """A guessed 1500 µs could be throttle on a car whose neutral is 1300, or past its servo's end."""
    b = new_board()
    assert [us for _, us in b.throttle.pulses()] == [0.0] and [us for _, us in b.steering.pulses()] == [0.0]  # at boot
    assert replies(b, "C 1 1700 1600", 0) == [["A", "1", "1700", "1600"]]  # a command drives (default clamps)
    b.tick(P.FAILSAFE_MS, diff)
    assert b.throttle.duty_ns() == 0 and b.steering.duty_ns() == 0 and b.failsafes == 1  # failsafe: no pulses
    assert replies(b, "N", 300) == [["A", "N"]] and b.throttle.duty_ns() == 0
    assert replies(b, "CFG 1320 1160 1480 1290 1130 1450", 310) == [["OK", "CFG"]]
    assert b.throttle.duty_ns() == 1_320_000 and b.steering.duty_ns() == 1_290_000  # now the calibrated neutral


def test_firmware_clamps_to_the_configured_limits_and_acks_what_it_set():
    b = new_board()
    assert replies(b, "CFG 1520 1160 1880 1490 1130 1850", 0) == [["OK", "CFG"]]
    assert b.throttle.duty_ns() == 1_520_000  # neutral is the calibrated one
    assert replies(b, "C 1 2400 900", 5) == [["A", "1", "1880", "1130"]]
    assert replies(b, "CFG 1520 1600 1880 1490 1130 1850", 10)[0][:2] == ["E", "ARGS"]  # neutral outside lo..hi
    assert replies(b, "HELLO 2", 20)[0][:2] == ["E", "VERSION"]
    assert replies(b, f"HELLO {P.VERSION}", 30)[0][:2] == ["HI", str(P.VERSION)]


def make_car(path, shift):
    config = CarConfig(car_id="car-s", hardware="serial", watchdog=False, mode="headless",
                       hardware_options={"port": path, "cm_per_tick": 0.5,
                                         "throttle": {"neutral_us": 1520, "forward_max_us": 1880, "reverse_max_us": 1160}})
    return serial_board.create(config, ARENA, clock=lambda: time.monotonic() + shift[0])


def wait(pred, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_driver_handshakes_drives_reads_telemetry_and_stops_through_a_pty():
    with PicoOnPty() as pico:
        shift = [0.0]
        car = make_car(pico.path, shift)
        try:
            assert car.failsafe_s == P.FAILSAFE_MS / 1000
            assert pico.board.limits == (1520, 1160, 1880, 1500, 1100, 1900)
            shift[0] = ARM_S  # skip the ESC's arming wait
            sent = car.apply(Command(0.5, 0.0))
            assert sent.throttle == 0.5
            wait(lambda: pico.throttle.duty_ns() == 1_700_000)  # 1520 + 0.5 * 360
            pico.board.ticks, pico.board.dist_mm = 200, 850
            wait(lambda: car.read().distance_cm == 85.0)
            car.apply(Command(0.5, 0.0))
            state = car.read()
            assert state.pose_source == "encoder" and state.x_cm == pytest.approx(300 + 100, abs=1)
            car.stop()
            wait(lambda: pico.throttle.duty_ns() == 1_520_000)
            car.outputs.link.send("NOPE")  # the board's error comes back and is kept
            wait(lambda: car.outputs.link.poll() is not None and car.outputs.link.errors_seen)
            assert car.outputs.link.errors_seen[-1][0] == "UNKNOWN"
        finally:
            car.close()


def test_board_that_does_not_answer_is_a_clear_error():
    import os
    import tty
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with pytest.raises(HardwareUnavailable, match="did not answer HELLO"):
            serial_board.create(CarConfig(car_id="c", hardware="serial", mode="headless", hardware_options={"port": os.ttyname(slave)}),
                                ARENA)
    finally:
        os.close(master)
        os.close(slave)


def test_missing_port_names_the_fix():
    with pytest.raises(HardwareUnavailable, match="dialout"):
        serial_board.create(CarConfig(car_id="c", hardware="serial", mode="headless", hardware_options={"port": "/dev/ttyNOPE9"}), ARENA)


def test_board_goes_neutral_250ms_after_the_runtime_is_killed():
    with PicoOnPty() as pico:
        proc = subprocess.Popen([sys.executable, str(HERE / "serial_child.py"), pico.path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 15
            while pico.throttle.duty_ns() <= 1_550_000:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise AssertionError(f"child never drove: {proc.communicate()[1].decode()[-2000:]}")
                time.sleep(0.01)
            killed_at = time.monotonic()
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
            time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.kill()
        hist = pico.throttle.pulses()
        last_cmd = max(t for t, us in hist if us > 1550 and t <= killed_at + 0.05)
        neutral_at = min(t for t, us in hist if t > last_cmd and us == 1500)
        assert P.FAILSAFE_MS / 1000 - 0.005 <= neutral_at - last_cmd <= P.FAILSAFE_MS / 1000 + 0.05
        assert pico.board.failsafes == 1


class BrokenPort:
    """A serial port whose writes fail the way pyserial's do (the edge: a busy or unplugged USB port)."""

    def __init__(self, exc) -> None:
        self.exc, self.in_waiting = exc, 0

    def write(self, data):
        raise self.exc

    def read(self, n):
        return b""


def test_a_busy_port_drops_a_line_but_an_unplugged_one_is_a_fault():
    busy = serial_board.BoardLink(BrokenPort(serial.SerialTimeoutException("Write timeout")))
    busy.command(1500, 1500)
    assert busy.dropped_writes == 1 and busy.fault is None
    gone = serial_board.BoardLink(BrokenPort(serial.SerialException("device disconnected")))
    gone.command(1500, 1500)
    assert gone.fault == "disconnected" and gone.distance() == (None, "disconnected")
