"""The SDK is what a kid's exported program imports: it must load with the bare install only."""

import json
import subprocess
import sys

from demo_harness import REPO_ROOT

# What the bare install (pyproject's `dependencies`) does not have, or what a kid's laptop must not need.
NOT_FOR_THE_SDK = ("server", "curriculum", "robot_runtime", "yaml", "numpy", "torch", "cv2", "onnxruntime", "ollama")


def test_import_dojo_loads_no_server_car_or_heavy_module():
    code = "import sys, json, dojo; print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(NOT_FOR_THE_SDK), sorted(loaded & set(NOT_FOR_THE_SDK))


def test_dojo_exceptions_subclass_the_matching_builtins():
    import dojo

    assert issubclass(dojo.ConnectionError, ConnectionError)
    assert issubclass(dojo.ArgumentError, ValueError)
    for cls in (dojo.Refused, dojo.CarError, dojo.Stopped, dojo.ConnectionError, dojo.ArgumentError):
        assert issubclass(cls, dojo.DojoError)
    err = dojo.Refused("Level 1 cars go up to 30% — try 30!", detail="speed_cap: 40 > 30")
    assert str(err) == "Level 1 cars go up to 30% — try 30!" and err.detail == "speed_cap: 40 > 30"
