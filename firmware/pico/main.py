"""MIKRO-DOJO motor board firmware for a Raspberry Pi Pico (MicroPython), protocol board_protocol.py.

Wiring (docs/real-car.md): ESC signal GP16, steering servo GP17, wheel encoder GP15 (to GND, pull-up),
optional HC-SR04 trigger GP14 / echo GP13 (through a divider). USB to the Pi: commands in, replies out.

Copy to the board:  mpremote cp firmware/pico/board_protocol.py firmware/pico/board.py firmware/pico/main.py :
Three safety nets: its own 250 ms command failsafe (board.py), a hardware watchdog that reboots a hung
firmware into no pulses, and no pulses at boot until the driver's CFG says what neutral is (then neutral).
"""

import select
import sys
import time

import board_protocol as P
from board import Board

try:
    from time import ticks_diff, ticks_ms, sleep_ms  # MicroPython
except ImportError:  # CPython running this firmware in the tests (with a stand-in `machine` module)
    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)

import machine

ESC_PIN, SERVO_PIN, ENCODER_PIN, TRIG_PIN, ECHO_PIN = 16, 17, 15, 14, 13
FRAME_HZ = 50  # the standard servo frame
POLL_MS = 2  # how long one wait for input may take: the failsafe is checked at least this often
WATCHDOG_MS = 1000  # a firmware hung this long is reset by the chip (and boots with no pulses)
DISTANCE_EVERY_MS = 100  # one ultrasonic ping (up to 25 ms of waiting) every 100 ms
ECHO_TIMEOUT_US = 25000  # ~4 m of range


def make_pwm(pin):
    pwm = machine.PWM(machine.Pin(pin))
    pwm.freq(FRAME_HZ)
    return pwm


def serve(board, inp, out, wdt=None, running=lambda: True, distance=None):
    """The main loop: read lines from `inp`, answer on `out`, keep the failsafe and telemetry going."""
    poller = select.poll()
    poller.register(inp, select.POLLIN)
    buf = b""
    last_ping = ticks_ms()
    while running():
        if poller.poll(POLL_MS):
            try:
                ch = inp.read(1)
            except OSError:
                ch = b""
            if not ch:
                sleep_ms(POLL_MS)  # the host side is closed: keep the failsafe ticking
            elif ch == b"\n":
                for reply in board.handle(buf, ticks_ms()):
                    out.write(reply)
                buf = b""
            elif len(buf) <= P.MAX_LINE:
                buf += ch
            else:
                buf = b"x" * (P.MAX_LINE + 1)  # too long: refused (LENGTH) when its newline comes
        now = ticks_ms()
        if distance is not None and ticks_diff(now, last_ping) >= DISTANCE_EVERY_MS:
            last_ping = now
            board.dist_mm = distance()
        for line in board.tick(now, ticks_diff):
            out.write(line)
        if hasattr(out, "flush"):
            out.flush()
        if wdt is not None:
            wdt.feed()


def ultrasonic(trig, echo):
    def read():
        trig.value(1)
        time.sleep_us(10)  # the HC-SR04's 10 µs trigger pulse
        trig.value(0)
        us = machine.time_pulse_us(echo, 1, ECHO_TIMEOUT_US)
        return -1 if us < 0 else us * 343 // 2000  # µs of round trip -> mm
    return read


def main():
    try:
        import micropython
        micropython.kbd_intr(-1)  # a 0x03 byte in a corrupted line must not stop the firmware
    except ImportError:
        pass
    board = Board(make_pwm(ESC_PIN), make_pwm(SERVO_PIN), ticks_ms())
    enc = machine.Pin(ENCODER_PIN, machine.Pin.IN, machine.Pin.PULL_UP)

    def count(_pin):
        board.ticks += 1

    enc.irq(trigger=machine.Pin.IRQ_FALLING, handler=count)
    trig = machine.Pin(TRIG_PIN, machine.Pin.OUT)
    echo = machine.Pin(ECHO_PIN, machine.Pin.IN)
    wdt = machine.WDT(timeout=WATCHDOG_MS)
    serve(board, sys.stdin.buffer, sys.stdout.buffer, wdt, distance=ultrasonic(trig, echo))


if __name__ == "__main__":
    main()
