"""Battery voltage through an MCP3008 ADC channel and a resistor divider (gpiozero's MCP3008 on SPI).

A 2S LiPo reads 8.4 V full and must not go below ~6.8 V (3.4 V per cell) under load: below that the
ESC's own low-voltage cut-off stops the motor mid-lesson, and the LiPo is damaged. ``volts_per_unit``
is the ADC's reference times the divider ratio (3.3 V * 3 for a 20k/10k divider: 9.9).
"""

from __future__ import annotations


class BatteryMonitor:
    def __init__(self, channel: int, *, volts_per_unit: float, low_v: float, pin_factory) -> None:
        from gpiozero import MCP3008

        self.low_v = low_v
        self.volts_per_unit = volts_per_unit
        self._adc = MCP3008(channel=channel, pin_factory=pin_factory)

    def volts(self) -> float:
        return float(self._adc.value) * self.volts_per_unit

    def close(self) -> None:
        self._adc.close()
