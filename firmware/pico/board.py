"""The motor board's logic: protocol lines in, pulses and replies out, and its own failsafe.

No hardware in here: ``outputs`` are two objects with ``duty_ns(ns)`` (machine.PWM on the Pico, a
stand-in under CPython in the tests) and time comes in as ``now_ms``. main.py feeds it.
"""

import board_protocol as P

BOARD = "pico"
FIRMWARE = "1.0.0"


class Board:
    def __init__(self, throttle_pwm, steering_pwm, now_ms):
        self.throttle = throttle_pwm
        self.steering = steering_pwm
        self.limits = P.DEFAULT_LIMITS
        self.configured = False  # no CFG yet: this board does not know the car's neutral
        self.last_command_ms = now_ms
        self.last_telemetry_ms = now_ms
        self.in_failsafe = True  # boots without pulses; the ESC arms on the calibrated neutral after CFG
        self.failsafes = 0
        self.errors = 0
        self.ticks = 0  # the wheel encoder (an IRQ adds to it)
        self.dist_mm = -1
        self.batt_mv = -1
        self.set_neutral()

    def set_neutral(self):
        """The calibrated neutral and centre; before CFG no pulses at all (the ESC's own signal-loss
        failsafe, a limp servo): a guessed 1500 µs may be throttle, or past a servo's end, on this car."""
        if not self.configured:
            self.throttle.duty_ns(0)
            self.steering.duty_ns(0)
            return
        n, _, _, c, _, _ = self.limits
        self.throttle.duty_ns(n * 1000)
        self.steering.duty_ns(c * 1000)

    def _error(self, code, detail):
        self.errors += 1
        return [P.frame("%s %s %s" % (P.ERROR, code, detail[:40]))]  # an error line stays within MAX_LINE

    def handle(self, line, now_ms):
        """One received line (bytes) -> reply lines (bytes)."""
        fields, err = P.unframe(line)
        if err is not None:
            return self._error(err, "line refused")
        cmd = fields[0]
        if cmd == P.COMMAND:
            v = P.ints(fields, 3)
            if v is None:
                return self._error(P.ERR_ARGS, "C wants seq throttle_us steering_us")
            seq, thr, st = v
            n, lo, hi, c, slo, shi = self.limits
            thr, st = P.clamp(thr, lo, hi), P.clamp(st, slo, shi)
            self.throttle.duty_ns(thr * 1000)
            self.steering.duty_ns(st * 1000)
            self.last_command_ms = now_ms
            self.in_failsafe = False
            return [P.frame("%s %d %d %d" % (P.ACK, seq, thr, st))]
        if cmd == P.NEUTRAL:
            self.set_neutral()
            self.in_failsafe = True  # stays neutral until the next C
            return [P.frame("%s %s" % (P.ACK, P.NEUTRAL))]
        if cmd == P.HELLO:
            v = P.ints(fields, 1)
            if v is None or v[0] != P.VERSION:
                return self._error(P.ERR_VERSION, "this firmware speaks version %d" % P.VERSION)
            return [P.frame("%s %d %s %s" % (P.HI, P.VERSION, BOARD, FIRMWARE))]
        if cmd == P.CONFIG:
            v = P.ints(fields, 6)
            if v is None or not (v[1] <= v[0] <= v[2] and v[4] <= v[3] <= v[5]) or min(v) < 500 or max(v) > 2500:
                return self._error(P.ERR_ARGS, "CFG wants n lo hi c lo hi, lo<=n<=hi")
            self.limits = tuple(v)
            self.configured = True
            if self.in_failsafe:
                self.set_neutral()
            return [P.frame("%s %s" % (P.OK, P.CONFIG))]
        return self._error(P.ERR_UNKNOWN, cmd[:12])

    def tick(self, now_ms, diff):
        """Call often (every few ms): the failsafe and the telemetry line. `diff` is ticks_diff."""
        out = []
        if not self.in_failsafe and diff(now_ms, self.last_command_ms) >= P.FAILSAFE_MS:
            self.set_neutral()
            self.in_failsafe = True
            self.failsafes += 1
        if diff(now_ms, self.last_telemetry_ms) >= P.TELEMETRY_MS:
            self.last_telemetry_ms = now_ms
            out.append(P.frame("%s %d %d %d %d %d %d" % (P.TELEMETRY, now_ms, self.ticks, self.dist_mm, self.batt_mv,
                                                        self.failsafes, self.errors)))
        return out
