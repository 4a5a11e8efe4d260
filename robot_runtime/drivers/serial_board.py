"""`hardware: serial` — a motor board (Raspberry Pi Pico, firmware/pico) over USB serial.

The board makes the pulses with its own hardware timers (jitter-free) and keeps its own failsafe:
neutral when no valid command came for 250 ms, whatever happened to the Pi. This side speaks
board_protocol.py: a handshake (HELLO -> HI, version checked; CFG with the calibrated pulse limits, which
the board clamps to), then one ``C`` line per control tick, and reads the board's acks, telemetry
(encoder ticks, distance, battery, failsafe and error counts) and error lines without ever waiting:
pyserial with a zero read timeout and a short write timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.drivers import HardwareUnavailable
from robot_runtime.drivers import board_protocol as P
from robot_runtime.drivers.options import SerialOptions, parse_options
from robot_runtime.drivers.pulse_car import PulseCar
from robot_runtime.hardware import Hardware

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 3.0  # a Pico answers in milliseconds; seconds means wrong port or no firmware
# stop() = lock wait + write, inside HARDWARE_CALL_BUDGET_S (5 ms); a line is ~2 ms on a 115200 baud UART and
# microseconds on the Pico's USB CDC. A write that cannot finish in time is dropped: the board's failsafe covers it.
WRITE_TIMEOUT_S = 0.0025
STOP_LOCK_S = 0.002  # stop() waits this long for a write in progress, then writes anyway (the CRC guards)
BOARD_SILENT_S = 0.3  # no telemetry (20 Hz) for this long: the board is unplugged or hung -> sensor fault


class BoardLink:
    """One board on one serial port: framed lines out, parsed lines in."""

    def __init__(self, port, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self._clock = clock
        self._buf = b""
        self._lock = threading.Lock()
        self.seq = 0
        self.ticks = 0
        self.dist_mm = -1
        self.batt_mv = -1
        self.board_failsafes = 0
        self.board_errors = 0
        self.errors_seen: list[tuple[str, str]] = []  # (code, detail) error lines from the board, newest last
        self.refused_lines = 0  # lines from the board that failed their own CRC here
        self.dropped_writes = 0  # lines not sent in time (a busy port): the next tick sends a fresh one
        self.last_telemetry = clock()
        self.last_ack: tuple[int, float] | None = None  # (seq, when it arrived)
        self.fault: str | None = None

    # --- writing -----------------------------------------------------------------------------------

    def send(self, body: str, *, wait_s: float | None = None) -> None:
        data = P.frame(body)
        got = self._lock.acquire(timeout=wait_s) if wait_s is not None else self._lock.acquire()
        try:
            self.port.write(data)
        except Exception as exc:  # a busy port (SerialTimeoutException) or a pulled cable (SerialException, OSError)
            if type(exc).__name__ == "SerialTimeoutException":
                self.dropped_writes += 1
            else:
                if self.fault is None:
                    log.warning("serial board: write failed: %s", exc)
                self.fault = "disconnected"
        finally:
            if got:
                self._lock.release()

    def command(self, throttle_us: float, steering_us: float) -> int:
        self.seq = (self.seq + 1) % 1_000_000
        self.send(f"{P.COMMAND} {self.seq} {round(throttle_us)} {round(steering_us)}")
        self.poll()
        return self.seq

    # --- reading -----------------------------------------------------------------------------------

    def poll(self) -> list[list[str]]:
        """Parse whatever arrived (never waits); returns the parsed lines."""
        try:
            waiting = self.port.in_waiting
            chunk = self.port.read(waiting) if waiting else b""
        except Exception:
            self.fault = "disconnected"
            return []
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        if len(self._buf) > 4 * P.MAX_LINE:
            self._buf = b""
        out = []
        now = self._clock()
        for line in lines:
            fields, err = P.unframe(line)
            if err is not None:
                self.refused_lines += 1
                continue
            out.append(fields)
            kind = fields[0]
            if kind == P.TELEMETRY:
                v = P.ints(fields, 6)
                if v is not None:
                    _, self.ticks, self.dist_mm, self.batt_mv, self.board_failsafes, self.board_errors = v
                    self.last_telemetry = now
            elif kind == P.ACK and len(fields) == 4:
                try:
                    self.last_ack = (int(fields[1]), now)
                except ValueError:
                    pass
            elif kind == P.ERROR:
                self.errors_seen.append((fields[1] if len(fields) > 1 else "?", " ".join(fields[2:])))
                del self.errors_seen[:-20]
        return out

    def wait_for(self, word: str, timeout_s: float) -> list[str] | None:
        deadline = self._clock() + timeout_s
        while self._clock() < deadline:
            for fields in self.poll():
                if fields[0] in (word, P.ERROR):
                    return fields
            time.sleep(0.002)
        return None

    def handshake(self, limits: tuple[int, ...]) -> str:
        """HELLO and CFG; returns the board's name and firmware, or raises HardwareUnavailable with the fix."""
        self.send(f"{P.HELLO} {P.VERSION}")
        hi = self.wait_for(P.HI, HANDSHAKE_TIMEOUT_S)
        if hi is None:
            raise HardwareUnavailable(
                f"the board on {getattr(self.port, 'port', '?')} did not answer HELLO within {HANDSHAKE_TIMEOUT_S:g} s — "
                "is it the Pico's port (ls /dev/ttyACM*) and is the firmware on it? (docs/real-car.md, 'Pico')")
        if hi[0] == P.ERROR or hi[1:2] != [str(P.VERSION)]:
            raise HardwareUnavailable(f"the board speaks another protocol version ({' '.join(hi)}); this runtime "
                                      f"speaks {P.VERSION} — copy firmware/pico/*.py to the board again")
        self.send(f"{P.CONFIG} " + " ".join(str(int(v)) for v in limits))
        ok = self.wait_for(P.OK, HANDSHAKE_TIMEOUT_S)
        if ok is None or ok[0] != P.OK:
            raise HardwareUnavailable(f"the board refused the pulse limits {limits}: {' '.join(ok or ['no answer'])}")
        self.last_telemetry = self._clock()
        return " ".join(hi[2:])

    def distance(self) -> tuple[float | None, str | None]:
        self.poll()
        if self.fault:
            return None, self.fault
        if self._clock() - self.last_telemetry > BOARD_SILENT_S:
            return None, "timeout"
        return (None if self.dist_mm < 0 else self.dist_mm / 10.0), None


