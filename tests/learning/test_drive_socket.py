"""Driving by hand through a real classroom: `dojo demo` (server + a simulated car process) and a real
socket.io client on /drive, as the drive page uses it.

A level-1 kid drives the park trick: the car is placed at the garage's start, the stick moves it, the
car never goes faster than level 1's 30 % (oracle: 30 % of the car's 300 cm/s top speed, and the applied
throttle in the recorded episode), it holds still when the stick stops coming, and the drive is kept as
an episode under the server's data directory with the request and the applied command apart.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio

from demo_harness import CONNECT_TIMEOUT_S, HTTP_TIMEOUT_S, join_kid_http, start_demo, wait_until
from learning.drives import DriveLog

LEVEL1_MAX = 0.30  # curriculum/levels.py level 1: 30 % of top speed
TOP_SPEED_CM_S = 300.0  # robot_runtime.hardware.CarSpec default (the simulated car)
SPEED_MARGIN_CM_S = 6.0  # telemetry noise of the simulated car


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with start_demo(tmp_path_factory.mktemp("drive"), cars=1) as d:
        yield d


def drive_socket(demo, token: str, states: list, ended: list) -> socketio.Client:
    sio = socketio.Client(reconnection=False)
    sio.on("drive_state", lambda s: states.append(s), namespace="/drive")
    sio.on("drive_ended", lambda s: ended.append(s), namespace="/drive")
    sio.connect(demo.base_url, namespaces=["/drive"], auth={"token": token}, transports=["websocket"],
                wait_timeout=CONNECT_TIMEOUT_S)
    return sio


def hold_stick(sio: socketio.Client, throttle: float, steering: float, seconds: float) -> None:
    end = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < end:
        sio.emit("steer", {"throttle": throttle, "steering": steering, "seq": seq}, namespace="/drive")
        seq += 1
        time.sleep(0.05)


def test_a_level_1_drive_obeys_the_level_holds_still_without_the_stick_and_is_recorded(demo):
    kid = join_kid_http(demo, "Ava")
    assert kid["level"] == 1
    states, ended = [], []
    sio = drive_socket(demo, kid["token"], states, ended)
    try:
        reply = sio.call("start", {"trick": "park"}, namespace="/drive", timeout=10)
        assert reply["ok"], reply
        drive = reply["drive"]
        assert drive["trick"] == "park" and drive["level"] == 1 and drive["max_speed_pct"] == 30
        start = drive["start"]
        wait_until(lambda: states, 10, "the first drive_state")
        first = states[0]
        assert abs(first["x"] - start["x_cm"]) < 3 and abs(first["y"] - start["y_cm"]) < 3  # placed at the start

        sio.emit("steer", {"throttle": "fast", "steering": float("nan")}, namespace="/drive")  # dropped, link stays
        hold_stick(sio, 1.0, 0.0, 1.5)  # full stick forward
        moving = [s for s in states if s["throttle"] > 0]
        assert moving and max(s["throttle"] for s in states) <= LEVEL1_MAX + 1e-6
        assert max(s["speed_cm_s"] for s in states) <= LEVEL1_MAX * TOP_SPEED_CM_S + SPEED_MARGIN_CM_S
        assert states[-1]["x"] > start["x_cm"] + 10  # it went forward

        let_go = len(states)
        wait_until(lambda: any(s["throttle"] == 0.0 for s in states[let_go:]), 2.0,
                   "the car to hold still once the stick stopped coming")

        summary = sio.call("end", namespace="/drive", timeout=10)
        assert summary["ok"] and summary["summary"]["outcome"] == "stopped" and summary["summary"]["number"] == 1
        assert summary["summary"]["frames"] >= 20
        wait_until(lambda: ended, 5, "drive_ended")
    finally:
        sio.disconnect()

    episodes = DriveLog(demo.data_dir / "server" / "learning").episodes(kid["kid_id"], "park")
    assert len(episodes) == 1
    ep = episodes[0]
    assert ep.source == "kid:Ava" and ep.outcome == "stopped" and ep.fps == 20
    assert len(ep.observations) == len(ep.actions) == len(ep.requests) == len(ep.narration)
    assert max(a[0] for a in ep.actions) <= LEVEL1_MAX + 1e-6  # what the supervisor applied
    assert max(r[0] for r in ep.requests) == pytest.approx(LEVEL1_MAX)  # the full stick, at the level's speed
    assert any(a[0] > 0.1 for a in ep.actions)


def test_closing_the_page_stops_the_car(demo):
    kid = join_kid_http(demo, "Zoe")
    states, ended = [], []
    sio = drive_socket(demo, kid["token"], states, ended)
    assert sio.call("start", {"trick": "park"}, namespace="/drive", timeout=10)["ok"]
    pump = threading.Thread(target=hold_stick, args=(sio, 1.0, 0.0, 1.0))
    pump.start()
    pump.join()
    sio.disconnect()
    watcher = socketio.Client(reconnection=False)
    tele = []
    watcher.on("telemetry", lambda t: tele.append(t), namespace="/kid")
    watcher.connect(demo.base_url, namespaces=["/kid"], auth={"token": kid["token"]}, transports=["websocket"],
                    wait_timeout=CONNECT_TIMEOUT_S)
    try:
        wait_until(lambda: tele and all(abs(t.get("speed_cm_s", 1)) < 1.0 for t in tele[-5:]) and len(tele) >= 5, 10,
                   "the car to stand still after the page closed")
    finally:
        watcher.disconnect()
    episodes = DriveLog(demo.data_dir / "server" / "learning").episodes(kid["kid_id"], "park")
    assert [e.outcome for e in episodes] == ["page_closed"]


def test_an_unknown_trick_is_refused_with_a_sentence(demo):
    kid = join_kid_http(demo, "Finn")
    sio = drive_socket(demo, kid["token"], [], [])
    try:
        reply = sio.call("start", {"trick": "backflip"}, namespace="/drive", timeout=10)
        assert reply["ok"] is False and reply["error"]["rule"] == "unknown_trick"
        assert reply["kid_text"] == "Pick one of the tricks on the page."
    finally:
        sio.disconnect()




def test_teaching_without_good_drives_says_to_drive_more(demo):
    kid = join_kid_http(demo, "Noah")
    auth = {"Authorization": f"Bearer {kid['token']}"}
    bad = requests.post(demo.url("/api/skills/teach"), json={"trick": "backflip"}, headers=auth, timeout=HTTP_TIMEOUT_S)
    assert bad.status_code == 400 and bad.json()["error"]["rule"] == "unknown_trick"
    resp = requests.post(demo.url("/api/skills/teach"), json={"trick": "park"}, headers=auth, timeout=HTTP_TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    job = resp.json()["job"]
    assert job["name"] == "noah_park"
    done = wait_until(lambda: (j := requests.get(demo.url(f"/api/skills/jobs/{job['id']}"), headers=auth,
                                                 timeout=HTTP_TIMEOUT_S).json()["job"])["done"] and j, 120, "the job to end")  # it loads torch first
    assert done["phase"] == "failed" and "good drives" in done["kid_text"] and "has 0 good park drive" in done["error"]
    other = join_kid_http(demo, "Ella")
    theirs = requests.get(demo.url(f"/api/skills/jobs/{job['id']}"), headers={"Authorization": f"Bearer {other['token']}"},
                          timeout=HTTP_TIMEOUT_S)
    assert theirs.status_code == 404  # a kid sees only their own jobs
