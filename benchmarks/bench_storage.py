"""Storage calls on PostgreSQL against SQLite, in the same run: what a district database costs the server.

Every call the server makes on the event loop (a kid joining, a lesson attempt recorded, a document
saved) is timed on SQLite (WAL, synchronous=NORMAL, a file in a temp folder: today's classroom) and on
PostgreSQL (Debian's server on 127.0.0.1, durable settings) as the server connects to it (a commit does
not wait for its log's fsync, like SQLite's NORMAL) and with every commit waiting for the fsync, each
through the same Storage interface. The ratio column is PostgreSQL / SQLite; "round trip" is a bare
`SELECT 1` through psycopg, the floor of any PostgreSQL call. A LAN adds its own round trip (~0.1-0.5 ms)
to every PostgreSQL call. Needs Debian's postgresql (make postgresql) and psycopg (the district extra).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' throwaway PostgreSQL
from services.postgres import PostgresServer, find_bin  # noqa: E402

from server.core.storage import RequestLogEntry, SqliteStorage, Storage  # noqa: E402
from server.core.storage.postgres import PostgresStorage  # noqa: E402

ROUNDS = 400  # per call and backend: ~1 s of PostgreSQL commits with fsync on this disk
WARMUP = 20
ATTEMPTS = ("attempts:1", "CREATE TABLE attempts (attempt_id TEXT PRIMARY KEY, kid_id TEXT NOT NULL, "
            "started_at REAL NOT NULL, stars INTEGER, verdict TEXT)")


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _calls(s: Storage) -> dict[str, Callable[[int], Any]]:
    s.create_class("BENCH", "bench")
    s.migrate(*ATTEMPTS)
    for i in range(30):
        s.add_kid(f"k{i}", "BENCH", f"Kid{i}", 1)
    s.assign("car-1", ["k0", "k1"])
    batch = [RequestLogEntry(time.time(), "k1", "car-1", "move_forward", {"distance": 20}, "done", "", 0.4)] * 50
    return {
        "get_kid (read)": lambda i: s.get_kid(f"k{i % 30}"),
        "find_kid_by_name (join)": lambda i: s.find_kid_by_name("BENCH", f"kid{i % 30}"),
        "kv_get (read)": lambda i: s.kv_get("class_level", "BENCH", 1),
        "kv_put (write)": lambda i: s.kv_put("runs", f"r{i}", {"run_id": f"r{i}", "t": i}),
        "attempt insert (write)": lambda i: s.execute(
            "INSERT INTO attempts (attempt_id, kid_id, started_at) VALUES (?, ?, ?)", (f"a{i}", "k1", time.time())),
        "attempt update (write)": lambda i: s.execute(
            "UPDATE attempts SET stars = ?, verdict = ? WHERE attempt_id = ?", (2, '{"passed": true}', f"a{i}")),
        "assign 2 kids (transaction)": lambda i: s.assign("car-1", ["k0", "k1"] if i % 2 else ["k1", "k0"]),
        "log 50 requests (flush thread)": lambda i: s.log_requests(batch),
    }


def _time(call: Callable[[int], Any]) -> list[float]:
    out = []
    for i in range(WARMUP + ROUNDS):
        t0 = time.perf_counter()
        call(i)
        if i >= WARMUP:
            out.append((time.perf_counter() - t0) * 1e6)
    return out


def main() -> None:
    if find_bin() is None:
        print("skipped: PostgreSQL is not installed (make postgresql)")
        return
    with tempfile.TemporaryDirectory() as tmp, PostgresServer.start(durable=True) as pg:
        stores = {"SQLite": SqliteStorage(Path(tmp) / "bench.sqlite3"),
                  # the server's setting: a commit does not wait for its log's fsync (SQLite WAL+NORMAL's promise)
                  "PostgreSQL": PostgresStorage(pg.create_database("bench")),
                  # every commit waits for the fsync, asked for in the URL
                  "PG commit waits": PostgresStorage(pg.create_database("bench_wait") + "?options=-c%20synchronous_commit%3Don")}
        results = {name: {call: _time(fn) for call, fn in _calls(storage).items()} for name, storage in stores.items()}
        floor = _time(lambda i: stores["PostgreSQL"].execute("SELECT 1"))
        for storage in stores.values():
            storage.close()
    print(f"{ROUNDS} calls each, microseconds per call, p50 (p99); PostgreSQL on 127.0.0.1; ratio = p50 / SQLite's p50")
    print(f"{'call':<31}" + "".join(f"{name:>22}" for name in stores))
    for call in results["SQLite"]:
        base = statistics.median(results["SQLite"][call])
        cells = []
        for name in stores:
            v = results[name][call]
            ratio = "" if name == "SQLite" else f" {statistics.median(v) / base:5.1f}x"
            cells.append(f"{statistics.median(v):7.0f} ({_pct(v, 0.99):5.0f}){ratio}")
        print(f"{call:<31}" + "".join(f"{c:>22}" for c in cells))
    print(f"{'round trip (SELECT 1)':<31}{'':>22}{statistics.median(floor):7.0f} ({_pct(floor, 0.99):5.0f})".rstrip())


if __name__ == "__main__":
    main()
