"""The pin guard's own process: build the outputs a SPEC names, hold them at neutral, then obey the pipe.

    python -m robot_runtime.drivers.pin_guard_process '{"kind": "gpio", ...}'

Kept apart from pin_guard.py (the guard loop and the runtime's end of the pipe) because it needs the
drivers whose outputs it owns, and those drivers need pin_guard.
"""

from __future__ import annotations

import json
import sys

from robot_runtime.devices.pulses import PulseOutputs
from robot_runtime.drivers.pin_guard import run_guard


def build_outputs(spec: dict) -> PulseOutputs:
    """The outputs a guard owns: {"kind": "gpio", ...GpioPulses args} or {"kind": "pca9685", ...}."""
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind == "gpio":
        from robot_runtime.drivers.gpio import GpioPulses, pin_factory_named

        return GpioPulses(pin_factory=pin_factory_named(spec.pop("pin_factory")), **spec)
    if kind == "pca9685":
        from robot_runtime.drivers.pca9685 import Pca9685Pulses

        return Pca9685Pulses.open(**spec)
    raise ValueError(f"pin guard: unknown output kind {kind!r} (gpio or pca9685)")


def main(argv: list[str]) -> int:
    try:
        outputs = build_outputs(json.loads(argv[0]))
    except Exception as exc:  # one line the runtime shows: what failed and why
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    outputs.neutral()
    print("READY", flush=True)
    run_guard(sys.stdin.fileno(), outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
