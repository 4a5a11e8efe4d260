"""Tell the car: sentence -> plan -> blocks on screen, with a language-model stand-in and with the reader alone.

1. The planner in this process over the sentence table (tests/curriculum/fixtures/tell_sentences.yaml): the
   reader alone (the same-run baseline), and through the recording Ollama stand-in on 127.0.0.1 (HTTP, JSON,
   the gate's check) — the stand-in answers at once, so this is our part, not a model's thinking time.
2. The share of the table the reader gets exactly right (program and outcome), counting the sentences
   written for a language model too: what a classroom without Ollama gets.
3. Sentence -> blocks on screen in real Chromium against `dojo demo`, Blockly and the Scratch editor, with the
   stand-in and with the reader (benchmarks/tell_on_screen.mjs); the server's HTTP round trip alone beside it.
   Skipped (with a message) without Debian's Chromium.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.bench_server import pct
from curriculum.loader import default_lessons
from curriculum.planner import PlanContext, Planner, PlannerConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
TABLE = REPO_ROOT / "tests" / "curriculum" / "fixtures" / "tell_sentences.yaml"
PASSES = 5  # times through the table for the in-process timings
SCREEN_ROUNDS = 15  # sentences per editor and mode in Chromium
NODE_TIMEOUT_S = 600.0  # two demos, Chromium, scratch-gui twice, 60 plans on a loaded 2-core box

sys.path.insert(0, str(REPO_ROOT / "tests" / "curriculum"))
from fake_ollama import FakeOllama, plan_reply  # noqa: E402


def _rows() -> list[dict]:
    return yaml.safe_load(TABLE.read_text(encoding="utf-8"))


def _contexts(rows: list[dict]) -> list[PlanContext]:
    lessons = default_lessons()
    return [PlanContext(r.get("level", 4), lessons.get(r["lesson"]) if r.get("lesson") else None) for r in rows]


def _line(name: str, ms: list[float], baseline: list[float] | None = None) -> str:
    ratio = f"   x{pct(ms, 50) / pct(baseline, 50):5.2f} the reader's p50" if baseline else ""
    return f"  {name:<36} n={len(ms):>4}  p50 {pct(ms, 50):8.3f} ms   p99 {pct(ms, 99):8.3f} ms{ratio}"


async def _time(planner: Planner, rows: list[dict], contexts: list[PlanContext]) -> list[float]:
    out = []
    for _ in range(PASSES):
        for row, ctx in zip(rows, contexts):
            started = time.perf_counter()
            await planner.plan(row["say"], ctx)
            out.append((time.perf_counter() - started) * 1e3)
    return out


async def in_process() -> None:
    rows = _rows()
    contexts = _contexts(rows)
    reader = Planner(PlannerConfig(enabled=False))
    reader_ms = await _time(reader, rows, contexts)
    fake = await FakeOllama().start()
    try:
        fake.replies = [plan_reply({"block": "move_forward", "distance": 30})] * (PASSES * len(rows) + 10)
        model_ms = await _time(Planner(PlannerConfig(host=fake.url, timeout_s=10)), rows, contexts)
    finally:
        await fake.stop()
    print(f"planner over the {len(rows)}-sentence table, {PASSES} passes (no browser):")
    print(_line("reader alone (baseline)", reader_ms))
    print(_line("language-model stand-in (HTTP)", model_ms, reader_ms))

    exact = 0
    for row, ctx in zip(rows, contexts):
        result = await reader.plan(row["say"], ctx)
        want = row.get("outcome") or ("planned" if row["expect"] else "not_understood")
        exact += (result.plan.short() if result.plan else "") == row["expect"] and result.outcome == want
    model_rows = sum(1 for r in rows if r.get("reader"))
    print(f"reader exactly right on {exact}/{len(rows)} sentences ({100 * exact / len(rows):.1f} %); "
          f"{model_rows} of them are written for a language model (the reader names what it leaves out)")


def on_screen() -> None:
    if not Path("/usr/bin/chromium").exists() or shutil.which("node") is None:
        print("sentence -> blocks on screen: skipped (needs Debian's /usr/bin/chromium and node)")
        return
    out = subprocess.run(["node", "benchmarks/tell_on_screen.mjs", str(SCREEN_ROUNDS)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
    if out.returncode != 0:
        print(f"sentence -> blocks on screen failed:\n{out.stderr[-3000:]}")
        return
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    reader = {r["editor"]: r for r in results if r["mode"] == "reader"}
    print(f"sentence -> blocks on screen, Chromium + dojo demo, {SCREEN_ROUNDS} sentences each:")
    for r in results:
        if r["editor"] == "blockly":  # one HTTP series per mode, before its editors
            print(_line(f"{r['mode']:<6} POST /api/plan (HTTP only)", r["http_ms"]))
        base = reader[r["editor"]]["screen_ms"] if r["mode"] != "reader" else None
        print(_line(f"{r['mode']:<6} {r['editor']:<7} on screen", r["screen_ms"], base))


def main() -> None:
    asyncio.run(in_process())
    on_screen()


if __name__ == "__main__":
    main()
