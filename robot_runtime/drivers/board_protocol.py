"""The serial line protocol between the car runtime and its motor board (version 1).

ONE module for both sides: the Python driver (drivers/serial_board.py) imports it, and the Pico's
MicroPython firmware (firmware/pico/, where board_protocol.py is a link to this file) runs it as is.
So it is written in the Python both understand: no annotations, no dataclasses, no f-strings.

Every line is ASCII, at most MAX_LINE bytes, framed as ``<body>*<crc>\\n`` where crc is the CRC-8
(polynomial 0x07) of the body in two upper-case hex digits. A line whose CRC, length or fields are
wrong is refused with an error line and counted; it never moves a motor.

    host -> board                               board -> host
    HELLO <version>                             HI <version> <board> <firmware>
    CFG <n> <lo> <hi> <center> <lo> <hi>        OK CFG            (pulse limits in µs; neutral first)
    C <seq> <throttle_us> <steering_us>         A <seq> <throttle_us> <steering_us>   (what was set, clamped)
    N                                           A N               (neutral now)
                                                T <ms> <ticks> <dist_mm> <batt_mv> <failsafes> <errors>
                                                E <code> <detail>

Heartbeats: the host sends a ``C`` line every control tick (neutral when idle): the command stream is
the host's heartbeat. The board's ``T`` line every TELEMETRY_MS is the board's. The board's own
failsafe: no valid ``C`` for FAILSAFE_MS -> both outputs neutral (and ``failsafes`` counts it), until
the next valid ``C``. Before ``CFG`` the board does not know the car's neutral: it boots with no pulses
(the ESC's own signal-loss failsafe), ``N`` and its failsafe stop the pulses, and a ``C`` is clamped to
DEFAULT limits (1000-2000 µs); after ``CFG``, neutral is the calibrated one.
``dist_mm`` / ``batt_mv`` are -1 when the board has no such sensor.
"""

VERSION = 1
BAUD = 115200  # USB CDC ignores it; a UART board needs it: a 25-byte line takes 2 ms at 115200
FAILSAFE_MS = 250  # no valid command for this long: neutral (12 missed 50 Hz ticks; inside the 300 ms link watchdog)
TELEMETRY_MS = 50  # the board reports at 20 Hz, like the car's telemetry to the server
MAX_LINE = 64  # the longest valid line is ~45 bytes

HELLO = "HELLO"
HI = "HI"
CONFIG = "CFG"
OK = "OK"
COMMAND = "C"
NEUTRAL = "N"
ACK = "A"
TELEMETRY = "T"
ERROR = "E"

ERR_CHECKSUM = "CHECKSUM"  # the CRC does not match: a corrupted line
ERR_LENGTH = "LENGTH"  # longer than MAX_LINE
ERR_UNKNOWN = "UNKNOWN"  # not a command this version knows
ERR_ARGS = "ARGS"  # wrong number or form of fields
ERR_VERSION = "VERSION"  # HELLO with another protocol version

DEFAULT_LIMITS = (1500, 1000, 2000, 1500, 1000, 2000)  # (neutral, lo, hi, center, lo, hi) clamping before CFG

_TABLE = bytearray(256)
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = ((_c << 1) ^ 0x07) & 0xFF if _c & 0x80 else (_c << 1) & 0xFF
    _TABLE[_i] = _c


def crc8(data):
    """CRC-8 (poly 0x07, init 0) of bytes."""
    c = 0
    for b in data:
        c = _TABLE[c ^ b]
    return c


def frame(body):
    """A body string -> the framed line as bytes (with CRC and newline)."""
    raw = body.encode()
    return raw + b"*" + ("%02X" % crc8(raw)).encode() + b"\n"


def unframe(line):
    """Framed line bytes (with or without the newline) -> (fields list, None) or (None, error code)."""
    line = line.rstrip(b"\r\n")
    if len(line) > MAX_LINE:
        return None, ERR_LENGTH
    star = line.rfind(b"*")
    if star < 0 or len(line) - star != 3:
        return None, ERR_CHECKSUM
    body = line[:star]
    try:
        want = int(line[star + 1:], 16)
    except ValueError:
        return None, ERR_CHECKSUM
    if crc8(body) != want:
        return None, ERR_CHECKSUM
    try:
        fields = body.decode().split()
    except UnicodeError:
        return None, ERR_ARGS
    if not fields:
        return None, ERR_ARGS
    return fields, None


def ints(fields, n):
    """The n integer fields after the command word, or None."""
    if len(fields) != n + 1:
        return None
    try:
        return [int(f) for f in fields[1:]]
    except ValueError:
        return None


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v
