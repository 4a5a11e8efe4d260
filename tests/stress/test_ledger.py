"""The soak's ledger names what was lost: key, front end, kind, when it was sent and the faults around it."""

from __future__ import annotations

from stress.ledger import ANSWER_TIMEOUT_S, LOST_SHOWN, Ledger


def test_the_summary_names_lost_and_waiting_requests_with_the_faults_around_them() -> None:
    ledger = Ledger()
    t0 = 1000.0
    answered = ledger.sent("blockly", "block")
    ledger.answered(answered, "server", "done")
    dropped = ledger.sent("scratch", "block")
    ledger.link_lost([dropped])
    lost = ledger.sent("sdk", "run_start", key="sdk-lost")
    ledger.entries[lost].t_sent = t0 + 100.0
    waiting = ledger.sent("scratch", "block", key="scratch-waiting")
    ledger.entries[waiting].t_sent = t0 + 390.0
    for i in range(LOST_SHOWN + 5):  # more lost than shown: the count stays complete
        key = ledger.sent("blockly", "block", key=f"old-{i}")
        ledger.entries[key].t_sent = t0 + 10.0 + i
    for key in (answered, dropped):
        ledger.entries[key].t_sent = t0 + 5.0
    faults = [(95.0, 96.0, "stall_1s"), (120.0, 125.0, "stall_5s"), (300.0, 400.0, "coach_hang"), (396.0, 420.0, "server_kill")]

    s = ledger.summary(now=t0 + 400.0, t0=t0, faults=faults)

    assert (s["by_server"], s["link_lost"], s["lost"], s["pending"]) == (1, 1, LOST_SHOWN + 6, 1)
    assert len(s["lost_shown"]) == LOST_SHOWN
    assert [item["sent_s"] for item in s["lost_shown"]] == sorted(item["sent_s"] for item in s["lost_shown"])
    assert ANSWER_TIMEOUT_S < 400.0 - 100.0  # sdk-lost is lost, scratch-waiting still within its wait
    ledger.entries = {k: e for k, e in ledger.entries.items() if not k.startswith("old-")}
    s = ledger.summary(now=t0 + 400.0, t0=t0, faults=faults)
    assert s["lost_shown"] == [
        {"key": "sdk-lost", "state": "lost", "front_end": "sdk", "kind": "run_start", "sent_s": 100.0,
         "faults": ["stall_5s 120-125 s"]},  # the stall that ended before it was sent is not named
        {"key": "scratch-waiting", "state": "pending", "front_end": "scratch", "kind": "block", "sent_s": 390.0,
         "faults": ["coach_hang 300-400 s", "server_kill 396-420 s"]},
    ]
