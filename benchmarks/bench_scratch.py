"""Scratch block -> car latency, side by side with the Python SDK, in the same run (`make bench`).

What runs, all real and on loopback: `dojo server` (its own process), two `dojo car --sim` processes
with flight recorders, a kid on the Python SDK (`dojo.connect`, this process) driving car A, and a
kid in a headless scratch-vm (benchmarks/scratch_latency.mjs, Node) driving car B through the
MIKRO-DOJO extension and the Scratch-Link-compatible /scratch/ble endpoint. Both send the same
program: N times [move forward 2 cm, move backward 2 cm].

Latency = the car's time.monotonic() when the request is in the car runtime (flight recorder
`request` record) minus the time the block was issued: just before the SDK call, or when the VM
called the extension's block function. CLOCK_MONOTONIC is one clock for every process on the
machine (Node's process.hrtime reads it too). Calls wait for their answer, so the k-th request in a
car's log is the k-th call. Also shown: the whole block, issued -> final answer back in the client.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import requests

import dojo
from benchmarks.bench_server import pct, spawn, terminate, wait_for_cars, wait_for_line_in
from robot_runtime.recorder import read_log

REPO_ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 30  # back-and-forth pairs per path: 60 samples each
HTTP_TIMEOUT_S = 10.0
NODE_TIMEOUT_S = 240.0  # Node start + VM + 60 short moves (~0.5 s each) on a loaded box


def requests_in_log(path: Path) -> list[float]:
    return [r["t"] for r in read_log(path) if r["k"] == "request" and isinstance(r.get("request"), dict)]


def summary(name: str, values_ms: list[float]) -> str:
    return (f"  {name:<34} n={len(values_ms):>3}  p50 {pct(values_ms, 50):7.2f} ms   p99 {pct(values_ms, 99):7.2f} ms"
            f"   max {max(values_ms):7.2f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-scratch-") as tmp_name:
        tmp = Path(tmp_name)
        tokens = {"car-a": secrets.token_hex(16), "car-b": secrets.token_hex(16)}
        (tmp / "server.json").write_text(json.dumps({
            "teacher_password": secrets.token_hex(8), "car_tokens": tokens, "default_class_code": "BENCH",
            "auto_assign_cars": True,
            "rate_limits": {"blocks_per_s": 50, "burst": 50},  # measure latency, not the rate limiter
        }))
        server = spawn(["-m", "dojo", "server", "--port", "0", "--data-dir", str(tmp / "server"),
                        "--config", str(tmp / "server.json")], log_path=tmp / "server.out")
        cars = []
        try:
            url = wait_for_line_in(tmp / "server.out", server, "MIKRO-DOJO server on ").split()[3]
            for car_id, token in tokens.items():
                token_file = tmp / f"{car_id}.token"  # never on the command line, where `ps` shows it
                token_file.write_text(token)
                token_file.chmod(0o600)
                cars.append(spawn(["-m", "dojo", "car", "--sim", "--name", car_id, "--server", url,
                                   "--token-file", str(token_file), "--log", str(tmp / f"{car_id}.jsonl")],
                                  log_path=tmp / f"{car_id}.out"))
            wait_for_cars(url, len(tokens))

            # Python SDK kid (joins first: gets one car; the Scratch kid gets the other).
            car = dojo.connect(url, class_code="BENCH", name="Pia")
            sdk_car = car.car_id
            sdk_sent, sdk_done = [], []
            for _ in range(ROUNDS):
                for move in (car.forward, car.backward):
                    t0 = time.monotonic()
                    move(2)
                    sdk_sent.append(t0)
                    sdk_done.append(time.monotonic())
            car.close()

            # Scratch kid in a headless scratch-vm (Node).
            kid = requests.post(f"{url}/api/join", json={"class_code": "BENCH", "name": "Sam"},
                                timeout=HTTP_TIMEOUT_S).json()
            out = subprocess.run(["node", str(REPO_ROOT / "benchmarks" / "scratch_latency.mjs"), url, kid["token"],
                                  kid["car_id"], str(ROUNDS)], cwd=REPO_ROOT, capture_output=True, text=True,
                                 timeout=NODE_TIMEOUT_S, check=True)
            calls = json.loads(out.stdout.strip().splitlines()[-1])["calls"]
        finally:
            terminate(cars)  # cars flush their flight recorders on SIGTERM
            terminate([server])

        sdk_arrived = requests_in_log(tmp / f"{sdk_car}.jsonl")
        scratch_arrived = requests_in_log(tmp / f"{kid['car_id']}.jsonl")
        assert len(sdk_arrived) == len(sdk_sent), f"SDK: {len(sdk_sent)} calls, {len(sdk_arrived)} requests at the car"
        assert len(scratch_arrived) == len(calls), f"Scratch: {len(calls)} blocks, {len(scratch_arrived)} at the car"

        print(f"block -> request in the car runtime ({ROUNDS * 2} moves of 2 cm per path, one server, same run):")
        print(summary("Python SDK (socket.io /kid)", [(a - s) * 1000 for a, s in zip(sdk_arrived, sdk_sent)]))
        print(summary("Scratch (scratch-vm, /scratch/ble)",
                      [(a - c["t_sent"]) * 1000 for a, c in zip(scratch_arrived, calls)]))
        print("whole block, issued -> final answer in the client (includes driving 2 cm):")
        print(summary("Python SDK", [(d - s) * 1000 for s, d in zip(sdk_sent, sdk_done)]))
        print(summary("Scratch", [(c["t_done"] - c["t_sent"]) * 1000 for c in calls]))


if __name__ == "__main__":
    main()
