"""The car's side of learned skills (policy runner, task features, SimLane) needs neither the learning
package nor its training stack. (Who may import whom among our packages: tests/server/test_import_rules.py.)"""

from __future__ import annotations

import subprocess
import sys

IMPORT_TIMEOUT_S = 60.0  # a cold interpreter importing torch on a loaded 2-core machine


def loaded_after(imports: str, banned: tuple[str, ...]) -> list[str]:
    code = (f"import sys\n{imports}\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(banned)!r}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout.strip())  # a printed list of module names


def test_the_car_runs_learned_skills_without_the_training_stack():
    imports = "import robot_runtime.policy, robot_runtime.task_features, robot_runtime.sim.lane"
    assert loaded_after(imports, ("learning", "torch", "pyarrow", "gymnasium", "onnx", "server", "curriculum")) == []

