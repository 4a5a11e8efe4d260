"""The Pico firmware (firmware/pico) running under CPython with the stand-in `machine` module.

    with PicoOnPty() as pico:          # the firmware serves the master end of a pty on a thread
        pico.path                      # the slave end: what the driver opens, like /dev/ttyACM0
        pico.throttle.pulses()         # [(monotonic t, µs), ...] the board's own output history
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import tty
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRMWARE = HERE.parents[1] / "firmware" / "pico"
for p in (str(HERE / "micropython"), str(FIRMWARE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import board as fw_board  # noqa: E402  (firmware/pico/board.py)
import machine  # noqa: E402  (the stand-in)

_spec = importlib.util.spec_from_file_location("pico_main", FIRMWARE / "main.py")
fw_main = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fw_main)


def new_board(now_ms: int = 0):
    return fw_board.Board(machine.PWM(machine.Pin(16)), machine.PWM(machine.Pin(17)), now_ms)


class PicoOnPty:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self.slave)
        self.board = new_board(fw_main.ticks_ms())
        self.throttle, self.steering = self.board.throttle, self.board.steering
        self._stop = threading.Event()
        self._inp = open(self.master, "rb", buffering=0, closefd=False)
        self._out = open(self.master, "wb", buffering=0, closefd=False)
        self.thread = threading.Thread(target=fw_main.serve, args=(self.board, self._inp, self._out),
                                       kwargs={"running": lambda: not self._stop.is_set()}, daemon=True)

    def __enter__(self) -> "PicoOnPty":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join(2)
        for fd in (self.master, self.slave):
            os.close(fd)
