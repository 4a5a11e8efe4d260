"""`pip install '.[car]'` into a fresh venv: no torch, no opencv, no server dependencies; the car's
commands import no server, curriculum, torch or opencv module; `dojo car check --hardware gpio` runs
on gpiozero's mock pins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
INSTALL_TIMEOUT_S = 480  # onnxruntime + numpy wheels on a fresh 2-core machine; cached: ~30 s

PROBE = """
import importlib.util, json, sys
import robot_runtime.car, robot_runtime.car_setup, robot_runtime.car_check, robot_runtime.calibrate_cli
import robot_runtime.drivers.gpio, robot_runtime.drivers.pca9685, robot_runtime.drivers.serial_board
import robot_runtime.drivers.pin_guard, robot_runtime.drivers.pin_guard_process, robot_runtime.link, robot_runtime.runtime
loaded = sorted({m.split('.')[0] for m in sys.modules})
installed = {n: importlib.util.find_spec(n) is not None for n in ('torch', 'cv2', 'ollama', 'gpiozero', 'serial', 'smbus2')}
print(json.dumps({"loaded": loaded, "installed": installed}))
"""


def test_car_extra_installs_alone_imports_no_server_code_and_checks_mock_pins(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", f"{REPO}[car]"], capture_output=True,
                             text=True, timeout=INSTALL_TIMEOUT_S, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    probe = subprocess.run([str(py), "-c", PROBE], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout)
    assert out["installed"] == {"torch": False, "cv2": False, "ollama": False, "gpiozero": True, "serial": True,
                                "smbus2": True}
    assert not set(out["loaded"]) & {"server", "curriculum", "torch", "cv2", "ollama", "onnxruntime"}, out["loaded"]
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin"}
    check = subprocess.run([str(venv / "bin" / "dojo"), "car", "check", "--hardware", "gpio"], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "pin guard" in check.stdout and "all good" in check.stdout
