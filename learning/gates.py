"""When may this machine train? Idle, temperature and battery gates, where the machine reports them.

Training can run on the classroom laptop or on a docked car (a Raspberry Pi). Either way it must not
compete with driving: a car that is driving, too hot or running on a low battery does not train.

    gates = MachineGates(driving=lambda: runtime.executor.running is not None)
    gates.require("train")       # raises TrainingRefused naming the gate, the value, the limit and the fix

Each gate is checked only where the machine reports it: no thermal zone, no temperature gate; no
battery, no battery gate; `max_load_per_cpu=None` (the default on a shared laptop), no idle gate. The
readings come from sysfs under `sys_root` (tests point it at a directory they build).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_TEMP_C = 80.0  # a Raspberry Pi starts throttling its CPU at 80-85 C: training there would slow the car's loop
MIN_BATTERY_PCT = 30.0  # below this, on battery, the charge is for driving (a training run takes minutes)


class TrainingRefused(RuntimeError):
    """A gate is closed; the message says which, with the reading, the limit and what to do."""


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


@dataclass
class MachineGates:
    sys_root: Path = Path("/sys")
    max_temp_c: float = MAX_TEMP_C
    min_battery_pct: float = MIN_BATTERY_PCT
    max_load_per_cpu: float | None = None
    driving: Callable[[], bool] | None = None
    loadavg: Callable[[], tuple[float, float, float]] = field(default=os.getloadavg)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)

    def temperature_c(self) -> float | None:
        temps = []
        for zone in sorted((self.sys_root / "class/thermal").glob("thermal_zone*")):
            raw = _read(zone / "temp")
            if raw and raw.lstrip("-").isdigit():
                temps.append(int(raw) / 1000.0)  # millidegrees
        return max(temps) if temps else None

    def battery(self) -> tuple[float, str] | None:
        """(percent, status) of the first battery, e.g. (54.0, "Discharging")."""
        for supply in sorted((self.sys_root / "class/power_supply").glob("*")):
            if _read(supply / "type") == "Battery":
                cap = _read(supply / "capacity")
                if cap and cap.isdigit():
                    return float(cap), _read(supply / "status") or "Unknown"
        return None

    def closed(self) -> list[str]:
        """One sentence per closed gate (empty: training may run)."""
        out = []
        if self.driving is not None and self.driving():
            out.append("the car is driving — training waits until it is parked and idle")
        temp = self.temperature_c()
        if temp is not None and temp >= self.max_temp_c:
            out.append(f"the processor is at {temp:.0f} C (limit {self.max_temp_c:.0f} C) — let it cool down first")
        bat = self.battery()
        if bat is not None and bat[1] == "Discharging" and bat[0] < self.min_battery_pct:
            out.append(f"the battery is at {bat[0]:.0f}% and not charging (need {self.min_battery_pct:.0f}%) — dock "
                       "or plug in the charger")
        if self.max_load_per_cpu is not None:
            load = self.loadavg()[0] / self.cpus
            if load > self.max_load_per_cpu:
                out.append(f"the machine is busy (load {load:.2f} per CPU, limit {self.max_load_per_cpu:.2f}) — try "
                           "again when it is idle")
        return out

    def require(self, what: str) -> None:
        closed = self.closed()
        if closed:
            raise TrainingRefused(f"cannot {what} now: " + "; ".join(closed))
