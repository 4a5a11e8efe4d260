"""A fake I2C bus with a PCA9685 on it, for a laptop with no car (and the tests).

    bus = FakeSMBus()                                 # pass as smbus= to pca9685.create / Pca9685Pulses.open
    chip = bus.devices[0x40]                          # the fake chip
    chip.pulse_us(0)                                  # channel 0's pulse width now (0: off)
    chip.history                                      # [(monotonic t, channel, pulse µs), ...] every write

It answers the smbus2 calls the driver makes (write_byte_data, write_i2c_block_data, read_byte_data)
and decodes them as the chip would: PRE_SCALE only while asleep, auto-increment block writes into the
LEDn registers, the full-off bit.
"""

from __future__ import annotations

import threading
import time

OSC_HZ = 25_000_000


class FakePca9685:
    def __init__(self) -> None:
        self.regs = bytearray(256)
        self.regs[0x00] = 0x11  # MODE1 at power-up: SLEEP | ALLCALL
        self.regs[0xFE] = 0x1E  # PRE_SCALE at power-up: 200 Hz
        self.history: list[tuple[float, int, float]] = []
        self.refused: list[str] = []  # writes the real chip would ignore
        self._lock = threading.Lock()

    @property
    def frame_hz(self) -> float:
        return OSC_HZ / (4096 * (self.regs[0xFE] + 1))

    def write(self, reg: int, data: list[int]) -> None:
        with self._lock:
            if reg == 0xFE and not self.regs[0x00] & 0x10:
                self.refused.append("PRE_SCALE written while awake")
                return
            if len(data) > 1 and not self.regs[0x00] & 0x20:
                self.refused.append("block write without auto-increment")
                data = data[:1]
            for i, v in enumerate(data):
                self.regs[reg + i] = v & 0xFF
            if 0x06 <= reg <= 0x45:
                for ch in {(r - 0x06) // 4 for r in range(reg, reg + len(data)) if 0x06 <= r <= 0x45}:
                    self.history.append((time.monotonic(), ch, self._pulse(ch)))

    def _pulse(self, ch: int) -> float:
        base = 0x06 + 4 * ch
        on = self.regs[base] | (self.regs[base + 1] & 0x0F) << 8
        off = self.regs[base + 2] | (self.regs[base + 3] & 0x0F) << 8
        if self.regs[base + 3] & 0x10 or self.regs[0x00] & 0x10:
            return 0.0  # full off, or the chip asleep: no pulses
        return ((off - on) % 4096) / 4096 / self.frame_hz * 1e6

    def pulse_us(self, ch: int) -> float:
        with self._lock:
            return self._pulse(ch)

    def pulses(self, ch: int) -> list[tuple[float, float]]:
        with self._lock:
            return [(t, us) for t, c, us in self.history if c == ch]


class FakeSMBus:
    def __init__(self, addresses: tuple[int, ...] = (0x40,)) -> None:
        self.devices = {a: FakePca9685() for a in addresses}

    def _dev(self, addr: int) -> FakePca9685:
        if addr not in self.devices:
            raise OSError(121, "Remote I/O error")  # what smbus2 raises when nothing answers at the address
        return self.devices[addr]

    def write_byte_data(self, addr: int, reg: int, value: int) -> None:
        self._dev(addr).write(reg, [value])

    def write_i2c_block_data(self, addr: int, reg: int, data: list[int]) -> None:
        self._dev(addr).write(reg, list(data))

    def read_byte_data(self, addr: int, reg: int) -> int:
        return self._dev(addr).regs[reg]

    def close(self) -> None:
        pass
