"""GET /metrics and the JSON logs of a real `dojo server` process, driven by a real car and kid.

Promises: the counters follow what happened (a move done, three locked blocks refused — every one
counted, not the refusal digest's one-per-second —, an e-stop that reached one car, the kid and the car
online); no kid's name or id is in the scrape; only this machine (not through a proxy) or the metrics
token may read it; with `--log-format json` every stderr line is one JSON object, HTTP lines carry the
request's id (nginx's X-Request-ID when given) and a block's line its skill request id.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
import socketio

from demo_harness import wait_until
from ops_processes import ServerFleet, base_config

pytestmark = pytest.mark.timeout(120)

TOKEN = "metrics-token-0123456789"
HTTP_TIMEOUT_S = 5.0


def scrape(base: str, **headers: str) -> requests.Response:
    return requests.get(f"{base}/metrics", headers=headers, timeout=HTTP_TIMEOUT_S)


def sample(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in the scrape:\n{text}"
    return float(m.group(1))


def test_metrics_count_what_happened_never_name_a_kid_and_json_logs_carry_ids(tmp_path):
    with ServerFleet(tmp_path) as fleet:
        server = fleet.server(base_config(tmp_path / "data", ops={"metrics_token": TOKEN}),
                              extra_args=("--log-format", "json"))
        base = server.base_url
        fleet.car(base, "car-1")
        wait_until(lambda: requests.get(f"{base}/api/health", timeout=5).json()["cars_connected"], 30, "car-1")
        kid = requests.post(f"{base}/api/join", json={"class_code": "DEMO", "name": "Zephyrine"}, timeout=5).json()
        sio = socketio.Client(reconnection=False)
        sio.connect(base, namespaces=["/kid"], auth={"token": kid["token"]}, transports=["websocket"], wait_timeout=10)
        try:
            done = sio.call("block", {"block": "move_forward", "args": {"distance": 10}}, namespace="/kid", timeout=30)
            assert done["status"] == "done", done
            for _ in range(3):
                locked = sio.call("block", {"block": "drive_for", "args": {"speed": 30, "seconds": 1}},
                                  namespace="/kid", timeout=10)
                assert locked["rule"] == "block_locked", locked
            teacher = requests.Session()
            login = teacher.post(f"{base}/api/teacher/login", json={"password": "teach-1234"}, timeout=5)
            teacher.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            assert teacher.post(f"{base}/api/teacher/estop", json={}, timeout=5).json()["cars"] == ["car-1"]

            text = scrape(base).text
            assert sample(text, "dojo_kids_online") == 1
            assert sample(text, "dojo_cars_online") == 1
            assert sample(text, 'dojo_block_answers_total{status="done"}') == 1
            assert sample(text, 'dojo_block_answers_total{status="refused"}') == 3
            assert sample(text, 'dojo_block_refusals_total{rule="block_locked"}') == 3
            assert sample(text, 'dojo_block_seconds_count{status="done"}') == 1
            assert sample(text, 'dojo_block_seconds_bucket{status="done",le="0.1"}') == 0  # a 10 cm move takes longer
            assert sample(text, 'dojo_block_seconds_bucket{status="refused",le="0.1"}') == 3
            assert sample(text, "dojo_estops_total") == 1
            assert sample(text, "dojo_estop_cars_total") == 1
            assert sample(text, "dojo_coach_calls_total") == 0
            assert sample(text, "dojo_draining") == 0
            assert "Zephyrine" not in text and kid["kid_id"] not in text

            # who may read it: this machine directly, or the token; a proxied request is not "this machine"
            assert scrape(base).status_code == 200
            refused = scrape(base, **{"X-Forwarded-For": "10.1.2.3"})
            assert refused.status_code == 403 and refused.json()["error"]["rule"] == "metrics_access"
            assert scrape(base, **{"X-Real-IP": "10.1.2.3"}).status_code == 403
            assert scrape(base, **{"X-Forwarded-For": "10.1.2.3", "Authorization": "Bearer wrong-token-000000"}
                          ).status_code == 403
            assert scrape(base, **{"X-Forwarded-For": "10.1.2.3", "Authorization": f"Bearer {TOKEN}"}).status_code == 200

            requests.get(f"{base}/api/arena?car=car-1&token=secret-in-the-query", timeout=5)  # an embed URL's shape
            health = requests.get(f"{base}/api/health", headers={"X-Request-ID": "nginx-abc123"}, timeout=5)
            assert health.headers["X-Request-ID"] == "nginx-abc123"
        finally:
            sio.disconnect()

        lines = wait_until(lambda: _log_lines(server.output, "nginx-abc123"), 5, "the health request's log line")
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
        assert any(r.get("http_request_id") == "nginx-abc123" and r["logger"] == "aiohttp.access" for r in records)
        assert any(r.get("http_request_id") and r["msg"].startswith("POST /api/teacher/estop") for r in records)
        block = [r for r in records if r.get("request_id") and r["msg"].endswith("done")]
        assert block and block[0]["car_id"] == "car-1", records
        assert not any("Zephyrine" in json.dumps(r) for r in records)
        assert any(r["msg"].startswith("GET /api/arena ") for r in records)
        assert "secret-in-the-query" not in server.output, "access lines leave the query string out"


def _log_lines(output: str, needle: str) -> list[str] | None:
    """The JSON lines of the process output (stdout's human banner lines are not logs), once needle is in."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return lines if any(needle in line for line in lines) else None
