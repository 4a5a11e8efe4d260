"""deploy/nginx/mikrodojo.conf, run by a real nginx in front of three real `dojo server` processes.

nginx runs in the foreground with its own prefix, temp folders and a free port; the shipped file is used
as it is, with only the upstream ports and the listen port replaced. Through nginx: a kid joins and
drives a simulated car over socket.io, a Scratch-Link WebSocket discovers the car, the teacher logs in,
reads the classes and opens the /teacher socket. Then the process that serves them gets SIGTERM: it
drains, nginx sends the kid's and the car's new connections to another process, and the kid drives again.

The three processes share one data folder (one SQLite database, one kid-token key) so a kid and a car can
move between them; cross-process rooms and skill requests (a kid on one process, their car on another)
are the Redis layer's job, not this test's: here every client comes from 127.0.0.1, so ip_hash puts the
kid and their car on the same process, before and after the drain.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import requests
import socketio
import websocket

from demo_harness import wait_until
from ops_processes import REPO_ROOT, ServerFleet, base_config, free_port, stop

pytestmark = pytest.mark.timeout(180)

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CONFIG = REPO_ROOT / "deploy" / "nginx" / "mikrodojo.conf"
HTTP_TIMEOUT_S = 5.0
PROCESSES = 3

if NGINX is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("nginx is missing: the nginx layout test needs Debian's nginx "
                           "(`apt-get install -y nginx`; .ci/run and `make nginx` install it)")
    pytest.skip("nginx is not installed (apt-get install -y nginx); CI installs it", allow_module_level=True)


def render(ports: list[int], listen_port: int) -> str:
    """The shipped file with this test's ports: nothing else changes."""
    text = CONFIG.read_text()
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+ .*;$", text, re.M)
    assert len(servers) == PROCESSES, servers
    for line, port in zip(servers, ports):
        text = text.replace(line, re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", line))
    assert "    listen 80;" in text
    return text.replace("    listen 80;", f"    listen 127.0.0.1:{listen_port};")


class Nginx:
    def __init__(self, root: Path, site: str, port: int) -> None:
        root.mkdir()
        (root / "site.conf").write_text(site)
        temp = "".join(f"    {kind}_temp_path {root / kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                               "uwsgi", "scgi"))
        (root / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {root / 'nginx.pid'};\nerror_log {root / 'error.log'} info;\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\n    access_log {root / 'access.log'};\n{temp}    include {root / 'site.conf'};\n}}\n")
        self.root, self.port = root, port
        self.args = [NGINX, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")]
        self.process: subprocess.Popen | None = None

    def check(self) -> None:
        result = subprocess.run([*self.args, "-t"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_until(lambda: _answers(f"http://127.0.0.1:{self.port}/api/health"), 15, "nginx listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)  # graceful
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    @property
    def log(self) -> str:
        return "".join((self.root / name).read_text() for name in ("error.log", "access.log")
                       if (self.root / name).exists())


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code in (200, 503)
    except requests.RequestException:
        return False


def health(port: int) -> dict:
    return requests.get(f"http://127.0.0.1:{port}/api/health", timeout=HTTP_TIMEOUT_S).json()


@pytest.fixture
def pool(tmp_path):
    ports, listen_port = [free_port() for _ in range(PROCESSES)], free_port()
    nginx = Nginx(tmp_path / "nginx", render(ports, listen_port), listen_port)
    nginx.check()
    data = tmp_path / "data"
    with ServerFleet(tmp_path) as fleet:
        servers = [fleet.server(base_config(data, ops={"drain_timeout_s": 10}), port=port) for port in ports]
        nginx.start()
        try:
            yield fleet, servers, nginx
        finally:
            nginx.stop()


def test_a_kid_scratch_link_and_the_teacher_console_work_through_nginx_and_move_when_a_process_drains(pool):
    fleet, servers, nginx = pool
    front = f"http://127.0.0.1:{nginx.port}"
    car = fleet.car(front, "car-1")  # the car dials nginx, like every client
    wait_until(lambda: sum(health(s.port)["cars_connected"] for s in servers) == 1, 30, "car-1 through nginx")
    home = next(s for s in servers if health(s.port)["cars_connected"])

    # a kid: join over HTTP, drive over socket.io (WebSocket through nginx)
    kid = requests.post(f"{front}/api/join", json={"class_code": "DEMO", "name": "Mia"}, timeout=HTTP_TIMEOUT_S).json()
    assert kid["car_id"] == "car-1"
    sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
    connects: list[bool] = []
    sio.on("connect", lambda: connects.append(True), namespace="/kid")
    sio.connect(front, namespaces=["/kid"], auth={"token": kid["token"]}, transports=["websocket"], wait_timeout=10)
    try:
        reply = sio.call("block", {"block": "move_forward", "args": {"distance": 10}}, namespace="/kid", timeout=30)
        assert reply["status"] == "done", reply
        assert health(home.port)["kids_online"] == 1

        # Scratch: the Scratch-Link WebSocket through nginx (Origin is nginx's own address: same origin)
        ble = websocket.create_connection(f"ws://127.0.0.1:{nginx.port}/scratch/ble?token={kid['token']}",
                                          origin=front, timeout=10)
        try:
            ble.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "discover",
                                 "params": {"filters": [{"services": ["mikrodojo"]}]}}))
            seen = [json.loads(ble.recv()) for _ in range(2)]
            assert {"jsonrpc": "2.0", "id": 1, "result": None} in seen, seen
            found = [m for m in seen if m.get("method") == "didDiscoverPeripheral"]
            assert found and found[0]["params"]["peripheralId"] == "car-1", seen
        finally:
            ble.close()

        # the teacher console: the page, the login, the API and the /teacher socket, all through nginx
        teacher = requests.Session()
        assert teacher.get(f"{front}/teacher/", timeout=HTTP_TIMEOUT_S).status_code == 200
        login = teacher.post(f"{front}/api/teacher/login", json={"password": "teach-1234"}, timeout=HTTP_TIMEOUT_S)
        assert login.status_code == 200, login.text
        classes = teacher.get(f"{front}/api/teacher/classes", timeout=HTTP_TIMEOUT_S).json()["classes"]
        assert [c["code"] for c in classes] == ["DEMO"]
        console = socketio.Client(reconnection=False)
        telemetry = threading.Event()
        console.on("telemetry", lambda *a: telemetry.set(), namespace="/teacher")
        cookie = "; ".join(f"{c.name}={c.value}" for c in teacher.cookies)
        console.connect(front, namespaces=["/teacher"], headers={"Cookie": cookie}, transports=["websocket"],
                        wait_timeout=10)
        try:
            assert telemetry.wait(10), "the console sees car-1's telemetry through nginx"
        finally:
            console.disconnect()
        assert requests.get(f"{front}/metrics", timeout=HTTP_TIMEOUT_S).status_code == 404  # per process only

        # the process that serves them drains: nginx sends the kid's and the car's new connections elsewhere
        home.process.send_signal(signal.SIGTERM)
        home.process.wait(20)
        assert home.process.returncode == 0, home.output[-3000:]
        others = [s for s in servers if s is not home]
        wait_until(lambda: sum(health(s.port)["cars_connected"] for s in others) == 1, 30, "car-1 on another process")
        wait_until(lambda: len(connects) == 2 and sio.connected, 30, "the kid reconnected through nginx")
        new_home = next(s for s in others if health(s.port)["cars_connected"])
        assert health(new_home.port)["kids_online"] == 1, "the kid landed where their car is"
        again = sio.call("block", {"block": "move_forward", "args": {"distance": 10}}, namespace="/kid", timeout=30)
        assert again["status"] == "done", again
    finally:
        sio.reconnection = False
        sio.disconnect()
        stop(car)
    assert " 101 " in nginx.log, "WebSocket upgrades went through nginx"
