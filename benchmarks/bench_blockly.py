"""Blockly numbers: the server's program check per run_start, and headless code generation in Node.

The check runs on the event loop for every run_start, so it must stay far below a frame (16 ms) even
for the biggest program we accept; generation runs in the kid's browser on every Run and export.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path

from curriculum.gate import MAX_PROGRAM_BLOCKS, program_refusal

REPO_ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 200


STACK_LENGTH = 50  # blocks per stack: Blockly nests each `next`, and JSON nests that deep


def _stack(start: int, length: int) -> dict:
    first: dict | None = None
    node: dict | None = None
    for i in range(start, start + length):
        kind = ("dojo_move_forward", "DISTANCE", 20) if i % 2 == 0 else ("dojo_turn", "DEGREES", 90)
        block = {"type": kind[0], "id": f"b{i}",
                 "inputs": {kind[1]: {"shadow": {"type": "math_number", "id": f"n{i}", "fields": {"NUM": kind[2]}}}}}
        if kind[0] == "dojo_turn":
            block["fields"] = {"DIRECTION": "left"}
        if node is None:
            first = block
        else:
            node["next"] = {"block": block}
        node = block
    return first or {}


def _program(n_blocks: int) -> dict:
    """Stacks of level-1 moves, each with its number shadow (every block is looked at: the worst case)."""
    moves = n_blocks // 2  # each move brings its shadow number
    tops = [_stack(s, min(STACK_LENGTH, moves - s)) for s in range(0, moves, STACK_LENGTH)]
    return {"blocks": {"languageVersion": 0, "blocks": tops}}


def _percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return f"p50 {p(0.5) * 1e3:7.3f} ms   p99 {p(0.99) * 1e3:7.3f} ms   max {samples[-1] * 1e3:7.3f} ms"


def bench_program_check() -> None:
    for n in (20, 200, MAX_PROGRAM_BLOCKS):
        program = _program(n)
        size_kb = len(json.dumps(program)) / 1024
        samples = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            assert program_refusal(1, program) is None
            samples.append(time.perf_counter() - started)
        print(f"program check, {n:5d} blocks ({size_kb:6.1f} KB): {_percentiles(samples)}")


NODE_SCRIPT = """
import * as Blockly from 'blockly';
import * as python from 'blockly/python';
import * as javascript from 'blockly/javascript';
const t0 = performance.now();
const { registerDojo } = await import('./blockly_app/src/register.js');
const dojo = registerDojo({ Blockly, python, javascript });
const program = JSON.parse(process.argv[1]);
const times = { py: [], js: [] };
for (let i = 0; i < 50; i += 1) {
  const ws = new Blockly.Workspace();
  Blockly.serialization.workspaces.load(program, ws);
  let t = performance.now(); dojo.exportPython(ws, { server: 'http://x', classCode: 'DEMO', name: 'Mia' }); times.py.push(performance.now() - t);
  t = performance.now(); dojo.programCode(ws); times.js.push(performance.now() - t);
  ws.dispose();
}
console.log(JSON.stringify({ load_ms: performance.now() - t0, ...times }));
"""


def bench_generation() -> None:
    program = _program(200)
    started = time.perf_counter()
    out = subprocess.run(["node", "--input-type=module", "-e", NODE_SCRIPT, json.dumps(program)], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True, timeout=120)
    wall = time.perf_counter() - started
    data = json.loads(out.stdout.strip().splitlines()[-1])
    for kind, label in (("py", "Python export"), ("js", "JS for Run   ")):
        first, rest = data[kind][0], data[kind][1:]
        print(f"{label}, 200 blocks: first {first:6.2f} ms, then p50 {statistics.median(rest):6.2f} ms, "
              f"max {max(rest):6.2f} ms")
    print(f"node process with Blockly loaded and 100 generations: {wall:.2f} s wall")


def main() -> None:
    bench_program_check()
    bench_generation()


if __name__ == "__main__":
    main()