class SerialPulses:
    """PulseOutputs over the board link."""

    def __init__(self, link: BoardLink) -> None:
        self.link = link

    def write(self, throttle_us: float, steering_us: float) -> None:
        self.link.command(throttle_us, steering_us)

    def neutral(self) -> None:
        try:
            self.link.send(P.NEUTRAL, wait_s=STOP_LOCK_S)
        except Exception:
            pass

    def close(self) -> None:
        self.neutral()
        try:
            self.link.port.close()
        except Exception:
            pass


def open_port(port: str, baud: int):
    import serial

    try:
        return serial.Serial(port, baud, timeout=0, write_timeout=WRITE_TIMEOUT_S)
    except (serial.SerialException, OSError) as exc:
        raise HardwareUnavailable(f"cannot open the serial port {port}: {exc} — plug the Pico in, check "
                                  "`ls /dev/ttyACM*` and that your user is in the `dialout` group") from None


def create(config: CarConfig, arena: Arena, *, seed: int | None = None, noise: bool = False,
           port=None, clock: Callable[[], float] = time.monotonic) -> Hardware:
    opts: SerialOptions = parse_options(SerialOptions, config.hardware_options, "serial")
    link = BoardLink(port if port is not None else open_port(opts.port, opts.baud), clock=clock)
    thr, st = opts.throttle, opts.steering
    try:
        link.board = link.handshake((thr.neutral_us, *thr.bounds_us, st.center_us, *st.bounds_us))
    except Exception:
        link.port.close()
        raise
    return PulseCar(config.spec.to_spec(), config.limits, opts, SerialPulses(link), arena=arena, clock=clock,
                    distance=link.distance, ticks=(lambda: link.ticks) if opts.cm_per_tick else None,
                    cm_per_tick=opts.cm_per_tick, failsafe_s=P.FAILSAFE_MS / 1000.0)
