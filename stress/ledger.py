"""What the soak's kids sent and what came back: every request, its one final answer, and when.

A request is anything that expects an answer: a block call or a run start on `/kid` (socket.io ack), a
block write on `/scratch/ble` (its `result` notification, matched by ref), a block of the SDK (the SDK's
own return or exception). Its answer is one of:

    server      the classroom answered (done, refused, failed, cancelled, timed_out)
    link_lost   the connection dropped before the answer (the server was killed, or the kid left): the
                client's own final answer, at once, as the SDK and the editors give it
    client_timeout  the SDK's own wait ran out first (5 s for run_start, 180 s for a block): the kid heard
                "the classroom did not answer in time" — shown apart: the server was too slow, not silent
    none        nothing within ANSWER_TIMEOUT_S: LOST. The soak's promise is that this never happens.

A second answer to the same request is counted as a duplicate (the promise is exactly one).

The summary names up to LOST_SHOWN lost requests (key, front end, kind, when sent and the fault windows
around it), so a failed soak says what was lost, not only how many.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

ANSWER_TIMEOUT_S = 200.0  # the SDK's 180 s block wait plus margin: longer than any skill limit + queue
LOST_SHOWN = 10  # lost requests named in the summary (the count is always complete)
FAULT_NEAR_S = 30.0  # a lost request is shown with the faults active when it was sent or starting this soon after

# (start, end, name): a fault window in seconds from the run's start (a coach mode lasts until the next one)
FaultWindow = tuple[float, float, str]


@dataclass
class Entry:
    key: str
    front_end: str  # blockly | scratch | sdk | flood | probe
    kind: str  # block | run_start | reporter
    t_sent: float
    t_answer: float | None = None
    answered_by: str | None = None  # server | link_lost
    status: str | None = None
    answers: int = 0


@dataclass
class Ledger:
    entries: dict[str, Entry] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _n: int = 0

    def sent(self, front_end: str, kind: str, key: str | None = None) -> str:
        with self.lock:
            self._n += 1
            key = key or f"{front_end}-{self._n}"
            self.entries[key] = Entry(key, front_end, kind, time.monotonic())
            return key

    def answered(self, key: str, by: str, status: str) -> None:
        with self.lock:
            e = self.entries.get(key)
            if e is None:
                self.duplicates.append(f"{key}: answer to a request never sent")
                return
            e.answers += 1
            if e.answers > 1:
                if by == "server" and e.answered_by == "server":
                    self.duplicates.append(f"{key}: second answer {status} after {e.status}")
                return  # a late server answer after the client's own link_lost one is not a second final answer
            e.t_answer, e.answered_by, e.status = time.monotonic(), by, status

    def link_lost(self, keys: list[str]) -> None:
        for key in keys:
            self.answered(key, "link_lost", "link_lost")

    def summary(self, now: float | None = None, t0: float = 0.0, faults: list[FaultWindow] = ()) -> dict:
        """Counts, and `lost_shown`: LOST_SHOWN lost (or still waiting) requests, each with the time it was sent (s
        after `t0`, the run's start) and the fault windows (seconds after `t0`) active then or starting
        within FAULT_NEAR_S after."""
        now = now or time.monotonic()
        with self.lock:
            items = list(self.entries.values())
        out = {"sent": len(items), "by_server": 0, "link_lost": 0, "client_timeout": 0, "pending": 0, "lost": 0,
               "duplicates": len(self.duplicates), "statuses": Counter(), "by_front_end": Counter(), "lost_shown": []}
        for e in items:
            out["by_front_end"][e.front_end] += 1
            if e.answered_by == "server":
                out["by_server"] += 1
                out["statuses"][e.status] += 1
            elif e.answered_by in ("link_lost", "client_timeout"):
                out[e.answered_by] += 1
            else:
                state = "lost" if now - e.t_sent > ANSWER_TIMEOUT_S else "pending"
                out[state] += 1
                if len(out["lost_shown"]) < LOST_SHOWN:
                    sent = e.t_sent - t0
                    near = [f"{name} {a:.0f}-{b:.0f} s" for a, b, name in faults
                            if a <= sent + FAULT_NEAR_S and b >= sent]
                    out["lost_shown"].append({"key": e.key, "state": state, "front_end": e.front_end, "kind": e.kind,
                                              "sent_s": round(sent, 1), "faults": near})
        out["lost_shown"].sort(key=lambda item: item["sent_s"])
        return out

    def latencies(self, kind: str | None = None, front_end: str | None = None) -> list[tuple[float, float]]:
        """(time sent, ms) of every request the server answered."""
        with self.lock:
            return [(e.t_sent, (e.t_answer - e.t_sent) * 1000) for e in self.entries.values()
                    if e.answered_by == "server" and e.t_answer is not None
                    and (kind is None or e.kind == kind) and (front_end is None or e.front_end == front_end)]
